package atod

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/challenge"
)

// TestLogs checks the log: one JSON line per request with its id, the
// verdict and the rule; never a code, a secret or a fingerprint.
func TestLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.challenged()
	f.do("POST", "/v2/challenges/"+id+"/send", nil, "X-Request-Id", "req-42")
	m, _ := f.outbox.Last(id)
	f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": m.Code})
	done := f.do("POST", "/v2/challenges/"+id+"/complete", nil)
	f.do("POST", "/v2/devices/evaluate", login(laptop, "203.0.113.9"), "X-Request-Id", "bad id with spaces")
	f.do("POST", "/v2/devices/evaluate", login(laptop, "203.0.113.9"), "Authorization", "Bearer wrong-but-long-enough-secret")

	logs := f.logs.String()
	for _, secret := range []string{m.Code, testKey, otherKey, "wrong-but-long-enough-secret", laptop[:64], phone[:64], done.str("device_token")} {
		assert.NotContains(t, logs, secret)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
		lines = append(lines, l)
	}
	require.Len(t, lines, 7)
	ev := lines[1]
	assert.Equal(t, "request", ev["msg"])
	assert.Equal(t, "/v2/devices/evaluate", ev["endpoint"])
	assert.Equal(t, "challenge", ev["verdict"])
	assert.Equal(t, "new-device-new-network", ev["rule"])
	assert.Equal(t, id, ev["challenge_id"])
	assert.NotEmpty(t, ev["request_id"])
	assert.Equal(t, "req-42", lines[2]["request_id"], "a caller's request id is kept")
	assert.Equal(t, "email", lines[2]["channel"])
	assert.Equal(t, true, lines[3]["success"])
	assert.Len(t, lines[5]["request_id"], 24, "a request id that is not a plain token is replaced")
	assert.Equal(t, "WARN", lines[6]["level"])
	assert.Equal(t, "unauthorized", lines[6]["error"])
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.challenged()
	f.do("POST", "/v2/challenges/"+id+"/send", nil)
	m, _ := f.outbox.Last(id)
	f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": "x"})
	f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": m.Code})
	r := f.do("GET", "/metrics", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, r.status)
	text := string(r.raw)
	for _, want := range []string{
		`atod_http_requests_total{code="200",endpoint="/v2/devices/evaluate",method="POST"} 2`,
		`atod_http_request_duration_seconds_count{endpoint="/v2/devices/evaluate"} 2`,
		`atod_verdicts_total{rule="new-device-new-network",verdict="challenge"} 1`,
		`atod_verdicts_total{rule="otherwise",verdict="allow"} 1`,
		`atod_reasons_total{reason="new_device"} 1`,
		`atod_reasons_total{reason="new_user"} 1`,
		`atod_challenge_codes_sent_total{channel="email"} 1`,
		`atod_challenge_verifications_total{result="right"} 1`,
		`atod_challenge_verifications_total{result="wrong"} 1`,
		`go_goroutines`,
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "atod_store_errors_total{", "a challenge refused by its rules is not a store error")
}

func TestOutboxFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "codes.jsonl")
	ob, err := openOutbox(path)
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) { c.Outbox = ob })
	id := f.challenged()
	require.Equal(t, http.StatusOK, f.do("POST", "/v2/challenges/"+id+"/send", map[string]any{"channel": "text"}).status)
	require.NoError(t, ob.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var line map[string]any
	require.NoError(t, json.Unmarshal(data, &line))
	assert.Equal(t, id, line["challenge_id"])
	assert.Equal(t, "sms", line["channel"])
	assert.Equal(t, "+15550104567", line["to"])
	assert.Len(t, line["code"], 6)
	assert.Equal(t, "alice", line["user"])
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	secret := []byte("webhook-secret-0123456789")
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 1)
	var status atomic.Int32
	status.Store(http.StatusNoContent)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header, b}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(hook.Close)
	wh, err := newWebhook(hook.URL+"/codes?token=t", secret, false)
	require.NoError(t, err)
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	wh.now = func() time.Time { return now }
	msg := challenge.Message{ChallengeID: "c1", User: "alice", Channel: challenge.SMS, To: "+15550104567", Code: "123456", SentAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	require.NoError(t, wh.Send(context.Background(), msg))
	d := <-got
	assert.Equal(t, "application/json", d.header.Get("Content-Type"))
	ts, sig := d.header.Get(HeaderTimestamp), d.header.Get(HeaderSignature)
	assert.Equal(t, "1777881600", ts)
	require.NoError(t, VerifySignature(secret, ts, sig, d.body, now.Add(time.Minute), 5*time.Minute))
	assert.ErrorIs(t, VerifySignature(secret, ts, sig, d.body, now.Add(10*time.Minute), 5*time.Minute), ErrBadSignature, "too old: a replay")
	assert.ErrorIs(t, VerifySignature([]byte("another-secret-0123456"), ts, sig, d.body, now, 5*time.Minute), ErrBadSignature)
	assert.ErrorIs(t, VerifySignature(secret, ts, sig, append(d.body, ' '), now, 5*time.Minute), ErrBadSignature, "a body changed")
	var p WebhookPayload
	require.NoError(t, json.Unmarshal(d.body, &p))
	assert.Equal(t, WebhookPayload{Type: "challenge.code", ChallengeID: "c1", User: "alice", Channel: "sms", To: "+15550104567", Code: "123456", SentAt: now, ExpiresAt: now.Add(10 * time.Minute)}, p)

	status.Store(http.StatusFound) // a redirect is not followed
	err = wh.Send(context.Background(), msg)
	<-got
	assert.ErrorContains(t, err, "302")
	assert.NotContains(t, err.Error(), "token=t", "the URL's query is not in errors")

	_, err = newWebhook("http://sms.example.com/hook", secret, false)
	assert.ErrorContains(t, err, "clear text")
	_, err = newWebhook("http://sms.example.com/hook", secret, true)
	assert.NoError(t, err)
	_, err = newWebhook("https://sms.example.com/hook", []byte("short"), false)
	assert.Error(t, err)
	_, err = newWebhook("ftp://x", secret, false)
	assert.Error(t, err)
}

func TestWebhookThroughServer(t *testing.T) {
	t.Parallel()
	secret := []byte("webhook-secret-0123456789")
	bodies := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if VerifySignature(secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), b, time.Now(), 5*time.Minute) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		bodies <- b
	}))
	t.Cleanup(hook.Close)
	wh, err := newWebhook(hook.URL, secret, false)
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) { c.Outbox, c.Email, c.SMS = nil, wh, wh })
	id := f.challenged()
	r := f.do("POST", "/v2/challenges/"+id+"/send", map[string]any{"channel": "sms"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	var p WebhookPayload
	require.NoError(t, json.Unmarshal(<-bodies, &p))
	v := f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": p.Code})
	assert.Equal(t, true, v.body["success"])
}

// webhookSample is a delivery atod signed, for the Node example's
// verification to check (node examples/node/webhook.mjs PATH).
const webhookSample = "../../examples/node/testdata/webhook-sample.json"

// TestWebhookSample keeps examples/node/testdata/webhook-sample.json what
// the webhook sends; ATOD_WRITE_SAMPLE=1 writes it.
func TestWebhookSample(t *testing.T) {
	t.Parallel()
	secret := "whsec-example-0123456789"
	type capture struct {
		ts, sig string
		body    []byte
	}
	got := make(chan capture, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- capture{r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), b}
	}))
	t.Cleanup(hook.Close)
	wh, err := newWebhook(hook.URL, []byte(secret), false)
	require.NoError(t, err)
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	wh.now = func() time.Time { return now }
	require.NoError(t, wh.Send(context.Background(), challenge.Message{
		ChallengeID: "0f3c9a52-6f1e-4c1b-9a55-3b0c1f2d7e11", User: "alice", Channel: challenge.SMS,
		To: "+15550104567", Code: "492816", SentAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}))
	c := <-got
	want, err := json.MarshalIndent(map[string]string{"secret": secret, "timestamp": c.ts, "signature": c.sig, "body": string(c.body)}, "", "  ")
	require.NoError(t, err)
	want = append(want, '\n')
	if os.Getenv("ATOD_WRITE_SAMPLE") != "" {
		require.NoError(t, os.WriteFile(webhookSample, want, 0o644))
	}
	have, err := os.ReadFile(webhookSample)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(have), "run with ATOD_WRITE_SAMPLE=1 to write it")
}
