package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/geoip"
	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/verdict"
)

//go:embed templates/*.html static/*
var assets embed.FS

// config is what [newServer] needs. main fills it from the flags; tests
// fill it by hand.
type config struct {
	// Store names where the engine keeps its state, as -store takes it:
	// a SQLite file, a postgres:// connection string, or :memory:
	// (internal/storeopen).
	Store string
	// GeoIP lists MaxMind-format databases: the first is opened, the
	// others are consulted after it (geoip.WithLocationDB), e.g. the IPv4
	// and IPv6 files of DB-IP Lite. Empty: geo signals are off. (main
	// finds the free DB-IP data when it is installed: findDBIP.)
	GeoIP []string
	// GeoOff says that geography is off on purpose (-geoip none).
	GeoOff bool
	// TrustProxy takes the client's address from X-Forwarded-For, and
	// whether it came over HTTPS from X-Forwarded-Proto, for a demo behind
	// a reverse proxy. It turns the "come from" control off.
	TrustProxy bool
	// RuptDir is the folder of the npm package rupt (index.js and
	// package.json). Empty: the Rupt SDK is not installed.
	RuptDir string
	// DevTools turns on the development conveniences: the outbox page,
	// which shows every user's codes to anyone, and the "come from"
	// control, which lets anyone claim a sample address. [devTools] says
	// when: on loopback only, unless the demo is started as a public one.
	// Off, codes are printed to Codes instead, for the operator's eyes.
	DevTools bool
	// PublicDemo says that DevTools is on because the demo was started
	// with -public-demo: the pages then warn that anyone can read codes.
	PublicDemo bool
	// Codes receives the codes when DevTools is off; nil means os.Stdout.
	Codes io.Writer
	// Now is the clock of the engine and the sessions; nil means
	// time.Now.
	Now func() time.Time
	// Log receives server errors and a line for each verdict; nil means
	// slog.Default().
	Log *slog.Logger
}

// server is the demo site: an http.Handler over an ato engine.
type server struct {
	cfg      config
	engine   *ato.Engine
	store    *storeopen.Store
	geo      *geoip.DB         // nil: geo signals off
	outbox   *challenge.Outbox // the development sender: codes land here
	sessions *sessions
	names    *deviceNames // the browser and system of each device
	pages    map[string]*template.Template
	rupt     *ruptSDK // nil: not installed
	now      func() time.Time
	log      *slog.Logger
	handler  http.Handler
}

// newServer opens the store (and the GeoIP databases), makes the engine
// and returns the site. Close it to close the store.
func newServer(cfg config) (*server, error) {
	s := &server{cfg: cfg, now: cfg.Now, log: cfg.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.outbox = challenge.NewOutbox()
	var sender challenge.Sender = s.outbox
	if !cfg.DevTools {
		codes := cfg.Codes
		if codes == nil {
			codes = os.Stdout
		}
		// The development sender delivers nothing: with the outbox page
		// off, the operator reads the code in the terminal.
		sender = challenge.SenderFunc(func(ctx context.Context, m challenge.Message) error {
			fmt.Fprintf(codes, "ato demo: code %s for %s (challenge %s, %s to %s)\n", m.Code, m.User, m.ChallengeID, m.Channel, m.To)
			return s.outbox.Send(ctx, m)
		})
	}
	s.sessions = newSessions(s.now, 8*time.Hour, maxSessions, s.secure)
	var err error
	if s.names, err = loadDeviceNames(namesPath(cfg.Store)); err != nil {
		s.log.Warn("the browsers of the devices are forgotten", "err", err)
	}

	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	if cfg.RuptDir != "" {
		if s.rupt, err = loadRupt(cfg.RuptDir); err != nil {
			return nil, err
		}
	}

	opts := []ato.Option{ato.WithSender(sender), ato.WithClock(s.now)}
	if len(cfg.GeoIP) > 0 {
		var more []geoip.Option
		for _, p := range cfg.GeoIP[1:] {
			more = append(more, geoip.WithLocationDB(p))
		}
		if s.geo, err = geoip.Open(cfg.GeoIP[0], more...); err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
		opts = append(opts, ato.WithLocator(s.geo))
	}
	if s.store, err = storeopen.Open(context.Background(), cfg.Store); err != nil {
		s.Close()
		return nil, fmt.Errorf("open the store, %s: %w", storeopen.Describe(cfg.Store), err)
	}
	// No WithSecret: the engine makes a key once and keeps it in the
	// store. A real application passes its own from a secret manager.
	if s.engine, err = ato.New(s.store, opts...); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Close closes the store and the GeoIP databases.
func (s *server) Close() error {
	var errs []error
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.geo != nil {
		errs = append(errs, s.geo.Close())
	}
	return errors.Join(errs...)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes lists the pages. Every POST goes through [server.post]: CSRF
// checks and a bounded body.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.post(s.login))
	mux.HandleFunc("GET /challenge/{id}", s.challengePage)
	mux.HandleFunc("POST /challenge/{id}/send", s.post(s.sendCode))
	mux.HandleFunc("POST /challenge/{id}/verify", s.post(s.verifyCode))
	mux.HandleFunc("GET /devices", s.devicesPage)
	mux.HandleFunc("GET /devices/forget", s.forgetPage)
	mux.HandleFunc("POST /devices/forget", s.post(s.forget))
	mux.HandleFunc("POST /devices/report", s.post(s.report))
	mux.HandleFunc("GET /outbox", s.outboxPage)
	mux.HandleFunc("POST /logout", s.post(s.logout))

	static, _ := fs.Sub(assets, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /static/rupt.js", s.ruptScript)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no such page.")
	})
	return securityHeaders(mux)
}

