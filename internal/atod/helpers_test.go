package atod

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
)

const (
	testKey  = "test-secret-0123456789"
	otherKey = "rotated-secret-abcdefgh"
)

var (
	laptop = strings.Repeat("3fa9c1d2", 256)
	phone  = strings.Repeat("be70a4e9", 256)
)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a Server over memstore with a fake clock, an in-memory
// outbox and a log in a buffer.
type fixture struct {
	t      *testing.T
	srv    *Server
	h      http.Handler
	clk    *clock
	outbox *challenge.Outbox
	logs   *syncBuffer
	store  storage.Store
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixtureOption func(*Config)

func newFixture(t *testing.T, opts ...fixtureOption) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: newClock(), outbox: challenge.NewOutbox(), logs: &syncBuffer{}, store: memstore.New()}
	c := Config{
		Store:         f.store,
		EngineOptions: []ato.Option{ato.WithClock(f.clk.now), ato.WithSecret([]byte("0123456789abcdef0123456789abcdef"))},
		Keys:          []string{testKey, otherKey},
		Outbox:        f.outbox,
		Logger:        slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           f.clk.now,
	}
	for _, o := range opts {
		o(&c)
	}
	srv, err := New(c)
	require.NoError(t, err)
	f.srv, f.h = srv, srv
	return f
}

// response is an answer as a test reads it.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// errCode is the error code of an error answer, "" for another.
func (r response) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) errField() string {
	e, _ := r.body["error"].(map[string]any)
	field, _ := e["field"].(string)
	return field
}

func (r response) str(name string) string {
	s, _ := r.body[name].(string)
	return s
}

// do sends a request with the test key: body is a string sent as is, or
// a value sent as JSON.
func (f *fixture) do(method, path string, body any, header ...string) response {
	f.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ct = "application/x-www-form-urlencoded"
		if strings.HasPrefix(strings.TrimSpace(b), "{") {
			ct = "application/json"
		}
	default:
		data, err := json.Marshal(b)
		require.NoError(f.t, err)
		rd = bytes.NewReader(data)
		ct = "application/json"
	}
	req := httptest.NewRequestWithContext(context.Background(), method, path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	resp := response{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && len(resp.raw) > 0 {
		require.NoError(f.t, json.Unmarshal(resp.raw, &resp.body), "%s %s: %s", method, path, resp.raw)
	}
	return resp
}

// evaluate posts an evaluate call and requires a 200.
func (f *fixture) evaluate(body map[string]any) response {
	f.t.Helper()
	r := f.do("POST", "/v2/devices/evaluate", body)
	require.Equal(f.t, http.StatusOK, r.status, "%s", r.raw)
	return r
}

// login is alice on her laptop at home.
func login(fp, ip string) map[string]any {
	return map[string]any{"user": "alice", "fingerprint": fp, "ip": ip, "email": "alice@example.com", "phone": "+15550104567"}
}

// challenged makes alice known on her laptop, then challenges her phone
// on another network, and returns the challenge id.
func (f *fixture) challenged() string {
	f.t.Helper()
	require.Equal(f.t, "allow", f.evaluate(login(laptop, "203.0.113.9")).str("verdict"))
	r := f.evaluate(login(phone, "198.51.100.23"))
	require.Equal(f.t, "challenge", r.str("verdict"))
	id := r.str("challenge_id")
	require.NotEmpty(f.t, id)
	return id
}
