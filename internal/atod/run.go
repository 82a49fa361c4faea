package atod

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/geoip"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

// DefaultAddr and DefaultStore are where `go run ./cmd/atod` listens and
// keeps its state.
const (
	DefaultAddr  = "127.0.0.1:8484"
	DefaultStore = "atod.db"
)

// Environment variables that hold secrets. Secrets are never flags, which
// any user of the machine can read in the process list.
const (
	EnvAPIKeys        = "ATOD_API_KEYS"       // API secrets, comma-separated
	EnvSecret         = "ATOD_SECRET"         // the engine's key (≥ 32 bytes)
	EnvSMTPPassword   = "ATOD_SMTP_PASSWORD"  // with -smtp-user
	EnvWebhookSecret  = "ATOD_WEBHOOK_SECRET" // signs webhook deliveries
	envPrefix         = "ATOD_"
	shutdownDefault   = 15 * time.Second
	readHeaderTimeout = 5 * time.Second
)

// Options are atod's settings, from flags and the environment.
type Options struct {
	Addr, Store, Outbox, APIKeysFile, SecretFile string
	GeoIP, GeoIPASN, Policy                      string
	SMTPAddr, SMTPFrom, SMTPUser                 string
	SMTPInsecure                                 bool
	WebhookURL, WebhookSecretFile                string
	WebhookInsecure                              bool
	RequestTimeout, ShutdownTimeout              time.Duration
	MaxBody                                      int64
	LogFormat, LogLevel                          string

	// From the environment only.
	APIKeys, Secret, SMTPPassword, WebhookSecret string
}

// EnvName is the environment variable of a flag: ATOD_ and the name in
// capitals, '-' as '_' (-api-keys-file is ATOD_API_KEYS_FILE).
func EnvName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseOptions reads the flags in args, and for each flag not given, its
// environment variable (see [EnvName]); then the secrets, from the
// environment.
func ParseOptions(args []string, getenv func(string) string, usage io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("atod", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&o.Addr, "addr", DefaultAddr, "`host:port` to listen on; port 0 picks a free one")
	fs.StringVar(&o.Store, "store", DefaultStore, "where the state is kept: a SQLite file `path`, a postgres:// connection string, or :memory:")
	fs.StringVar(&o.Outbox, "outbox", "", "development only: append every code sent to this `file`, one JSON line each (challenge_id, channel, to, code, …)")
	fs.StringVar(&o.APIKeysFile, "api-keys-file", "", "`file` of API secrets, one a line (also: "+EnvAPIKeys+", comma-separated)")
	fs.StringVar(&o.SecretFile, "secret-file", "", "`file` holding the engine's key for device ids and codes, 32+ bytes (also: "+EnvSecret+"); default: a key made once and kept in the store")
	fs.StringVar(&o.GeoIP, "geoip", "", "MaxMind-format city or country database `files`, comma-separated (e.g. DB-IP's ipv4 and ipv6 files); default: no geography")
	fs.StringVar(&o.GeoIPASN, "geoip-asn", "", "ASN database `file` (GeoLite2-ASN .mmdb or ip-location-db CSV), with -geoip")
	fs.StringVar(&o.Policy, "policy", "", "policy `file` of rules (JSON); default: the built-in table")
	fs.StringVar(&o.SMTPAddr, "smtp-addr", "", "SMTP server `host:port` for email codes")
	fs.StringVar(&o.SMTPFrom, "smtp-from", "", "sender `address` of code emails")
	fs.StringVar(&o.SMTPUser, "smtp-user", "", "SMTP `user` for PLAIN auth (password: "+EnvSMTPPassword+")")
	fs.BoolVar(&o.SMTPInsecure, "smtp-insecure", false, "send email without TLS to a server that is not on this machine")
	fs.StringVar(&o.WebhookURL, "webhook-url", "", "`URL` each code is POSTed to, signed (SMS, and email without -smtp-addr)")
	fs.StringVar(&o.WebhookSecretFile, "webhook-secret-file", "", "`file` holding the webhook signing secret (also: "+EnvWebhookSecret+")")
	fs.BoolVar(&o.WebhookInsecure, "webhook-insecure", false, "allow an http:// webhook that is not on this machine (codes in clear on the network)")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", DefaultRequestTimeout, "bound on one request's work (store, sender)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", shutdownDefault, "on SIGTERM, how long in-flight requests may take to finish")
	fs.Int64Var(&o.MaxBody, "max-body", DefaultMaxBody, "largest request body, in `bytes`")
	fs.StringVar(&o.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&o.LogLevel, "log-level", "info", "least log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(usage, "atod: a self-hosted account-takeover protection service speaking the hosted API of Rupt (v2).\n\nUsage: atod [flags]\n\nEvery flag can also be set from the environment: -store as ATOD_STORE, -api-keys-file as ATOD_API_KEYS_FILE, …; a flag given wins.\nSecrets come from the environment or files, never from flags: %s, %s, %s, %s.\n\n", EnvAPIKeys, EnvSecret, EnvSMTPPassword, EnvWebhookSecret)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: atod takes flags only (atod -h lists them)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(EnvName(f.Name)); v != "" && !given[f.Name] && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, err)
			}
		}
	})
	o.APIKeys, o.Secret = getenv(EnvAPIKeys), getenv(EnvSecret)
	o.SMTPPassword, o.WebhookSecret = getenv(EnvSMTPPassword), getenv(EnvWebhookSecret)
	return o, envErr
}

