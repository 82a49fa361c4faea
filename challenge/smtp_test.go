package challenge_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/challenge"
)

// received is what the test SMTP server got in one transaction.
type received struct {
	from string   // the MAIL argument, "FROM:<…>"
	to   []string // the RCPT arguments, "TO:<…>"
	data []byte   // the message, dots unstuffed, lines ending in "\n"
	tls  bool     // STARTTLS was done first
	auth string   // the AUTH argument, if any
}

// smtpServer is a minimal SMTP server on 127.0.0.1 (or host) that speaks
// EHLO, HELO, STARTTLS (when tlsConfig is set), AUTH (after STARTTLS), MAIL,
// RCPT, DATA, RSET, NOOP and QUIT, and reports each message on got.
type smtpServer struct {
	addr      string
	tlsConfig *tls.Config
	got       chan received
}

func startSMTP(t *testing.T, host string, tlsConfig *tls.Config) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	s := &smtpServer{addr: ln.Addr().String(), tlsConfig: tlsConfig, got: make(chan received, 8)}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	var r received
	reply := func(format string, args ...any) bool { return tp.PrintfLine(format, args...) == nil }
	if !reply("220 test ESMTP ready") {
		return
	}
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := []string{"test greets " + arg}
			switch {
			case s.tlsConfig != nil && !r.tls:
				ext = append(ext, "STARTTLS")
			case r.tls:
				ext = append(ext, "AUTH PLAIN")
			}
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				if !reply("250%s%s", sep, e) {
					return
				}
			}
		case "HELO", "RSET", "NOOP":
			reply("250 ok")
		case "STARTTLS":
			if s.tlsConfig == nil || r.tls {
				reply("502 no")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(conn, s.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, tp, r.tls = tc, textproto.NewConn(tc), true
		case "AUTH":
			r.auth = arg
			reply("235 ok")
		case "MAIL":
			r.from = arg
			reply("250 ok")
		case "RCPT":
			r.to = append(r.to, arg)
			reply("250 ok")
		case "DATA":
			reply("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			r.data = data
			reply("250 queued")
			s.got <- r
			r = received{tls: r.tls}
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 unknown command")
		}
	}
}

// testCert returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a pool that trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "challenge test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}}}, pool
}

func emailMessage() challenge.Message {
	return challenge.Message{
		ChallengeID: "ch_1",
		User:        "alice",
		Channel:     challenge.Email,
		To:          "Alice <alice@example.com>",
		Code:        "042817",
		ExpiresAt:   time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC),
	}
}

// receive waits for the server's next message.
func receive(t *testing.T, s *smtpServer) received {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the server got no message")
		return received{}
	}
}

// readBody parses a received message and decodes its body.
func readBody(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(data))))
	require.NoError(t, err)
	require.Equal(t, "quoted-printable", msg.Header.Get("Content-Transfer-Encoding"))
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	return msg, string(body)
}

func TestSMTPSenderSends(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, "127.0.0.1", nil)
	s := &challenge.SMTPSender{Addr: srv.addr, From: "Ato <no-reply@example.com>"}
	before := time.Now().Add(-time.Second)
	require.NoError(t, s.Send(context.Background(), emailMessage()))

	r := receive(t, srv)
	assert.False(t, r.tls, "plain text is allowed on the local machine")
	assert.Equal(t, "FROM:<no-reply@example.com>", r.from)
	assert.Equal(t, []string{"TO:<alice@example.com>"}, r.to)

	msg, body := readBody(t, r.data)
	h := msg.Header
	assert.Equal(t, `"Ato" <no-reply@example.com>`, h.Get("From"))
	assert.Equal(t, `"Alice" <alice@example.com>`, h.Get("To"))
	assert.Equal(t, challenge.DefaultSubject, h.Get("Subject"))
	assert.Equal(t, "1.0", h.Get("MIME-Version"))
	assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	assert.Regexp(t, `^<[0-9a-f]{32}@example\.com>$`, h.Get("Message-ID"))
	date, err := h.Date()
	require.NoError(t, err)
	assert.WithinRange(t, date, before, time.Now().Add(time.Second))

	assert.Contains(t, body, "Your sign-in code is: 042817")
	assert.Contains(t, body, "15:04 UTC on Wednesday 2 January 2030")
	assert.Contains(t, body, "If this wasn't you, change your password")
}

func TestSMTPSenderMessageIDsDiffer(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, "127.0.0.1", nil)
	s := &challenge.SMTPSender{Addr: srv.addr, From: "no-reply@example.com"}
	ids := map[string]bool{}
	for range 3 {
		require.NoError(t, s.Send(context.Background(), emailMessage()))
		msg, _ := readBody(t, receive(t, srv).data)
		ids[msg.Header.Get("Message-ID")] = true
	}
	assert.Len(t, ids, 3)
}

func TestSMTPSenderSTARTTLS(t *testing.T) {
	t.Parallel()
	serverTLS, pool := testCert(t)
	srv := startSMTP(t, "127.0.0.1", serverTLS)
	const subject = "Votre code de connexion — Ato"
	s := &challenge.SMTPSender{
		Addr:      srv.addr,
		From:      "no-reply@example.com",
		Auth:      smtp.PlainAuth("", "user", "secret", "127.0.0.1"),
		Subject:   subject,
		TLSConfig: &tls.Config{RootCAs: pool}, // ServerName comes from Addr
	}
	require.NoError(t, s.Send(context.Background(), emailMessage()))

	r := receive(t, srv)
	assert.True(t, r.tls, "STARTTLS was used")
	assert.Equal(t, "PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00user\x00secret")), r.auth)
	assert.Equal(t, []string{"TO:<alice@example.com>"}, r.to)
	msg, body := readBody(t, r.data)
	got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, subject, got)
	assert.Contains(t, body, "042817")
}

