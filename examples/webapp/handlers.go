package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/useragent"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/verdict"
)

// demoUser is an account of the demo. Passwords are shown on the login
// page: this is a demo.
type demoUser struct {
	Name, Password, Email, Phone string
}

var demoUsers = []demoUser{
	{"alice", "wonderland", "alice@example.com", "+1 202 555 0101"},
	{"bob", "builder", "bob@example.com", "+1 202 555 0102"},
	{"carol", "christmas", "carol@example.com", "+1 202 555 0103"},
}

// checkPassword returns the user when the password is theirs. Every
// password is compared, as a SHA-256 digest and in constant time, so the
// time taken says nothing about which part was wrong.
// knownUser reports whether the name is one of the demo's users.
func knownUser(name string) bool {
	known := 0
	for _, u := range demoUsers {
		known |= subtle.ConstantTimeCompare([]byte(name), []byte(u.Name))
	}
	return known == 1
}

func checkPassword(name, password string) (demoUser, bool) {
	got := sha256.Sum256([]byte(password))
	var found demoUser
	ok := 0
	for _, u := range demoUsers {
		want := sha256.Sum256([]byte(u.Password))
		match := subtle.ConstantTimeCompare(got[:], want[:]) & subtle.ConstantTimeCompare([]byte(name), []byte(u.Name))
		if match == 1 {
			found = u
		}
		ok |= match
	}
	return found, ok == 1
}

// sampleIP is an address the demo control offers to pretend to come from.
type sampleIP struct{ IP, Label string }

// pretendIPs are a few addresses in different countries (as MaxMind's test
// data places them; a real database may disagree a little). The control
// accepts these and no others: it is there to show the geo signals, not to
// let anyone claim any address.
var pretendIPs = []sampleIP{
	{"81.2.69.142", "United Kingdom"},
	{"2.125.160.216", "United Kingdom, another network"},
	{"216.160.83.56", "United States"},
	{"89.160.20.112", "Sweden"},
	{"175.16.199.0", "China"},
}

// pretendCookie remembers the demo control's choice, to preselect it.
const pretendCookie = "pretend_ip"

// loginView is the login page's part of the view.
type loginView struct {
	Users       []demoUser
	SDK         string // "ato" or "rupt": what the form fingerprints with
	RuptMissing bool   // the Rupt SDK was asked for but is not installed
	RuptVersion string // "rupt/2.24.1" when installed
	PretendIPs  []sampleIP
	Pretend     string
	RealIP      string
	// TrustProxy: the demo runs behind a proxy; the real address comes
	// from X-Forwarded-For.
	TrustProxy bool
	// PretendOff: the "come from" control is off (see config.DevTools).
	PretendOff bool
	User       string
}

func (s *server) loginView(r *http.Request, sdk, user string) *loginView {
	lv := &loginView{Users: demoUsers, SDK: "ato", PretendIPs: pretendIPs, TrustProxy: s.cfg.TrustProxy, PretendOff: !s.cfg.DevTools, User: user}
	if s.rupt != nil {
		lv.RuptVersion = s.rupt.version
	}
	if sdk == "rupt" {
		if s.rupt != nil {
			lv.SDK = "rupt"
		} else {
			lv.RuptMissing = true
		}
	}
	if c, err := r.Cookie(pretendCookie); err == nil && s.cfg.DevTools && isSampleIP(c.Value) {
		lv.Pretend = c.Value
	}
	lv.RealIP, _ = s.clientIP(r, "")
	return lv
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, user, msg string) {
	lv := s.loginView(r, r.FormValue("sdk"), user)
	s.render(w, r, status, "login", &view{Title: "Log in", Login: lv, LoadRupt: lv.SDK == "rupt", Error: msg})
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "", "")
}

