package atod

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/storage"
)

// Config is what a [Server] is made of. Zero fields are the documented
// defaults.
type Config struct {
	// Store is the engine's store. Required.
	Store storage.Store
	// Engine options: secret, locator, policy, clock, … A sender is
	// added from Outbox, Email and SMS.
	EngineOptions []ato.Option
	// Keys are the API secrets a request may present (at least one, each
	// at least MinKeyLen characters).
	Keys []string
	// Outbox receives every code, beside the channel's sender (the
	// development outbox); nil for none.
	Outbox challenge.Sender
	// Email and SMS deliver codes on their channels; nil for none.
	Email, SMS challenge.Sender
	// Logger receives one line per request; nil discards them.
	Logger *slog.Logger
	// MaxBody caps request bodies; zero means DefaultMaxBody.
	MaxBody int64
	// RequestTimeout bounds the work of one request (store, sender);
	// zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Now is the clock for what the API shows as current (whether a
	// device is restricted now); nil means time.Now. The engine has its
	// own (ato.WithClock).
	Now func() time.Time
}

// DefaultRequestTimeout bounds one request's work when
// Config.RequestTimeout is zero.
const DefaultRequestTimeout = 10 * time.Second

// readyTimeout bounds the store's answer to /readyz.
const readyTimeout = 2 * time.Second

// Server is atod's HTTP handler: the API, health, metrics and the OpenAPI
// document.
type Server struct {
	engine   *ato.Engine
	store    storage.Store
	keys     *keyring
	log      *slog.Logger
	metrics  *metrics
	senders  *router
	maxBody  int64
	timeout  time.Duration
	now      func() time.Time
	mux      *http.ServeMux
	draining atomic.Bool
}

// New makes a Server, and its engine over c.Store.
func New(c Config) (*Server, error) {
	if c.Store == nil {
		return nil, errors.New("atod: no store")
	}
	keys, err := newKeyring(c.Keys)
	if err != nil {
		return nil, err
	}
	s := &Server{
		store: c.Store, keys: keys, log: c.Logger, metrics: newMetrics(),
		maxBody: c.MaxBody, timeout: c.RequestTimeout, now: c.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.senders = &router{outbox: c.Outbox, email: c.Email, sms: c.SMS, m: s.metrics}
	store := countingStore{Store: c.Store, errs: func(op string) { s.metrics.storeErrs.WithLabelValues(op).Inc() }}
	opts := append(slices.Clip(c.EngineOptions), ato.WithSender(s.senders))
	if s.engine, err = ato.New(store, opts...); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Engine returns the server's engine.
func (s *Server) Engine() *ato.Engine { return s.engine }

// SetDraining makes /readyz answer 503 (a server shutting down), so that a
// load balancer sends no more requests while the in-flight ones finish.
func (s *Server) SetDraining() { s.draining.Store(true) }

// ServeHTTP serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route is one endpoint: every path and method atod serves is in
// [Server.routeTable], and /openapi.json documents each of them (a test
// checks both ways).
type route struct {
	method, path string // the path as ServeMux and OpenAPI write it
	public       bool   // served without an API secret
	api          apiHandler
	raw          http.Handler // for the endpoints that are not JSON
}

// apiHandler serves one API call: it returns the value to send as JSON
// with status 200, or an error. Attributes added to the log line go in
// log.
type apiHandler func(r *http.Request, log *logAttrs) (any, error)

type logAttrs struct{ attrs []slog.Attr }

func (l *logAttrs) add(a ...slog.Attr) { l.attrs = append(l.attrs, a...) }

func (s *Server) routeTable() []route {
	return []route{
		{method: "POST", path: "/v2/devices/evaluate", api: s.evaluate},
		{method: "POST", path: "/v2/evaluate", api: s.evaluate},
		{method: "GET", path: "/v2/challenges/{id}", api: s.getChallenge},
		{method: "POST", path: "/v2/challenges/{id}/send", api: s.sendCode},
		{method: "POST", path: "/v2/challenges/{id}/verify", api: s.verifyCode},
		{method: "POST", path: "/v2/challenges/{id}/complete", api: s.complete},
		{method: "POST", path: "/v2/failures", api: s.recordFailure},
		{method: "GET", path: "/v2/users/{user}/devices", api: s.devices},
		{method: "DELETE", path: "/v2/users/{user}/devices/{device_id}", api: s.forgetDevice},
		{method: "POST", path: "/v2/users/{user}/devices/{device_id}/report", api: s.reportDevice},
		{method: "DELETE", path: "/v2/users/{user}", api: s.deleteUser},
		{method: "GET", path: "/healthz", public: true, api: s.healthz},
		{method: "GET", path: "/readyz", public: true, api: s.readyz},
		{method: "GET", path: "/metrics", public: true, raw: s.metrics.handler()},
		{method: "GET", path: "/openapi.json", public: true, raw: http.HandlerFunc(serveOpenAPI)},
	}
}

// routes registers each path once, with a handler that picks the route by
// method, so that a wrong method gets a JSON 405 like every other error.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	byPath := map[string][]route{}
	var paths []string
	for _, rt := range s.routeTable() {
		if _, ok := byPath[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		byPath[rt.path] = append(byPath[rt.path], rt)
	}
	for _, p := range paths {
		rts := byPath[p]
		handlers := map[string]http.Handler{}
		var allow []string
		for _, rt := range rts {
			handlers[rt.method] = s.wrap(rt)
			allow = append(allow, rt.method)
			if rt.method == "GET" {
				handlers["HEAD"] = handlers["GET"]
				allow = append(allow, "HEAD")
			}
		}
		notAllowed := s.wrap(route{path: p, public: true, api: func(*http.Request, *logAttrs) (any, error) {
			return nil, &apiError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "use " + strings.Join(allow, " or ")}
		}})
		allowHeader := strings.Join(allow, ", ")
		s.mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h, ok := handlers[r.Method]; ok {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Allow", allowHeader)
			notAllowed.ServeHTTP(w, r)
		}))
	}
	s.mux.Handle("/", s.wrap(route{path: "unmatched", public: true, api: func(r *http.Request, _ *logAttrs) (any, error) {
		return nil, &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no endpoint " + r.Method + " " + excerpt(r.URL.Path) + "; /openapi.json lists them"}
	}}))
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap gives a route the request id, authentication, the request's
// deadline, the JSON answer or error, the log line and the metrics.
func (s *Server) wrap(rt route) http.Handler {
	endpoint := rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", rid)
		sw := &statusWriter{ResponseWriter: w}
		var la logAttrs
		var failure *apiError
		switch {
		case !rt.public && !s.keys.allows(r.Header.Get("Authorization")):
			w.Header().Set("WWW-Authenticate", `Bearer realm="atod"`)
			failure = &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
				Message: "send one of atod's API secrets as Authorization: Bearer <secret>"}
		case rt.raw != nil:
			rt.raw.ServeHTTP(sw, r)
		default:
			ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
			v, err := rt.api(r.WithContext(ctx), &la)
			cancel()
			if err != nil {
				failure = classify(err)
			} else {
				writeJSON(sw, http.StatusOK, v)
			}
		}
		if failure != nil {
			writeJSON(sw, failure.Status, errorBody{Error: errorDetail{Code: failure.Code, Message: failure.Message, Field: failure.Field}, RequestID: rid})
		}
		d := time.Since(start)
		s.metrics.observe(endpoint, r.Method, sw.status, d)
		s.logRequest(r, rid, endpoint, sw.status, d, &la, failure)
	})
}