// securityHeaders sets the headers every response carries: scripts,
// styles and everything else only from this origin, no inline script (all
// of the demo's JavaScript is in static files), no framing, and no
// referrer to other sites. Not no-referrer: with it a browser sends Origin:
// null on the demo's own form posts, and where it sends no Sec-Fetch-Site
// either (plain http away from localhost), CrossOriginProtection then
// refuses them all.
func securityHeaders(h http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// ruptSDK is the Rupt browser SDK's global build (it sets window.Rupt).
type ruptSDK struct {
	script  []byte
	version string // "rupt/2.24.1", sent as the request's Version
}

// loadRupt reads the SDK from the folder of its npm package.
func loadRupt(dir string) (*ruptSDK, error) {
	script, err := os.ReadFile(filepath.Join(dir, "index.js"))
	if err != nil {
		return nil, fmt.Errorf("rupt SDK: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("rupt SDK: %w", err)
	}
	var pkg struct{ Name, Version string }
	if err := json.Unmarshal(data, &pkg); err != nil || pkg.Version == "" {
		return nil, fmt.Errorf("rupt SDK: %s names no version", filepath.Join(dir, "package.json"))
	}
	return &ruptSDK{script: script, version: "rupt/" + pkg.Version}, nil
}

func (s *server) ruptScript(w http.ResponseWriter, r *http.Request) {
	if s.rupt == nil {
		http.Error(w, "the Rupt SDK is not installed: run npm install in examples/webapp", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	http.ServeContent(w, r, "rupt.js", time.Time{}, bytes.NewReader(s.rupt.script))
}

// parsePages parses each page with the layout, one template set per page.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when":  func(t time.Time) string { return formatTime(t) },
		"short": shortID,
		// label writes a verdict for a person: "challenge and restrict".
		"label": func(v verdict.Verdict) string { return strings.ReplaceAll(string(v), "_", " ") },
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(filepath.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// geoNote names the GeoIP files by their base names (visitors need not see
// the server's paths), crediting DB-IP for its data.
func geoNote(paths []string) string {
	names := make([]string, len(paths))
	dbip := false
	for i, p := range paths {
		names[i] = filepath.Base(p)
		dbip = dbip || strings.HasPrefix(names[i], "dbip-")
	}
	note := strings.Join(names, ", ")
	if dbip {
		note += "; IP geolocation by DB-IP, CC BY 4.0"
	}
	return note
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// shortID is the first part of a UUID, enough to tell devices apart on a
// page.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

// view is what every page template gets; the page-specific parts are set
// by the handler.
type view struct {
	Title         string
	CSRF          string
	User          string // logged in
	Error, Notice string
	GeoOn         bool
	GeoNote       string // the GeoIP files, by base name
	DevTools      bool   // the outbox and the "come from" control are on
	PublicDemo    bool   // … because the demo was started as a public one
	LoadRupt      bool

	Login     *loginView
	Outcome   *outcome
	Challenge ato.ChallengeInfo
	Channels  []channelButton
	Devices   []deviceRow
	Forget    *deviceRow // the device the forget page asks about
	Messages  []challenge.Message
	// Waiting is the challenge this browser's login waits for, if any:
	// the outbox links to that one's page only.
	Waiting string
}

// render executes a page into a buffer, so that a template error is a
// clean 500, and writes it with the status.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	v.CSRF = csrfToken(w, r, s.secure(r))
	if sess, ok := s.sessions.get(r); ok && sess.LoggedIn {
		v.User = sess.User
	}
	v.GeoOn = s.geo != nil
	v.DevTools, v.PublicDemo = s.cfg.DevTools, s.cfg.PublicDemo
	if v.GeoOn {
		v.GeoNote = geoNote(s.cfg.GeoIP)
	}
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders the error page: the message in the page's .error element.
func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", &view{Title: http.StatusText(status), Error: msg})
}

// internal logs an unexpected error and renders a 500.
func (s *server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong on the server; the log says what.")
}

// secure says whether the request came over HTTPS, so that cookies set
// in answer to it are Secure: TLS on the connection, or, with TrustProxy,
// X-Forwarded-Proto: https from the proxy that terminated TLS.
func (s *server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !s.cfg.TrustProxy {
		return false
	}
	all := strings.Join(r.Header.Values("X-Forwarded-Proto"), ",")
	last := strings.TrimSpace(all[strings.LastIndex(all, ",")+1:])
	return strings.EqualFold(last, "https")
}

// devTools says whether the development conveniences (the outbox page and
// the "come from" control) may be on for a demo listening at addr: when it
// listens on loopback only and not behind a proxy, so that nobody else can
// reach them, or when it is started explicitly as a public demo.
func devTools(addr net.Addr, trustProxy, public bool) bool {
	if public {
		return true
	}
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback() && !trustProxy
}

// Why the "come from" control's value was refused.
var (
	errPretendOff = errors.New("the control is off unless the demo listens on loopback only " +
		"(or is started with -public-demo); the engine sees your real address")
	errPretendOther = errors.New("not one of the sample addresses")
)

// clientIP is the address the engine is told about: the pretended one when
// the demo control names one of the sample addresses, else the proxy's
// X-Forwarded-For entry when trusted, else the connection's address.
// pretend is "" or "real" for the real address. The address is normalised
// (IPv4-mapped IPv6 as IPv4, no zone).
func (s *server) clientIP(r *http.Request, pretend string) (string, error) {
	if pretend = strings.TrimSpace(pretend); pretend != "" && pretend != "real" {
		if !s.cfg.DevTools {
			return "", errPretendOff
		}
		a, err := netip.ParseAddr(pretend)
		if err != nil || !isSampleIP(a.Unmap().String()) {
			return "", errPretendOther
		}
		return a.Unmap().String(), nil
	}
	if s.cfg.TrustProxy {
		if ip, ok := forwardedFor(r.Header.Values("X-Forwarded-For")); ok {
			return ip, nil
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "", nil // not a TCP client (a test, a unix socket): no IP
	}
	// A link-local client's zone names the server's interface: not part
	// of who the client is.
	return ap.Addr().WithZone("").Unmap().String(), nil
}

// isSampleIP says whether ip is one of the control's sample addresses.
func isSampleIP(ip string) bool {
	for _, p := range pretendIPs {
		if p.IP == ip {
			return true
		}
	}
	return false
}

// forwardedFor returns the last address of X-Forwarded-For: the one the
// proxy in front of the demo added. Entries before it are what the client
// or earlier hops claimed, and anyone can claim anything there. An address
// with an IPv6 zone is refused.
func forwardedFor(values []string) (string, bool) {
	all := strings.Join(values, ",")
	if strings.TrimSpace(all) == "" {
		return "", false
	}
	last := strings.TrimSpace(all[strings.LastIndex(all, ",")+1:])
	a, err := netip.ParseAddr(last)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	return a.Unmap().String(), true
}

// place says where the evaluation located the attempt, for the pages.
func (s *server) place(loc *signals.Location) string {
	switch {
	case s.geo == nil:
		return "unknown (geo off)"
	case loc == nil:
		return "unknown (not in the GeoIP data)"
	}
	return placeName(loc.City, loc.Country)
}

func placeName(city, country string) string {
	switch {
	case city != "" && country != "":
		return city + ", " + country
	case country != "":
		return country
	}
	return "unknown"
}

// requestContext bounds the engine calls of one request.
func requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}