// Main runs atod until ctx is done (the command cancels it on SIGINT and
// SIGTERM), and returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := ParseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "atod:", err)
		return 2
	}
	if err := Run(ctx, o, stdout, stderr, nil); err != nil {
		fmt.Fprintln(stderr, "atod:", err)
		if errors.Is(err, errNoKeys) {
			return 2
		}
		return 1
	}
	return 0
}

// noKeysError is the error of a start without an API secret: it says how
// to set one.
type noKeysError struct{}

func (noKeysError) Error() string { return noKeysHelp() }
func (noKeysError) Unwrap() error { return errNoKeys }

// noKeysHelp says how to configure an API secret. The one it shows is made
// on the spot: atod never prints a secret it was given.
func noKeysHelp() string {
	var b [32]byte
	rand.Read(b[:])
	return fmt.Sprintf(`no API secret is configured, and atod serves nobody without one.
Set one (here a random one made just now) and start atod again:

    export %s=%s
    go run ./cmd/atod

Your application then sends it on every call: Authorization: Bearer <secret>.
Several secrets, comma-separated, are all accepted (to rotate one: add the new,
move the clients, remove the old). Or put them in a file, one a line, readable
by atod only, and start atod with -api-keys-file PATH.`, EnvAPIKeys, hex.EncodeToString(b[:]))
}