func TestSMTPSenderUntrustedCertificate(t *testing.T) {
	t.Parallel()
	serverTLS, _ := testCert(t)
	srv := startSMTP(t, "127.0.0.1", serverTLS)
	s := &challenge.SMTPSender{Addr: srv.addr, From: "no-reply@example.com"}
	err := s.Send(context.Background(), emailMessage())
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)
	assert.Empty(t, srv.got, "nothing was sent")
}

// nonLoopbackIP returns an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && !ipnet.IP.IsLoopback() {
			return ipnet.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}

func TestSMTPSenderRequiresTLSBeyondLocalhost(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, nonLoopbackIP(t), nil)
	s := &challenge.SMTPSender{Addr: srv.addr, From: "no-reply@example.com"}
	require.ErrorIs(t, s.Send(context.Background(), emailMessage()), challenge.ErrNoTLS)
	assert.Empty(t, srv.got)

	s.Insecure = true
	require.NoError(t, s.Send(context.Background(), emailMessage()))
	assert.Contains(t, string(receive(t, srv).data), "042817")
}

func TestSMTPSenderRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	// Nothing listens at Addr: the message must be refused before dialling.
	good := challenge.SMTPSender{Addr: "127.0.0.1:1", From: "no-reply@example.com"}
	tests := []struct {
		name   string
		sender func(*challenge.SMTPSender)
		msg    func(*challenge.Message)
	}{
		{"CRLF in To", nil, func(m *challenge.Message) { m.To = "alice@example.com\r\nBcc: eve@example.com" }},
		{"LF in To", nil, func(m *challenge.Message) { m.To = "alice@example.com\nBcc: eve@example.com" }},
		{"CR in To", nil, func(m *challenge.Message) { m.To = "Alice\r <alice@example.com>" }},
		{"CRLF in From", func(s *challenge.SMTPSender) { s.From = "no-reply@example.com\r\nBcc: eve@example.com" }, nil},
		{"CRLF in Subject", func(s *challenge.SMTPSender) { s.Subject = "Code\r\nBcc: eve@example.com" }, nil},
		{"LF in Subject", func(s *challenge.SMTPSender) { s.Subject = "Code\n\nYour code is 000000" }, nil},
		{"To not an address", nil, func(m *challenge.Message) { m.To = "alice" }},
		{"two To addresses", nil, func(m *challenge.Message) { m.To = "alice@example.com, eve@example.com" }},
		{"From not an address", func(s *challenge.SMTPSender) { s.From = "Ato" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, m := good, emailMessage()
			if tt.sender != nil {
				tt.sender(&s)
			}
			if tt.msg != nil {
				tt.msg(&m)
			}
			require.ErrorIs(t, s.Send(context.Background(), m), challenge.ErrInvalidMessage)
		})
	}
}

func TestSMTPSenderOtherChannels(t *testing.T) {
	t.Parallel()
	s := &challenge.SMTPSender{Addr: "127.0.0.1:1", From: "no-reply@example.com"}
	for _, ch := range []challenge.Channel{challenge.SMS, challenge.TOTP, ""} {
		m := emailMessage()
		m.Channel = ch
		require.ErrorIs(t, s.Send(context.Background(), m), challenge.ErrUnsupportedChannel, "%q", ch)
	}
}

// startSilent starts a listener that accepts connections and never
// answers, and reports each accepted connection.
func startSilent(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	ch := make(chan struct{}, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- struct{}{}
			go func() {
				defer conn.Close()
				io.Copy(io.Discard, conn) // until the client hangs up
			}()
		}
	}()
	return ln.Addr().String(), ch
}

func TestSMTPSenderDeadline(t *testing.T) {
	t.Parallel()
	addr, _ := startSilent(t)
	tests := []struct {
		name    string
		timeout time.Duration // SMTPSender.Timeout
		ctx     time.Duration // the context's own timeout, if any
	}{
		{"context deadline", 0, 200 * time.Millisecond},
		{"sender timeout", 200 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			s := &challenge.SMTPSender{Addr: addr, From: "no-reply@example.com", Timeout: tt.timeout}
			start := time.Now()
			err := s.Send(ctx, emailMessage())
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

func TestSMTPSenderCancel(t *testing.T) {
	t.Parallel()
	addr, accepted := startSilent(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &challenge.SMTPSender{Addr: addr, From: "no-reply@example.com"}
	errc := make(chan error, 1)
	go func() { errc <- s.Send(ctx, emailMessage()) }()

	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Send did not connect")
	}
	cancel() // Send is now waiting for the greeting
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Send did not return after cancel")
	}
}

func TestSMTPSenderClosedContext(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, "127.0.0.1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &challenge.SMTPSender{Addr: srv.addr, From: "no-reply@example.com"}
	require.ErrorIs(t, s.Send(ctx, emailMessage()), context.Canceled)
	assert.Empty(t, srv.got)
}