// login checks the password and asks the engine about the attempt.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	f := r.PostForm
	name := strings.TrimSpace(f.Get("user"))
	pretend := strings.TrimSpace(f.Get("pretend_ip"))
	ip, err := s.clientIP(r, pretend)
	if err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, name, "Come from: "+err.Error()+".")
		return
	}
	if s.cfg.DevTools {
		if pretend == "real" {
			pretend = ""
		}
		if pretend != "" {
			pretend = ip // as parsed: one of pretendIPs
		}
		http.SetCookie(w, &http.Cookie{
			Name: pretendCookie, Value: pretend, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r),
		})
	}
	req := ato.Request{
		Action:          ato.ActionLogin,
		User:            name,
		Fingerprint:     f.Get("fingerprint"),
		LastFingerprint: f.Get("last_fingerprint"),
		Version:         f.Get("version"),
		IP:              ip,
		UserAgent:       r.UserAgent(),
		DeviceToken:     deviceToken(r),
	}
	u, ok := checkPassword(name, f.Get("password"))
	if !ok {
		// The engine counts failures for brute_force and
		// credential_stuffing, for unknown user names too. It drops
		// invalid optional fields (a bad fingerprint) and still counts the
		// failure, so a failure it refuses is logged: never skipped in
		// silence. An empty name (the form requires one) has no one to
		// count against.
		if name != "" {
			// The demo knows its users: a name that is none is the
			// strongest tell of credential stuffing.
			req.UnknownUser = !knownUser(name)
			if err := s.engine.RecordFailure(ctx, req); err != nil {
				s.log.Error("record failure: the wrong password was not counted", "user", name, "err", err)
			}
		}
		s.renderLogin(w, r, http.StatusUnauthorized, name, "Wrong user name or password.")
		return
	}
	req.Email, req.Phone = u.Email, u.Phone
	res, err := s.engine.Evaluate(ctx, req)
	if errors.Is(err, ato.ErrInvalidRequest) {
		s.renderLogin(w, r, http.StatusBadRequest, name, "The engine refused the request: "+err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.logVerdict(res, req)
	o := s.outcome(res, req)
	switch {
	case res.Verdict.Succeeds(): // allow, restrict
		s.setDeviceToken(w, r, res.DeviceToken)
		s.nameDevice(res.FingerprintID, r)
		s.sessions.start(w, r, session{User: u.Name, LoggedIn: true, Outcome: o})
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
	case res.Verdict.Challenges() && res.ChallengeID != "":
		s.sessions.start(w, r, session{User: u.Name, ChallengeID: res.ChallengeID, Outcome: o})
		http.Redirect(w, r, "/challenge/"+res.ChallengeID, http.StatusSeeOther)
	case res.Verdict.Challenges():
		s.internal(w, r, fmt.Errorf("verdict %s without a challenge id", res.Verdict))
	default: // deny
		s.sessions.end(w, r)
		s.render(w, r, http.StatusForbidden, "deny", &view{Title: "Login refused", Outcome: &o})
	}
}

// logVerdict writes the verdict in one line of the terminal's log: who,
// what, by which rule and why.
func (s *server) logVerdict(res ato.Result, req ato.Request) {
	reasons := make([]string, len(res.Reasons))
	for i, r := range res.Reasons {
		reasons[i] = string(r)
	}
	why := strings.Join(reasons, ",")
	if why == "" {
		why = "none"
	}
	s.log.Info("verdict", "user", req.User, "verdict", string(res.Verdict), "rule", res.Rule, "reasons", why, "ip", req.IP)
}

// nameDevice remembers the browser and system of the request for the
// device, for the devices page.
func (s *server) nameDevice(id string, r *http.Request) {
	if err := s.names.set(id, r.UserAgent()); err != nil {
		s.log.Warn("the browser of the device is not kept", "device", id, "err", err)
	}
}

// outcome is an evaluation as the pages show it.
type outcome struct {
	User         string
	Verdict      verdict.Verdict
	Explain      string
	Rule         string
	Reasons      []string
	Findings     []finding
	DeviceID     string
	Confidence   float64
	Score        float64
	Restrictions []string
	IP, Place    string
	// Fingerprint is the hash the browser sent, and SaveKey the
	// localStorage key it is saved under once the login is let in. A
	// session drops Fingerprint once the page that saves it was shown;
	// FingerprintSummary stays.
	Fingerprint, Version, SaveKey string
	FingerprintSummary            string
	// Completed: the login was let in by completing its challenge.
	Completed bool
}

type finding struct {
	Reason, Detail string
	Score          float64
}

func (s *server) outcome(res ato.Result, req ato.Request) outcome {
	o := outcome{
		User:         req.User,
		Verdict:      res.Verdict,
		Explain:      res.Explain(),
		Rule:         res.Rule,
		DeviceID:     res.FingerprintID,
		Confidence:   res.Confidence,
		Score:        res.Score,
		Restrictions: res.Restrictions,
		IP:           req.IP,
		Place:        s.place(res.Location),
		Fingerprint:  req.Fingerprint,
		Version:      req.Version,
		SaveKey:      "ato_last_fp",
	}
	o.FingerprintSummary = fingerprintSummary(req.Fingerprint, req.Version)
	if strings.HasPrefix(req.Version, "rupt/") {
		o.SaveKey = "rpt_last_fp" // where the Rupt SDK reads its last hash
	}
	for _, r := range res.Reasons {
		o.Reasons = append(o.Reasons, string(r))
	}
	for _, f := range res.Findings {
		o.Findings = append(o.Findings, finding{Reason: string(f.Reason), Detail: f.Detail, Score: f.Score})
	}
	return o
}

// fingerprintSummary describes the hash for the page.
func fingerprintSummary(fp, version string) string {
	switch {
	case fp == "":
		return "none sent"
	case len(fp) > 24:
		return fmt.Sprintf("%s… (%d characters, from %s)", fp[:24], len(fp), version)
	default:
		return fmt.Sprintf("%s (from %s)", fp, version)
	}
}

// channelButton is a way to send a code, as the challenge page offers it.
type channelButton struct {
	Channel   challenge.Channel
	Label, To string
}

// challengeSession returns the session of the browser whose login waits for
// the challenge in the path, or renders why there is none. A browser whose
// session this challenge already logged in (a second click on Verify, the
// back button) is sent on to its devices page.
func (s *server) challengeSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	sess, ok := s.sessions.get(r)
	if ok && sess.LoggedIn && sess.FromChallenge != "" && sess.FromChallenge == r.PathValue("id") {
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
		return session{}, false
	}
	if !ok || sess.ChallengeID == "" || sess.ChallengeID != r.PathValue("id") {
		s.fail(w, r, http.StatusForbidden, "This challenge belongs to another login attempt, or the attempt expired. Log in again.")
		return session{}, false
	}
	return sess, true
}

