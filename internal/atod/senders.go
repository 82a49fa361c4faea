package atod

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/ato/challenge"
)

// OutboxLine is one line of the development outbox (-outbox PATH): a JSON
// object per message, appended as it is sent.
type OutboxLine struct {
	ChallengeID string    `json:"challenge_id"`
	User        string    `json:"user"`
	Channel     string    `json:"channel"` // email or sms
	To          string    `json:"to"`
	Code        string    `json:"code"`
	SentAt      time.Time `json:"sent_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// fileOutbox is a [challenge.Sender] that appends each message to a file,
// one JSON line each: for tests and local development only, since every
// code is written there in clear.
type fileOutbox struct {
	mu sync.Mutex
	f  *os.File
}

func openOutbox(path string) (*fileOutbox, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &fileOutbox{f: f}, nil
}

func (o *fileOutbox) Send(ctx context.Context, m challenge.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(OutboxLine{
		ChallengeID: m.ChallengeID, User: m.User, Channel: string(m.Channel), To: m.To, Code: m.Code,
		SentAt: m.SentAt.UTC(), ExpiresAt: m.ExpiresAt.UTC(),
	})
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, err = o.f.Write(append(line, '\n'))
	return err
}

func (o *fileOutbox) Close() error { return o.f.Close() }

// Webhook signature headers: the Unix time of the delivery, and "v1=" and
// the hex HMAC-SHA256, under the webhook secret, of that time, a dot and
// the body.
const (
	HeaderTimestamp = "Atod-Timestamp"
	HeaderSignature = "Atod-Signature"
)

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	Type        string    `json:"type"` // "challenge.code"
	ChallengeID string    `json:"challenge_id"`
	User        string    `json:"user"`
	Channel     string    `json:"channel"` // email or sms
	To          string    `json:"to"`
	Code        string    `json:"code"`
	SentAt      time.Time `json:"sent_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// DefaultWebhookTimeout bounds one webhook delivery.
const DefaultWebhookTimeout = 5 * time.Second

// webhook is a [challenge.Sender] that POSTs each message, signed, to a
// URL: a relay of the operator's that hands it to an SMS or email
// provider. A 2xx answer is a delivery; anything else (redirects
// included: a code never follows one) is an error.
type webhook struct {
	url     string
	secret  []byte
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
}

func newWebhook(rawURL string, secret []byte, insecure bool) (*webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("webhook: %q is not an http(s) URL", rawURL)
	}
	if u.Scheme == "http" && !insecure && !loopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("webhook: %s would carry codes in clear text: use https, or -webhook-insecure on a network you trust", u.Redacted())
	}
	if len(secret) < MinKeyLen {
		return nil, fmt.Errorf("webhook: the signing secret (ATOD_WEBHOOK_SECRET or -webhook-secret-file) must be at least %d characters", MinKeyLen)
	}
	return &webhook{
		url: rawURL, secret: secret, timeout: DefaultWebhookTimeout, now: time.Now,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Sign returns the Atod-Signature value of a delivery at ts with body.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by [VerifySignature].
var ErrBadSignature = errors.New("atod: webhook signature does not check")

// VerifySignature checks a webhook delivery as a receiver should: the
// signature in constant time, and the timestamp within tolerance of now,
// so that a recorded delivery cannot be replayed later.
func VerifySignature(secret []byte, ts, sig string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %v from now", ErrBadSignature, ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig)) {
		return ErrBadSignature
	}
	return nil
}

func (w *webhook) Send(ctx context.Context, m challenge.Message) error {
	body, err := json.Marshal(WebhookPayload{
		Type: "challenge.code", ChallengeID: m.ChallengeID, User: m.User, Channel: string(m.Channel),
		To: m.To, Code: m.Code, SentAt: m.SentAt.UTC(), ExpiresAt: m.ExpiresAt.UTC(),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "atod")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL's query may hold a token: the error names the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s: answered %s", req.URL.Host, resp.Status)
	}
	return nil
}

// router sends each message to the outbox, when there is one, and to the
// channel's sender: SMTP for email when configured, else the webhook.
// Errors of a sender are marked as delivery errors; a channel that no
// sender serves is [challenge.ErrNoSender].
type router struct {
	outbox   challenge.Sender
	email    challenge.Sender
	sms      challenge.Sender
	m        *metrics
	channels []string // for the start-up message
}

func (r *router) Send(ctx context.Context, m challenge.Message) error {
	var s challenge.Sender
	switch m.Channel {
	case challenge.Email:
		s = r.email
	case challenge.SMS:
		s = r.sms
	}
	if s == nil && r.outbox == nil {
		return fmt.Errorf("%w for %s", challenge.ErrNoSender, m.Channel)
	}
	if r.outbox != nil {
		if err := r.outbox.Send(ctx, m); err != nil {
			r.m.sendFailed.WithLabelValues(string(m.Channel)).Inc()
			return &deliveryError{m.Channel, err}
		}
	}
	if s != nil {
		if err := s.Send(ctx, m); err != nil {
			r.m.sendFailed.WithLabelValues(string(m.Channel)).Inc()
			return &deliveryError{m.Channel, err}
		}
	}
	r.m.sent.WithLabelValues(string(m.Channel)).Inc()
	return nil
}

// describe says, for the start-up message, where codes go.
func (r *router) describe() string {
	var parts []string
	name := func(s challenge.Sender) string {
		switch s.(type) {
		case *challenge.SMTPSender:
			return "SMTP"
		case *webhook:
			return "webhook"
		}
		return "a sender"
	}
	if r.email != nil {
		parts = append(parts, "email by "+name(r.email))
	}
	if r.sms != nil {
		parts = append(parts, "SMS by "+name(r.sms))
	}
	if r.outbox != nil {
		parts = append(parts, "every code to the outbox file (development only: codes in clear)")
	}
	if len(parts) == 0 {
		return "none: codes cannot be sent (give -outbox PATH for development, -smtp-addr for email, -webhook-url for email and SMS)"
	}
	return strings.Join(parts, "; ")
}
