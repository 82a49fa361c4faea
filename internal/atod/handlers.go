package atod

import (
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/text"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// EvaluateResponse is the answer to an evaluate call: the hosted API's
// fields first, then ato's, which a client written for the hosted API
// ignores.
type EvaluateResponse struct {
	Verdict       string   `json:"verdict"`
	FingerprintID string   `json:"fingerprint_id"`
	Reasons       []string `json:"reasons"`
	ChallengeID   string   `json:"challenge_id,omitempty"`

	EvaluationID string    `json:"evaluation_id"`
	Confidence   float64   `json:"confidence"`
	Score        float64   `json:"score"`
	Rule         string    `json:"rule"`
	Explanation  string    `json:"explanation"`
	Restrictions []string  `json:"restrictions"`
	DeviceToken  string    `json:"device_token,omitempty"`
	Warnings     []warning `json:"warnings,omitempty"`
}

// maxIDLen bounds the challenge and device ids of paths (ids are UUIDs).
const maxIDLen = 64

// pathUser returns the {user} of the path, which must be text an account
// id can be (the store would refuse a NUL or invalid UTF-8 as its own
// failure), and names it in the request's log line, as pathDevice and
// pathChallenge do theirs.
func pathUser(r *http.Request, log *logAttrs) (string, error) {
	u := r.PathValue("user")
	if problem := text.Check(u, ato.MaxUserLen); problem != "" {
		return "", badRequest("user", "user: "+problem)
	}
	log.add(slog.String("user", u))
	return u, nil
}

// pathDevice returns the {device_id} of the path.
func pathDevice(r *http.Request, log *logAttrs) (string, error) {
	d := r.PathValue("device_id")
	if problem := text.Check(d, maxIDLen); problem != "" {
		return "", &apiError{Status: http.StatusNotFound, Code: CodeDeviceNotFound, Field: "device_id", Message: "the device is not one of the user's"}
	}
	log.add(slog.String("fingerprint_id", d))
	return d, nil
}

// pathChallenge returns the {id} of the path.
func pathChallenge(r *http.Request, log *logAttrs) (string, error) {
	id := r.PathValue("id")
	if problem := text.Check(id, maxIDLen); problem != "" {
		return "", &apiError{Status: http.StatusNotFound, Code: CodeChallengeNotFound, Message: "no challenge has this id"}
	}
	log.add(slog.String("challenge_id", id))
	return id, nil
}

func reasonStrings(rs []signals.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func (s *Server) evaluate(r *http.Request, log *logAttrs) (any, error) {
	b, err := readBody(r, s.maxBody)
	if err != nil {
		return nil, err
	}
	a, err := decodeAttempt(b)
	if err != nil {
		return nil, err
	}
	res, err := s.engine.Evaluate(r.Context(), a.req)
	if err != nil {
		return nil, err
	}
	s.metrics.verdicts.WithLabelValues(string(res.Verdict), res.Rule).Inc()
	for _, reason := range res.Reasons {
		s.metrics.reasons.WithLabelValues(string(reason)).Inc()
	}
	log.add(slog.String("user", a.req.User), slog.String("verdict", string(res.Verdict)), slog.String("rule", res.Rule),
		slog.String("fingerprint_id", res.FingerprintID))
	if res.ChallengeID != "" {
		log.add(slog.String("challenge_id", res.ChallengeID))
	}
	for _, w := range a.warnings {
		log.add(slog.String("dropped", w.Field))
	}
	restrictions := res.Restrictions
	if restrictions == nil {
		restrictions = []string{}
	}
	return EvaluateResponse{
		Verdict: string(res.Verdict), FingerprintID: res.FingerprintID, Reasons: reasonStrings(res.Reasons),
		ChallengeID: res.ChallengeID, EvaluationID: res.EvaluationID, Confidence: res.Confidence,
		Score: math.Round(res.Score*1e6) / 1e6, Rule: res.Rule, Explanation: res.Explain(), Restrictions: restrictions,
		DeviceToken: res.DeviceToken, Warnings: a.warnings,
	}, nil
}

// ChallengeResponse describes a challenge as the hosted API's newer
// revision does (id, user with masked destinations, status, reasons,
// channels, createdAt), then ato's fields. SMS is "text" here, as in the
// hosted API's challenge object; the send call takes either name.
type ChallengeResponse struct {
	ID        string        `json:"id"`
	User      ChallengeUser `json:"user"`
	Status    string        `json:"status"`
	Reasons   []string      `json:"reasons"`
	Channels  []string      `json:"channels"`
	CreatedAt time.Time     `json:"createdAt"`

	FingerprintID    string     `json:"fingerprint_id,omitempty"`
	Channel          string     `json:"channel,omitempty"`
	Sends            int        `json:"sends"`
	Attempts         int        `json:"attempts"`
	AttemptsLeft     int        `json:"attempts_left"`
	ExpiresAt        time.Time  `json:"expires_at"`
	CodeExpiresAt    *time.Time `json:"code_expires_at,omitempty"`
	CodesLockedUntil *time.Time `json:"codes_locked_until,omitempty"`
}

// ChallengeUser is the challenged user, with masked destinations.
type ChallengeUser struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// apiStatus is a challenge's status in the hosted API's words: a challenge
// whose code was sent is "delivered".
func apiStatus(st storage.ChallengeStatus) string {
	if st == storage.ChallengeSent {
		return "delivered"
	}
	return string(st)
}

// apiChannel is a channel in the hosted API's challenge object: SMS is
// "text".
func apiChannel(c challenge.Channel) string {
	if c == challenge.SMS {
		return "text"
	}
	return string(c)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func challengeResponse(info ato.ChallengeInfo) ChallengeResponse {
	channels := make([]string, len(info.Channels))
	for i, c := range info.Channels {
		channels[i] = apiChannel(c)
	}
	return ChallengeResponse{
		ID: info.ID, User: ChallengeUser{ID: info.User, Email: info.Email, Phone: info.Phone},
		Status: apiStatus(info.Status), Reasons: reasonStrings(info.Reasons), Channels: channels,
		CreatedAt: info.CreatedAt.UTC(), FingerprintID: info.DeviceID, Channel: apiChannel(info.Channel),
		Sends: info.Sends, Attempts: info.Attempts, AttemptsLeft: info.AttemptsLeft,
		ExpiresAt: info.ExpiresAt.UTC(), CodeExpiresAt: optTime(info.CodeExpiresAt),
		CodesLockedUntil: optTime(info.CodesLockedUntil),
	}
}

func (s *Server) getChallenge(r *http.Request, log *logAttrs) (any, error) {
	id, err := pathChallenge(r, log)
	if err != nil {
		return nil, err
	}
	info, err := s.engine.Challenge(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return challengeResponse(info), nil
}

// SendResponse answers a send call: success as the hosted API, the
// challenge id as its Node SDK reads it, then where the code went.
type SendResponse struct {
	Success       bool       `json:"success"`
	ChallengeID   string     `json:"challenge_id"`
	Channel       string     `json:"channel"`
	To            string     `json:"to,omitempty"`
	CodeExpiresAt *time.Time `json:"code_expires_at,omitempty"`
}

// sendCode sends a code on the channel the body names, or, as the hosted
// API's guide sends no body, on the first the challenge offers: email,
// then SMS.
func (s *Server) sendCode(r *http.Request, log *logAttrs) (any, error) {
	id, err := pathChallenge(r, log)
	if err != nil {
		return nil, err
	}
	b, err := readBody(r, s.maxBody)
	if err != nil {
		return nil, err
	}
	ch, err := decodeChannel(b)
	if err != nil {
		return nil, err
	}
	if ch == "" {
		info, err := s.engine.Challenge(r.Context(), id)
		if err != nil {
			return nil, err
		}
		for _, c := range []challenge.Channel{challenge.Email, challenge.SMS, challenge.TOTP} {
			if ch == "" && hasChannel(info.Channels, c) {
				ch = c
			}
		}
		if ch == "" {
			return nil, &apiError{Status: http.StatusBadRequest, Code: CodeNoDestination, Field: "channel",
				Message: "the evaluation that made this challenge gave no email or phone, and the user has no authenticator"}
		}
	}
	log.add(slog.String("channel", string(ch)))
	if err := s.engine.SendChallengeCode(r.Context(), id, ch); err != nil {
		return nil, err
	}
	resp := SendResponse{Success: true, ChallengeID: id, Channel: string(ch)}
	if info, err := s.engine.Challenge(r.Context(), id); err == nil {
		resp.CodeExpiresAt = optTime(info.CodeExpiresAt)
		switch ch {
		case challenge.Email:
			resp.To = info.Email
		case challenge.SMS:
			resp.To = info.Phone
		}
	}
	return resp, nil
}

func hasChannel(cs []challenge.Channel, c challenge.Channel) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// SuccessResponse is the hosted API's answer to verify and complete, and
// atod's to the calls that only do something.
type SuccessResponse struct {
	Success bool `json:"success"`
}

func (s *Server) verifyCode(r *http.Request, log *logAttrs) (any, error) {
	id, err := pathChallenge(r, log)
	if err != nil {
		return nil, err
	}
	b, err := readBody(r, s.maxBody)
	if err != nil {
		return nil, err
	}
	code, err := b.str("code")
	if err != nil {
		return nil, err
	}
	right, err := s.engine.VerifyChallengeCode(r.Context(), id, code)
	switch {
	case err != nil:
		s.metrics.verified.WithLabelValues("error").Inc()
		return nil, err
	case right:
		s.metrics.verified.WithLabelValues("right").Inc()
	default:
		s.metrics.verified.WithLabelValues("wrong").Inc()
	}
	log.add(slog.Bool("success", right))
	return SuccessResponse{Success: right}, nil
}

// CompleteResponse answers a complete call: success as the hosted API,
// then the user, the device the challenge trusted and a device token for
// it, for the application's cookie.
type CompleteResponse struct {
	Success       bool   `json:"success"`
	User          string `json:"user,omitempty"`
	FingerprintID string `json:"fingerprint_id,omitempty"`
	DeviceToken   string `json:"device_token,omitempty"`
}

func (s *Server) complete(r *http.Request, log *logAttrs) (any, error) {
	id, err := pathChallenge(r, log)
	if err != nil {
		return nil, err
	}
	if _, err := readBody(r, s.maxBody); err != nil {
		return nil, err
	}
	if err := s.engine.CompleteChallenge(r.Context(), id); err != nil {
		return nil, err
	}
	resp := CompleteResponse{Success: true}
	// Completed is completed: a failure to describe it leaves out the
	// token, not the success.
	if info, err := s.engine.Challenge(r.Context(), id); err == nil {
		resp.User, resp.FingerprintID = info.User, info.DeviceID
		if info.DeviceID != "" {
			resp.DeviceToken = s.engine.DeviceToken(info.User, info.DeviceID)
		}
	}
	return resp, nil
}

// FailureResponse answers the record of a failed attempt.
type FailureResponse struct {
	Success  bool      `json:"success"`
	Warnings []warning `json:"warnings,omitempty"`
}

// recordFailure records a failed password attempt: the evaluate call's
// fields, and unknown_user when the name typed is not an account (the
// strongest tell of credential stuffing: such failures are counted apart,
// and a campaign of them denies new devices on new networks).
func (s *Server) recordFailure(r *http.Request, log *logAttrs) (any, error) {
	b, err := readBody(r, s.maxBody)
	if err != nil {
		return nil, err
	}
	a, err := decodeAttempt(b)
	if err != nil {
		return nil, err
	}
	log.add(slog.String("user", a.req.User), slog.Bool("unknown_user", a.req.UnknownUser))
	if err := s.engine.RecordFailure(r.Context(), a.req); err != nil {
		return nil, err
	}
	return FailureResponse{Success: true, Warnings: a.warnings}, nil
}

// DevicesResponse lists a user's known devices, most recently seen first.
type DevicesResponse struct {
	User    string   `json:"user"`
	Devices []Device `json:"devices"`
}

// Device is one of a user's known devices.
type Device struct {
	ID              string     `json:"id"`
	FirstSeen       time.Time  `json:"first_seen"`
	LastSeen        time.Time  `json:"last_seen"`
	Trusted         bool       `json:"trusted"`
	Restricted      bool       `json:"restricted"`
	RestrictedUntil *time.Time `json:"restricted_until,omitempty"`
	Restrictions    []string   `json:"restrictions"`
	IP              string     `json:"ip,omitempty"`
	Country         string     `json:"country,omitempty"`
	City            string     `json:"city,omitempty"`
}

func (s *Server) devices(r *http.Request, log *logAttrs) (any, error) {
	user, err := pathUser(r, log)
	if err != nil {
		return nil, err
	}
	ds, err := s.engine.Devices(r.Context(), user)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := DevicesResponse{User: user, Devices: make([]Device, len(ds))}
	for i, d := range ds {
		restricted := d.Restricted(now)
		dev := Device{
			ID: d.ID, FirstSeen: d.FirstSeen.UTC(), LastSeen: d.LastSeen.UTC(), Trusted: d.Trusted,
			Restricted: restricted, Restrictions: []string{}, IP: d.IP, Country: d.Country, City: d.City,
		}
		if restricted {
			dev.RestrictedUntil = optTime(d.RestrictedUntil)
			dev.Restrictions = append(dev.Restrictions, d.Restrictions...)
		}
		out.Devices[i] = dev
	}
	return out, nil
}

func (s *Server) forgetDevice(r *http.Request, log *logAttrs) (any, error) {
	user, err := pathUser(r, log)
	if err != nil {
		return nil, err
	}
	dev, err := pathDevice(r, log)
	if err != nil {
		return nil, err
	}
	if err := s.engine.ForgetDevice(r.Context(), user, dev); err != nil {
		return nil, err
	}
	return SuccessResponse{Success: true}, nil
}

// reportDevice records the user's answer to "was this you?" about a
// device: mine true confirms it, false disowns it (its sessions should
// end; the user's devices are restricted until a challenge completes).
func (s *Server) reportDevice(r *http.Request, log *logAttrs) (any, error) {
	user, err := pathUser(r, log)
	if err != nil {
		return nil, err
	}
	dev, err := pathDevice(r, log)
	if err != nil {
		return nil, err
	}
	b, err := readBody(r, s.maxBody)
	if err != nil {
		return nil, err
	}
	if !b.has("mine") {
		return nil, badRequest("mine", "required: true when the user says the device is theirs, false when not")
	}
	mine, err := b.boolean("mine", false)
	if err != nil {
		return nil, err
	}
	log.add(slog.Bool("mine", mine))
	if err := s.engine.ReportDevice(r.Context(), user, dev, mine); err != nil {
		return nil, err
	}
	return SuccessResponse{Success: true}, nil
}

func (s *Server) deleteUser(r *http.Request, log *logAttrs) (any, error) {
	user, err := pathUser(r, log)
	if err != nil {
		return nil, err
	}
	if err := s.engine.DeleteUser(r.Context(), user); err != nil {
		return nil, err
	}
	return SuccessResponse{Success: true}, nil
}