func (s *server) challengePage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.challengeSession(w, r)
	if !ok {
		return
	}
	notice := ""
	switch r.URL.Query().Get("sent") { // not echoed: only the two channels
	case string(challenge.Email):
		notice = "A code was sent by email: open the outbox to read it."
	case string(challenge.SMS):
		notice = "A code was sent by SMS: open the outbox to read it."
	}
	s.renderChallenge(w, r, http.StatusOK, sess, "", notice)
}

// renderChallenge shows the challenge of the session, with a message.
func (s *server) renderChallenge(w http.ResponseWriter, r *http.Request, status int, sess session, msg, notice string) {
	ctx, cancel := requestContext(r)
	defer cancel()
	info, err := s.engine.Challenge(ctx, sess.ChallengeID)
	if err != nil {
		s.challengeFailed(w, r, err)
		return
	}
	if info.User != sess.User {
		s.fail(w, r, http.StatusForbidden, "This challenge belongs to another user. Log in again.")
		return
	}
	if msg == "" {
		switch info.Status {
		case storage.ChallengeFailed, storage.ChallengeExpired, storage.ChallengeOverridden:
			msg = "This challenge is " + string(info.Status) + ". Log in again."
			status = http.StatusGone
		case storage.ChallengeVerified:
			if notice == "" {
				notice = "The code was verified, but the login was not finished: finish it below."
			}
		}
	}
	v := &view{Title: "Challenge", Challenge: info, Outcome: &sess.Outcome, Error: msg, Notice: notice}
	for _, ch := range info.Channels {
		switch ch {
		case challenge.Email:
			v.Channels = append(v.Channels, channelButton{ch, "email", info.Email})
		case challenge.SMS:
			v.Channels = append(v.Channels, channelButton{ch, "SMS", info.Phone})
		}
	}
	s.render(w, r, status, "challenge", v)
}