// Run opens what o names, serves until ctx is done, then stops taking
// connections, lets the requests in flight finish (up to
// o.ShutdownTimeout) and closes the store. ready, if not nil, is called
// with the address once atod listens.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer, ready func(addr string)) error {
	logger, err := newLogger(o.LogFormat, o.LogLevel, stderr)
	if err != nil {
		return err
	}
	keys, keysFrom, err := loadKeys(o, stderr)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return noKeysError{}
	}
	c := Config{Keys: keys, Logger: logger, MaxBody: o.MaxBody, RequestTimeout: o.RequestTimeout}
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	secret := []byte(o.Secret)
	if o.SecretFile != "" {
		if secret, err = readSecretFile(o.SecretFile, stderr); err != nil {
			return fmt.Errorf("-secret-file: %w", err)
		}
	}
	if len(secret) > 0 {
		c.EngineOptions = append(c.EngineOptions, ato.WithSecret(secret))
	}
	geoNote := "off (give -geoip for countries, cities and impossible travel)"
	if o.GeoIP != "" {
		files := strings.Split(o.GeoIP, ",")
		var gopts []geoip.Option
		for _, f := range files[1:] {
			gopts = append(gopts, geoip.WithLocationDB(strings.TrimSpace(f)))
		}
		if o.GeoIPASN != "" {
			gopts = append(gopts, geoip.WithASN(o.GeoIPASN))
		}
		db, err := geoip.Open(strings.TrimSpace(files[0]), gopts...)
		if err != nil {
			return fmt.Errorf("-geoip: %w", err)
		}
		closers = append(closers, db.Close)
		c.EngineOptions = append(c.EngineOptions, ato.WithLocator(db))
		geoNote = "from " + o.GeoIP
	}
	policyNote := "the built-in table"
	if o.Policy != "" {
		rules, err := verdict.LoadRules(o.Policy, signals.IsBuiltin)
		if err != nil {
			return fmt.Errorf("-policy: %w", err)
		}
		c.EngineOptions = append(c.EngineOptions, ato.WithPolicy(rules))
		policyNote = o.Policy
	}
	if o.Outbox != "" {
		ob, err := openOutbox(o.Outbox)
		if err != nil {
			return fmt.Errorf("-outbox: %w", err)
		}
		closers = append(closers, ob.Close)
		c.Outbox = ob
	}
	if o.WebhookURL != "" {
		ws := []byte(o.WebhookSecret)
		if o.WebhookSecretFile != "" {
			if ws, err = readSecretFile(o.WebhookSecretFile, stderr); err != nil {
				return fmt.Errorf("-webhook-secret-file: %w", err)
			}
		}
		wh, err := newWebhook(o.WebhookURL, ws, o.WebhookInsecure)
		if err != nil {
			return err
		}
		c.Email, c.SMS = wh, wh
	}
	if o.SMTPAddr != "" {
		if o.SMTPFrom == "" {
			return errors.New("-smtp-addr needs -smtp-from, the sender's address")
		}
		s := &challenge.SMTPSender{Addr: o.SMTPAddr, From: o.SMTPFrom, Insecure: o.SMTPInsecure, Timeout: o.RequestTimeout}
		if o.SMTPUser != "" {
			host, _, _ := net.SplitHostPort(o.SMTPAddr)
			s.Auth = smtp.PlainAuth("", o.SMTPUser, o.SMTPPassword, host)
		}
		c.Email = s
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := storeopen.Open(openCtx, o.Store)
	cancel()
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	closers = append(closers, st.Close)
	c.Store = st
	srv, err := New(c)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.Addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s is in use: start atod on another port with -addr, e.g. -addr 127.0.0.1:0 for any free one", o.Addr)
	}
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "atod: listening on http://%s\n", addr)
	fmt.Fprintf(stdout, "atod: state in %s\n", storeopen.Describe(o.Store))
	fmt.Fprintf(stdout, "atod: %d API secret(s) from %s\n", len(keys), keysFrom)
	fmt.Fprintf(stdout, "atod: codes: %s\n", srv.senders.describe())
	fmt.Fprintf(stdout, "atod: geography %s; policy %s\n", geoNote, policyNote)
	if host, _, _ := net.SplitHostPort(addr); !loopbackHost(host) {
		fmt.Fprintln(stdout, "atod: serving plain HTTP beyond this machine: keep it on a private network, or put TLS in front")
	}
	if ready != nil {
		ready(addr)
	}
	logger.Info("listening", slog.String("addr", addr), slog.String("store", storeopen.Kind(o.Store)))

	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readHeaderTimeout + o.RequestTimeout,
		WriteTimeout:      readHeaderTimeout + 2*o.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing the requests in flight", slog.Duration("timeout", o.ShutdownTimeout))
	srv.SetDraining()
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// loadKeys gathers the API secrets of the environment and the file.
func loadKeys(o Options, stderr io.Writer) (keys []string, from string, err error) {
	var froms []string
	if env := parseKeys(o.APIKeys); len(env) > 0 {
		keys = append(keys, env...)
		froms = append(froms, EnvAPIKeys)
	}
	if o.APIKeysFile != "" {
		f, err := os.Open(o.APIKeysFile)
		if err != nil {
			return nil, "", fmt.Errorf("-api-keys-file: %w", err)
		}
		defer f.Close()
		warnReadable(f, o.APIKeysFile, stderr)
		fk, err := readKeys(f)
		if err != nil {
			return nil, "", fmt.Errorf("-api-keys-file: %w", err)
		}
		keys = append(keys, fk...)
		froms = append(froms, o.APIKeysFile)
	}
	if len(keys) > 0 {
		if _, err := newKeyring(keys); err != nil {
			return nil, "", err
		}
	}
	return keys, strings.Join(froms, " and "), nil
}

// readSecretFile reads a file holding one secret, without its final line
// break.
func readSecretFile(path string, stderr io.Writer) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	warnReadable(f, path, stderr)
	b, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// warnReadable warns when a secrets file can be read by other users.
func warnReadable(f *os.File, path string, stderr io.Writer) {
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "atod: warning: %s holds secrets and other users can read it (chmod 600 %s)\n", path, path)
	}
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: json or text", format)
}
