package challenge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/netip"
	"net/smtp"
	"strings"
	"time"
)

// DefaultSubject is the subject of a code email when [SMTPSender.Subject]
// is empty.
const DefaultSubject = "Your sign-in code"

// DefaultSMTPTimeout bounds one [SMTPSender.Send] when
// [SMTPSender.Timeout] is zero.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPSender errors, matched with errors.Is.
var (
	// ErrUnsupportedChannel is returned by a sender asked to deliver on a
	// channel it does not serve, such as an SMS given to [SMTPSender].
	ErrUnsupportedChannel = errors.New("challenge: unsupported channel")
	// ErrInvalidMessage is returned for a message or sender that cannot
	// make a safe email: a line break in a header (header injection), an
	// address that does not parse.
	ErrInvalidMessage = errors.New("challenge: invalid message")
	// ErrNoTLS is returned when the SMTP server does not offer STARTTLS,
	// is not on the local machine and [SMTPSender.Insecure] is false.
	ErrNoTLS = errors.New("challenge: smtp server does not offer STARTTLS")
)

// SMTPSender is a [Sender] that emails codes through an SMTP server
// (net/smtp), for the [Email] channel only.
//
// Each Send opens one connection: EHLO, STARTTLS when the server offers it,
// AUTH when Auth is set, one message, QUIT. A server that does not offer
// STARTTLS is used in plain text only on the local machine (localhost or a
// loopback address) or when Insecure is set.
//
// The zero values of the optional fields are the documented defaults. An
// SMTPSender holds no state of its own and is safe for concurrent use if
// Auth is.
type SMTPSender struct {
	// Addr is the server's host:port, e.g. "smtp.example.com:587".
	Addr string
	// From is the sender, a bare address or "Name <address>".
	From string
	// Auth, if set, authenticates after STARTTLS; see smtp.PlainAuth.
	Auth smtp.Auth
	// Subject defaults to [DefaultSubject].
	Subject string
	// TLSConfig is used for STARTTLS; nil means a default configuration.
	// An empty ServerName is set to the host of Addr.
	TLSConfig *tls.Config
	// Insecure allows sending without TLS to a server that is not on the
	// local machine, e.g. a relay on a private network. Codes then cross
	// the network in clear text.
	Insecure bool
	// LocalName is the name given in EHLO; empty means "localhost".
	LocalName string
	// Timeout bounds each Send, on top of the context's own deadline; zero
	// means [DefaultSMTPTimeout].
	Timeout time.Duration
}

var _ Sender = (*SMTPSender)(nil)

// Send emails m.Code to m.To. m.Channel must be [Email]. When ctx is done
// or the timeout passes, Send stops talking to the server and returns an
// error that matches ctx's error (context.Canceled or
// context.DeadlineExceeded).
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if m.Channel != Email {
		return fmt.Errorf("%w %q: SMTPSender sends only %q", ErrUnsupportedChannel, m.Channel, Email)
	}
	env, err := s.compose(m, time.Now())
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.deliver(ctx, env); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("challenge: smtp %s: %w (%v)", s.Addr, ctxErr, err)
		}
		return fmt.Errorf("challenge: smtp %s: %w", s.Addr, err)
	}
	return nil
}

// envelope is a composed email: the SMTP envelope addresses and the RFC
// 5322 message.
type envelope struct {
	from, to string
	data     []byte
}

// compose checks the headers and writes the message.
func (s *SMTPSender) compose(m Message, now time.Time) (envelope, error) {
	subject := s.Subject
	if subject == "" {
		subject = DefaultSubject
	}
	for _, h := range [...]struct{ name, value string }{
		{"From", s.From}, {"To", m.To}, {"Subject", subject},
	} {
		if strings.ContainsAny(h.value, "\r\n\x00") {
			return envelope{}, fmt.Errorf("%w: line break in %s header", ErrInvalidMessage, h.name)
		}
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return envelope{}, fmt.Errorf("%w: From %q: %v", ErrInvalidMessage, s.From, err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return envelope{}, fmt.Errorf("%w: To %q: %v", ErrInvalidMessage, m.To, err)
	}
	id, err := messageID(from.Address)
	if err != nil {
		return envelope{}, err
	}

	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("Date", now.Format(time.RFC1123Z))
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(body(m))) // writes to a bytes.Buffer do not fail
	qp.Close()
	return envelope{from: from.Address, to: to.Address, data: b.Bytes()}, nil
}

// body is the text of a code email.
func body(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Your sign-in code is: %s\n\n", m.Code)
	if !m.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, "It expires at %s.\n\n", m.ExpiresAt.UTC().Format("15:04 MST on Monday 2 January 2006"))
	}
	b.WriteString("Do not share this code with anyone.\n\n")
	b.WriteString("If this wasn't you, change your password: someone who knows it\n")
	b.WriteString("tried to sign in to your account.\n")
	return strings.ReplaceAll(b.String(), "\n", "\r\n")
}

// messageID returns a new, unique Message-ID in the sender's domain.
func messageID(from string) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("challenge: message id: %w", err)
	}
	domain := "localhost"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// deliver runs one SMTP session. ctx bounds it: when ctx is done, the
// connection's deadline is moved to the past, which fails whatever read or
// write is blocked, so the error is always seen with ctx.Err() set.
func (s *SMTPSender) deliver(ctx context.Context, env envelope) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return err
	}
	// Not conn.SetDeadline(ctx's deadline): the connection could time out
	// a moment before ctx is done, and the error would not say why.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := s.hello(c, host); err != nil {
		return err
	}
	if s.Auth != nil {
		if err := c.Auth(s.Auth); err != nil {
			return err
		}
	}
	if err := c.Mail(env.from); err != nil {
		return err
	}
	if err := c.Rcpt(env.to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(env.data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// The server accepted the message when it answered the data; a
	// failed goodbye does not undo that.
	c.Quit()
	return nil
}

// hello greets the server and starts TLS, or checks that plain text is
// allowed.
func (s *SMTPSender) hello(c *smtp.Client, host string) error {
	localName := s.LocalName
	if localName == "" {
		localName = "localhost"
	}
	if err := c.Hello(localName); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.TLSConfig != nil {
			cfg = s.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		return c.StartTLS(cfg)
	}
	if !s.Insecure && !isLocal(host) {
		return ErrNoTLS
	}
	return nil
}

// isLocal reports whether host names the local machine.
func isLocal(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}