// challengeFailed renders an engine error about a challenge as a message
// for the person, or as a server error when it is not about the challenge.
func (s *server) challengeFailed(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := challengeProblem(err)
	if status >= 500 {
		s.internal(w, r, err)
		return
	}
	s.fail(w, r, status, msg)
}

// challengeProblem maps the engine's challenge errors to a status and a
// message; anything else is a 500.
func challengeProblem(err error) (int, string) {
	switch {
	case errors.Is(err, ato.ErrChallengeNotFound):
		return http.StatusNotFound, "There is no such challenge. Log in again."
	case errors.Is(err, ato.ErrChallengeExpired):
		return http.StatusGone, "The code, or the challenge, expired. Send a new code, or log in again."
	case errors.Is(err, ato.ErrChallengeFailed):
		return http.StatusForbidden, "This challenge failed: too many wrong codes, or a newer login replaced it. Log in again."
	case errors.Is(err, ato.ErrChallengeCompleted):
		return http.StatusConflict, "This challenge is already completed."
	case errors.Is(err, ato.ErrChallengeVerified):
		return http.StatusConflict, "The code was already verified: no new code is needed."
	case errors.Is(err, ato.ErrChallengeNotVerified):
		return http.StatusConflict, "Send a code and enter it first."
	case errors.Is(err, ato.ErrRateLimited):
		return http.StatusTooManyRequests, "Too many codes: wait half a minute between sends (a challenge allows three), " +
			"or, after too many wrong codes, until the lock shown on the challenge page ends."
	case errors.Is(err, ato.ErrNoDestination):
		return http.StatusBadRequest, "There is nowhere to send a code on that channel."
	case errors.Is(err, ato.ErrInvalidRequest):
		return http.StatusBadRequest, "The engine refused the request: " + err.Error()
	}
	return http.StatusInternalServerError, ""
}

