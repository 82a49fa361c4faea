package atod

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato/internal/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseOptions(t *testing.T) {
	t.Parallel()
	o, err := ParseOptions(nil, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, DefaultAddr, o.Addr)
	assert.Equal(t, DefaultStore, o.Store)
	assert.Equal(t, DefaultRequestTimeout, o.RequestTimeout)

	o, err = ParseOptions([]string{"-addr", "127.0.0.1:9"}, env(map[string]string{
		"ATOD_ADDR": "127.0.0.1:1", "ATOD_STORE": "postgres://u@h/db", "ATOD_OUTBOX": "o.jsonl",
		"ATOD_API_KEYS_FILE": "keys", "ATOD_REQUEST_TIMEOUT": "3s", "ATOD_WEBHOOK_INSECURE": "true",
		"ATOD_API_KEYS": "k1,k2", "ATOD_SECRET": "s", "ATOD_SMTP_PASSWORD": "p", "ATOD_WEBHOOK_SECRET": "w",
	}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9", o.Addr, "a flag given wins over the environment")
	assert.Equal(t, "postgres://u@h/db", o.Store)
	assert.Equal(t, "o.jsonl", o.Outbox)
	assert.Equal(t, "keys", o.APIKeysFile)
	assert.Equal(t, 3*time.Second, o.RequestTimeout)
	assert.True(t, o.WebhookInsecure)
	assert.Equal(t, [4]string{"k1,k2", "s", "p", "w"}, [4]string{o.APIKeys, o.Secret, o.SMTPPassword, o.WebhookSecret})

	_, err = ParseOptions(nil, env(map[string]string{"ATOD_MAX_BODY": "lots"}), io.Discard)
	assert.ErrorContains(t, err, "ATOD_MAX_BODY")
	_, err = ParseOptions([]string{"extra"}, env(nil), io.Discard)
	assert.Error(t, err)
	assert.Equal(t, "ATOD_API_KEYS_FILE", EnvName("api-keys-file"))
}

func TestMainWithoutSecret(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"-store", ":memory:"}, env(nil), &out, &errb)
	assert.Equal(t, 2, code)
	assert.Regexp(t, regexp.MustCompile(`export ATOD_API_KEYS=[0-9a-f]{64}\n`), errb.String())
	assert.Contains(t, errb.String(), "-api-keys-file PATH")
	assert.Empty(t, out.String())

	// A secret it was given is never printed, not even a wrong one.
	errb.Reset()
	code = Main(context.Background(), []string{"-store", ":memory:"}, env(map[string]string{EnvAPIKeys: "tinykey1"}), &out, &errb)
	assert.NotZero(t, code)
	assert.Contains(t, errb.String(), "at least 16")
	assert.NotContains(t, errb.String(), "tinykey1")
}

// started is atod run in process by Run, as the command runs it.
type started struct {
	url    string
	cancel context.CancelFunc
	done   chan error
	stderr *signalWriter
}