func (s *Server) logRequest(r *http.Request, rid, endpoint string, status int, d time.Duration, la *logAttrs, failure *apiError) {
	level := slog.LevelInfo
	if endpoint == "/healthz" || endpoint == "/readyz" || endpoint == "/metrics" {
		level = slog.LevelDebug
	}
	attrs := append(make([]slog.Attr, 0, 8+len(la.attrs)),
		slog.String("request_id", rid),
		slog.String("method", r.Method),
		slog.String("endpoint", endpoint),
		slog.Int("status", status),
		slog.Float64("ms", float64(d.Microseconds())/1000),
	)
	attrs = append(attrs, la.attrs...)
	if failure != nil {
		attrs = append(attrs, slog.String("error", failure.Code))
		if failure.Field != "" {
			attrs = append(attrs, slog.String("field", failure.Field))
		}
		if failure.Status >= 500 {
			level = slog.LevelError
			if failure.cause != nil {
				attrs = append(attrs, slog.String("cause", failure.cause.Error()))
			}
		} else if failure.Status == http.StatusUnauthorized {
			level = slog.LevelWarn
		}
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// requestID returns the caller's X-Request-Id when it is a plain token of
// at most 64 characters, else a new random one.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 && strings.Trim(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == "" {
		return given
	}
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// The status is written: nothing more can be said to the client.
		io.WriteString(w, "\n")
	}
}

// healthz answers while the process serves HTTP.
func (s *Server) healthz(*http.Request, *logAttrs) (any, error) {
	return map[string]string{"status": "ok"}, nil
}

// readyUser is the user /readyz asks the store about. The read changes
// nothing, so an account of that name would not mind.
const readyUser = "atod-readyz"

// readyz answers when the store does, within readyTimeout, and the server
// is not shutting down.
func (s *Server) readyz(r *http.Request, _ *logAttrs) (any, error) {
	if s.draining.Load() {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "shutting down"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := s.store.Load(ctx, storage.LoadRequest{User: readyUser}); err != nil {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the store does not answer", cause: fmt.Errorf("readyz: %w", err)}
	}
	return map[string]string{"status": "ready"}, nil
}