// sendCode sends a code on the chosen channel.
func (s *server) sendCode(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.challengeSession(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	ch := challenge.Channel(r.PostForm.Get("channel"))
	if ch != challenge.Email && ch != challenge.SMS {
		s.renderChallenge(w, r, http.StatusBadRequest, sess, "Choose email or SMS.", "")
		return
	}
	if err := s.engine.SendChallengeCode(ctx, sess.ChallengeID, ch); err != nil {
		status, msg := challengeProblem(err)
		if status >= 500 {
			s.internal(w, r, err)
			return
		}
		s.renderChallenge(w, r, status, sess, msg, "")
		return
	}
	http.Redirect(w, r, "/challenge/"+url.PathEscape(sess.ChallengeID)+"?sent="+url.QueryEscape(string(ch)), http.StatusSeeOther)
}

// verifyCode checks the code and, when it is right, completes the
// challenge and logs the browser in.
//
// A challenge verified before, whose completion failed or whose answer was
// lost, is completed now (the page then offers a button with no code). A
// challenge already completed is a success too: its id is tied to this
// browser's login session alone, so only a request from this browser, with
// the right code, completed it (a second click on Verify, sent before the
// first one's answer came).
func (s *server) verifyCode(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.challengeSession(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	var err error
	if code := strings.TrimSpace(r.PostForm.Get("code")); code == "" {
		err = s.engine.CompleteChallenge(ctx, sess.ChallengeID)
		if errors.Is(err, ato.ErrChallengeNotVerified) {
			s.renderChallenge(w, r, http.StatusUnprocessableEntity, sess, "Enter the code.", "")
			return
		}
	} else {
		var right bool
		right, err = s.engine.VerifyChallengeCode(ctx, sess.ChallengeID, code)
		if err == nil && !right {
			s.renderChallenge(w, r, http.StatusUnprocessableEntity, sess, "Wrong code.", "")
			return
		}
		if err == nil || errors.Is(err, ato.ErrChallengeVerified) {
			err = s.engine.CompleteChallenge(ctx, sess.ChallengeID)
		}
	}
	if errors.Is(err, ato.ErrChallengeCompleted) {
		err = nil // by this browser: see above
	}
	if err != nil {
		status, msg := challengeProblem(err)
		if status >= 500 {
			s.internal(w, r, err)
			return
		}
		s.renderChallenge(w, r, status, sess, msg, "")
		return
	}
	o := sess.Outcome
	o.Completed = true
	s.log.Info("challenge completed", "user", sess.User, "challenge", sess.ChallengeID)
	if o.DeviceID != "" {
		// The challenge taught the device: the browser gets its token.
		s.setDeviceToken(w, r, s.engine.DeviceToken(sess.User, o.DeviceID))
	}
	s.nameDevice(o.DeviceID, r)
	s.sessions.start(w, r, session{User: sess.User, LoggedIn: true, FromChallenge: sess.ChallengeID, Outcome: o})
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

// deviceIDPattern matches a device id (a UUID), for the notice of the
// forgotten one.
var deviceIDPattern = regexp.MustCompile(`^[0-9a-f-]{36}$`)

// deviceRow is a device as the devices page shows it.
type deviceRow struct {
	ato.DeviceInfo
	// Name is the browser and system it was last let in from, "Chrome 131
	// on Linux"; Current marks the browser looking at the page.
	Name       string
	Place      string
	Restricted bool
	Current    bool
}

// deviceRow is the row of the device, as the session looks at it.
func (s *server) deviceRow(d ato.DeviceInfo, sess session) deviceRow {
	row := deviceRow{DeviceInfo: d, Name: s.names.get(d.ID), Restricted: d.Restricted(s.now()), Current: d.ID == sess.Outcome.DeviceID}
	if row.Name == "" {
		row.Name = useragent.Name(d.UserAgent) // the engine's, for a name not kept here (a PostgreSQL store after a restart)
	}
	if row.Name == "" {
		row.Name = "an unknown browser" // no user agent the demo knows, or a login before it kept them
	}
	switch {
	case d.City != "" || d.Country != "":
		row.Place = placeName(d.City, d.Country)
	case s.geo == nil:
		row.Place = "unknown (geo off)"
	default:
		row.Place = "unknown"
	}
	return row
}

// loggedIn returns the session of a logged-in user; without one it sends
// the browser to the login page and ok is false.
func (s *server) loggedIn(w http.ResponseWriter, r *http.Request) (sess session, ok bool) {
	sess, ok = s.sessions.get(r)
	if !ok || !sess.LoggedIn {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return session{}, false
	}
	return sess, true
}

func (s *server) devicesPage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.loggedIn(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	list, err := s.engine.Devices(ctx, sess.User)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := &view{Title: "My devices", Outcome: &sess.Outcome}
	for _, d := range list {
		v.Devices = append(v.Devices, s.deviceRow(d, sess))
	}
	if id := r.URL.Query().Get("forgot"); deviceIDPattern.MatchString(id) { // not any text
		what := shortID(id)
		if name := s.names.get(id); name != "" {
			what += " (" + name + ")"
		}
		v.Notice = "Forgot device " + what + ". " + forgottenNextLogin
	}
	if id := r.URL.Query().Get("reported"); deviceIDPattern.MatchString(id) {
		if r.URL.Query().Get("answer") == "me" {
			v.Notice = "Device " + shortID(id) + " is trusted: you said it was you."
		} else {
			v.Notice = "Device " + shortID(id) + " is forgotten and refused from now on: you said it was not you. " +
				"The sensitive actions of your other devices (changing the password, the email, …) wait for a challenge from each. " +
				"Change your password: whoever it was may have it."
		}
	}
	s.render(w, r, http.StatusOK, "devices", v)
	// The page asked the browser to save the hash: the session needs it
	// no more.
	s.sessions.dropFingerprint(r)
}

// forgottenNextLogin says what the next login from a forgotten device
// looks like, and why.
const forgottenNextLogin = "Its next login is a new device for you: the engine still recognises the browser " +
	"(the same device id, confidence 1.000: it is sure which browser it is), but the browser is no longer one of yours, " +
	"so the login reports new_device, and from a network you have not logged in from lately it is challenged."

// forgetPage asks whether to forget a device, and says what happens then.
func (s *server) forgetPage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.loggedIn(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	list, err := s.engine.Devices(ctx, sess.User)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	id := r.URL.Query().Get("device")
	for _, d := range list {
		if d.ID == id {
			row := s.deviceRow(d, sess)
			s.render(w, r, http.StatusOK, "forget", &view{Title: "Forget a device", Forget: &row})
			return
		}
	}
	s.fail(w, r, http.StatusNotFound, "That device is not one of yours.")
}

// deviceTokenCookie keeps the device token ato issues for the browser.
const deviceTokenCookie = "ato_device"

// deviceToken returns the browser's device token, "" for none.
func deviceToken(r *http.Request) string {
	if c, err := r.Cookie(deviceTokenCookie); err == nil {
		return c.Value
	}
	return ""
}

// setDeviceToken keeps a device token in the browser: a long-lived
// cookie scripts cannot read (HttpOnly), sent only to this site and, over
// HTTPS, only over HTTPS. A phishing page can copy the browser's
// fingerprint, not this cookie.
func (s *server) setDeviceToken(w http.ResponseWriter, r *http.Request, token string) {
	if token == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: deviceTokenCookie, Value: token, Path: "/", MaxAge: 400 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r),
	})
}