// signalWriter is a log that tells when a line holding a word arrives.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	word  string
	saw   chan struct{}
	fired bool
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.fired && w.word != "" && strings.Contains(w.buf.String(), w.word) {
		w.fired = true
		close(w.saw)
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func startRun(t *testing.T, o Options) *started {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	o.APIKeys = testKey
	o.RequestTimeout, o.ShutdownTimeout, o.MaxBody = 10*time.Second, 10*time.Second, DefaultMaxBody
	o.LogFormat, o.LogLevel = "json", "info"
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{cancel: cancel, done: make(chan error, 1), stderr: &signalWriter{word: "shutting down", saw: make(chan struct{})}}
	addr := make(chan string, 1)
	var stdout bytes.Buffer
	go func() { s.done <- Run(ctx, o, &stdout, s.stderr, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.done:
		t.Fatalf("atod did not start: %v\n%s", err, s.stderr)
	}
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	assert.Contains(t, stdout.String(), "atod: listening on "+s.url)
	return s
}

// post sends a JSON call with the test key and decodes the answer.
func post(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("POST", url, bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// runFlow goes through the whole flow on a started atod whose codes go
// to the outbox file.
func runFlow(t *testing.T, url, outbox, user string) {
	t.Helper()
	st, r := post(t, url+"/v2/devices/evaluate", map[string]any{"user": user, "fingerprint": laptop, "ip": "203.0.113.9"})
	require.Equal(t, 200, st, "%v", r)
	require.Equal(t, "allow", r["verdict"])
	_, r = post(t, url+"/v2/devices/evaluate", map[string]any{"user": user, "fingerprint": phone, "ip": "198.51.100.23", "email": user + "@example.com"})
	require.Equal(t, "challenge", r["verdict"], "%v", r)
	id := r["challenge_id"].(string)
	st, r = post(t, url+"/v2/challenges/"+id+"/send", map[string]any{})
	require.Equal(t, 200, st, "%v", r)
	var code string
	data, err := os.ReadFile(outbox)
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l OutboxLine
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		if l.ChallengeID == id {
			code = l.Code
		}
	}
	require.NotEmpty(t, code)
	_, r = post(t, url+"/v2/challenges/"+id+"/verify", map[string]any{"code": code})
	require.Equal(t, true, r["success"], "%v (code %s)", r, code)
	_, r = post(t, url+"/v2/challenges/"+id+"/complete", nil)
	require.Equal(t, true, r["success"])
	_, r = post(t, url+"/v2/devices/evaluate", map[string]any{"user": user, "fingerprint": phone, "ip": "198.51.100.23", "device_token": r["device_token"]})
	require.Equal(t, "allow", r["verdict"], "%v", r)
}

func TestRunSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startRun(t, Options{Store: filepath.Join(dir, "atod.db"), Outbox: filepath.Join(dir, "codes.jsonl")})
	runFlow(t, s.url, filepath.Join(dir, "codes.jsonl"), "alice")
	resp, err := http.Get(s.url + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestRunPostgres runs the flow on pgstore when a server is at hand
// (ATO_POSTGRES_URL, as pgstore's tests).
func TestRunPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	dir := t.TempDir()
	s := startRun(t, Options{Store: url, Outbox: filepath.Join(dir, "codes.jsonl")})
	runFlow(t, s.url, filepath.Join(dir, "codes.jsonl"), "atod-test-"+requestID("")) // a fresh user on a database that stays
}

// TestGracefulShutdown stops atod while a send is in flight (its webhook
// holds the code): the send still finishes with its answer, new
// connections are refused, and Run returns without error.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	hook := newHoldingHook(t, arrived, release)
	s := startRun(t, Options{Store: ":memory:", WebhookURL: hook, WebhookSecret: "webhook-secret-0123456789"})
	_, r := post(t, s.url+"/v2/devices/evaluate", map[string]any{"user": "alice", "fingerprint": laptop, "ip": "203.0.113.9"})
	require.Equal(t, "allow", r["verdict"])
	_, r = post(t, s.url+"/v2/devices/evaluate", map[string]any{"user": "alice", "fingerprint": phone, "ip": "198.51.100.23", "phone": "+15550104567"})
	id := r["challenge_id"].(string)

	type answer struct {
		status int
		body   map[string]any
	}
	sent := make(chan answer, 1)
	go func() {
		// Not through require: this is not the test's goroutine.
		data := []byte(`{"channel": "sms"}`)
		req, _ := http.NewRequest("POST", s.url+"/v2/challenges/"+id+"/send", bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			sent <- answer{status: -1}
			return
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		sent <- answer{resp.StatusCode, out}
	}()
	<-arrived  // the send is in flight
	s.cancel() // SIGTERM
	<-s.stderr.saw
	// Shutdown closes the listener before it waits.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		resp, err := client.Get(s.url + "/healthz")
		if err != nil {
			break
		}
		resp.Body.Close()
	}
	close(release)
	a := <-sent
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, true, a.body["success"])
	assert.NoError(t, <-s.done)
	s.done <- nil // for the cleanup
	assert.Contains(t, s.stderr.String(), `"msg":"stopped"`)
}

// newHoldingHook is a webhook that tells when a delivery arrives and
// answers it once released.
func newHoldingHook(t *testing.T, arrived, release chan struct{}) string {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
	})}
	ln, err := netListen()
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