// report records the user's answer to "was this you?" about a device.
func (s *server) report(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.loggedIn(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	id, answer := r.PostForm.Get("device"), r.PostForm.Get("answer")
	if answer != "me" && answer != "not-me" {
		s.fail(w, r, http.StatusBadRequest, "Say whether it was you.")
		return
	}
	if answer == "not-me" && id == sess.Outcome.DeviceID {
		s.fail(w, r, http.StatusConflict, "That is the browser you are using now.")
		return
	}
	err := s.engine.ReportDevice(ctx, sess.User, id, answer == "me")
	switch {
	case errors.Is(err, ato.ErrDeviceNotFound), errors.Is(err, ato.ErrInvalidRequest):
		s.fail(w, r, http.StatusNotFound, "That device is not one of yours.")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.log.Info("device reported", "user", sess.User, "device", id, "answer", answer)
	http.Redirect(w, r, "/devices?reported="+url.QueryEscape(id)+"&answer="+answer, http.StatusSeeOther)
}

// forget removes one of the user's devices.
func (s *server) forget(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.loggedIn(w, r)
	if !ok {
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	id := r.PostForm.Get("device")
	err := s.engine.ForgetDevice(ctx, sess.User, id)
	switch {
	case errors.Is(err, ato.ErrDeviceNotFound), errors.Is(err, ato.ErrInvalidRequest):
		s.fail(w, r, http.StatusNotFound, "That device is not one of yours.")
		return
	case errors.Is(err, ato.ErrDeviceRestricted):
		s.fail(w, r, http.StatusConflict, "That device is restricted: it can be forgotten when the restriction ends or a challenge from it completes.")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/devices?forgot="+url.QueryEscape(id), http.StatusSeeOther)
}

func (s *server) outboxPage(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.DevTools {
		s.fail(w, r, http.StatusNotFound, "The outbox is off: it shows every user's codes to anyone, so the demo serves it "+
			"only when it listens on loopback (and not behind a proxy), or when started with -public-demo. "+
			"Codes are printed in the terminal that runs the demo.")
		return
	}
	msgs := s.outbox.Messages()
	slices.Reverse(msgs) // newest first
	v := &view{Title: "Outbox", Messages: msgs}
	if sess, ok := s.sessions.get(r); ok && !sess.LoggedIn {
		v.Waiting = sess.ChallengeID // its page opens in this browser only
	}
	s.render(w, r, http.StatusOK, "outbox", v)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	s.sessions.end(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
