package atod

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

func TestFlowJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.evaluate(login(laptop, "203.0.113.9"))
	assert.Equal(t, "allow", first.str("verdict"))
	assert.Equal(t, []any{"new_user"}, first.body["reasons"])
	assert.NotEmpty(t, first.str("device_token"), "an allowed login teaches the device and gets a token")
	assert.Equal(t, "otherwise", first.str("rule"))
	assert.Equal(t, []any{}, first.body["restrictions"])
	_, hasChallenge := first.body["challenge_id"]
	assert.False(t, hasChallenge, "no challenge_id without a challenge")

	r := f.evaluate(login(phone, "198.51.100.23"))
	require.Equal(t, "challenge", r.str("verdict"))
	assert.Equal(t, []any{"new_device", "new_ip"}, r.body["reasons"])
	assert.Equal(t, "new-device-new-network", r.str("rule"))
	assert.Contains(t, r.str("explanation"), "challenge: new device")
	assert.InDelta(t, 0.55, r.body["score"], 1e-9)
	assert.Empty(t, r.str("device_token"), "a challenged attempt teaches nothing")
	id := r.str("challenge_id")

	c := f.do("GET", "/v2/challenges/"+id, nil)
	require.Equal(t, http.StatusOK, c.status, "%s", c.raw)
	assert.Equal(t, "pending", c.str("status"))
	assert.Equal(t, []any{"email", "text"}, c.body["channels"])
	assert.Equal(t, map[string]any{"id": "alice", "email": "a•••@example.com", "phone": "•••4567"}, c.body["user"])
	assert.Equal(t, r.str("fingerprint_id"), c.str("fingerprint_id"))

	// The hosted API's guide sends no body: the code goes by email.
	s := f.do("POST", "/v2/challenges/"+id+"/send", nil, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, s.status, "%s", s.raw)
	assert.Equal(t, true, s.body["success"])
	assert.Equal(t, id, s.str("challenge_id"))
	assert.Equal(t, "email", s.str("channel"))
	assert.Equal(t, "a•••@example.com", s.str("to"))
	m, ok := f.outbox.Last(id)
	require.True(t, ok)
	assert.Equal(t, "alice@example.com", m.To)
	assert.Equal(t, "delivered", f.do("GET", "/v2/challenges/"+id, nil).str("status"))

	wrong := "000000"
	if m.Code == wrong {
		wrong = "111111"
	}
	v := f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": wrong})
	require.Equal(t, http.StatusOK, v.status, "%s", v.raw)
	assert.Equal(t, map[string]any{"success": false}, v.body)

	v = f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": m.Code})
	assert.Equal(t, map[string]any{"success": true}, v.body)

	done := f.do("POST", "/v2/challenges/"+id+"/complete", nil, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, done.status, "%s", done.raw)
	assert.Equal(t, true, done.body["success"])
	assert.Equal(t, "alice", done.str("user"))
	assert.Equal(t, r.str("fingerprint_id"), done.str("fingerprint_id"))
	token := done.str("device_token")
	require.NotEmpty(t, token)

	again := login(phone, "198.51.100.23")
	again["device_token"] = token
	a := f.evaluate(again)
	assert.Equal(t, "allow", a.str("verdict"), "%s", a.raw)
	assert.Equal(t, []any{}, a.body["reasons"])

	// Completing twice is a conflict.
	twice := f.do("POST", "/v2/challenges/"+id+"/complete", nil)
	assert.Equal(t, http.StatusConflict, twice.status)
	assert.Equal(t, CodeChallengeCompleted, twice.errCode())
}

func TestFlowForm(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.Equal(t, "allow", f.evaluate(login(laptop, "203.0.113.9")).str("verdict"))
	form := url.Values{
		"user": {"alice"}, "fingerprint[]": {phone, laptop}, "ip": {"198.51.100.23"},
		"phone": {"+15550104567"}, "metadata[plan]": {"pro"}, "version": {"2.32.0"},
	}
	r := f.do("POST", "/v2/evaluate", form.Encode())
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	require.Equal(t, "challenge", r.str("verdict"), "%s", r.raw)
	id := r.str("challenge_id")

	s := f.do("POST", "/v2/challenges/"+id+"/send", "channel=text&language=en")
	require.Equal(t, http.StatusOK, s.status, "%s", s.raw)
	assert.Equal(t, "sms", s.str("channel"), "text is SMS")
	m, ok := f.outbox.Last(id)
	require.True(t, ok)
	assert.Equal(t, challenge.SMS, m.Channel)
	assert.Equal(t, "+15550104567", m.To)
	assert.Equal(t, "text", f.do("GET", "/v2/challenges/"+id, nil).str("channel"))

	v := f.do("POST", "/v2/challenges/"+id+"/verify", "code="+m.Code)
	assert.Equal(t, map[string]any{"success": true}, v.body)
	done := f.do("POST", "/v2/challenges/"+id+"/complete", "")
	assert.Equal(t, true, done.body["success"], "%s", done.raw)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := map[string]any{"user": "alice"}
	for _, tc := range []struct {
		name, header string
		status       int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "Bearer not-the-secret-at-all", http.StatusUnauthorized},
		{"a prefix of the secret", "Bearer " + testKey[:len(testKey)-1], http.StatusUnauthorized},
		{"basic", "Basic " + testKey, http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"the secret", "Bearer " + testKey, http.StatusOK},
		{"the other secret (rotation)", "Bearer " + otherKey, http.StatusOK},
		{"lower-case scheme", "bearer " + testKey, http.StatusOK},
	} {
		r := f.do("POST", "/v2/devices/evaluate", body, "Authorization", tc.header)
		assert.Equal(t, tc.status, r.status, tc.name)
		if tc.status == http.StatusUnauthorized {
			assert.Equal(t, CodeUnauthorized, r.errCode(), tc.name)
			assert.Equal(t, `Bearer realm="atod"`, r.header.Get("WWW-Authenticate"))
		}
	}
	// Every API route wants a secret; operations do not.
	for _, rt := range f.srv.routeTable() {
		path := strings.NewReplacer("{id}", "x", "{user}", "alice", "{device_id}", "d").Replace(rt.path)
		r := f.do(rt.method, path, nil, "Authorization", "")
		if rt.public {
			assert.NotEqual(t, http.StatusUnauthorized, r.status, rt.path)
		} else {
			assert.Equal(t, http.StatusUnauthorized, r.status, rt.path)
		}
	}
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	_, err := newKeyring(nil)
	assert.ErrorIs(t, err, errNoKeys)
	_, err = newKeyring([]string{"short"})
	assert.ErrorContains(t, err, "at least 16")
	assert.NotContains(t, err.Error(), "short", "an error never prints a secret")
	_, err = newKeyring([]string{"a secret with spaces in it"})
	assert.Error(t, err)
	assert.Equal(t, []string{"a", "b"}, parseKeys(" a, ,b,"))
	keys, err := readKeys(strings.NewReader("# comment\n\n  k1  \nk2\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"k1", "k2"}, keys)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.challenged()
	for _, tc := range []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		code, field        string
	}{
		{"no user", "POST", "/v2/devices/evaluate", map[string]any{"fingerprint": laptop}, nil, 400, CodeInvalidRequest, "user"},
		{"bad action", "POST", "/v2/devices/evaluate", map[string]any{"user": "a", "action": "Log In"}, nil, 400, CodeInvalidRequest, "action"},
		{"user not a string", "POST", "/v2/devices/evaluate", map[string]any{"user": []int{1}}, nil, 400, CodeInvalidRequest, "user"},
		{"metadata not an object", "POST", "/v2/devices/evaluate", map[string]any{"user": "a", "metadata": "x"}, nil, 400, CodeInvalidRequest, "metadata"},
		{"three hashes", "POST", "/v2/devices/evaluate", map[string]any{"user": "a", "fingerprint": []string{"a", "b", "c"}}, nil, 400, CodeInvalidRequest, "fingerprint"},
		{"fingerprint too long", "POST", "/v2/devices/evaluate", map[string]any{"user": "a", "fingerprint": strings.Repeat("a", 5000)}, nil, 400, CodeInvalidRequest, "fingerprint"},
		{"JSON syntax", "POST", "/v2/devices/evaluate", `{"user": `, nil, 400, CodeMalformedBody, ""},
		{"JSON array", "POST", "/v2/devices/evaluate", `[1]`, []string{"Content-Type", "application/json"}, 400, CodeMalformedBody, ""},
		{"XML", "POST", "/v2/devices/evaluate", `<user/>`, []string{"Content-Type", "application/xml"}, 415, CodeUnsupportedMediaType, ""},
		{"too large", "POST", "/v2/devices/evaluate", `{"user": "` + strings.Repeat("a", DefaultMaxBody) + `"}`, nil, 413, CodeBodyTooLarge, ""},
		{"no such challenge", "GET", "/v2/challenges/0f3c0000-0000-4000-8000-000000000000", nil, nil, 404, CodeChallengeNotFound, ""},
		{"not an id", "GET", "/v2/challenges/" + strings.Repeat("x", 80), nil, nil, 404, CodeChallengeNotFound, ""},
		{"complete before verify", "POST", "/v2/challenges/" + id + "/complete", nil, nil, 409, CodeChallengeNotVerified, ""},
		{"verify before send", "POST", "/v2/challenges/" + id + "/verify", map[string]any{"code": "123456"}, nil, 409, CodeChallengeNotVerified, ""},
		{"verify without code", "POST", "/v2/challenges/" + id + "/verify", nil, nil, 400, CodeInvalidRequest, "code"},
		{"unknown channel", "POST", "/v2/challenges/" + id + "/send", map[string]any{"channel": "pigeon"}, nil, 400, CodeInvalidRequest, "channel"},
		{"no such endpoint", "GET", "/v2/nothing", nil, nil, 404, CodeNotFound, ""},
		{"a NUL in the challenge id", "GET", "/v2/challenges/%00abc", nil, nil, 404, CodeChallengeNotFound, ""},
		{"a NUL in the user", "GET", "/v2/users/%00bad/devices", nil, nil, 400, CodeInvalidRequest, "user"},
		{"a user not UTF-8", "DELETE", "/v2/users/%ff%fe", nil, nil, 400, CodeInvalidRequest, "user"},
		{"a user too long", "DELETE", "/v2/users/" + strings.Repeat("u", 257), nil, nil, 400, CodeInvalidRequest, "user"},
		{"a device id not UTF-8", "DELETE", "/v2/users/alice/devices/%ff", nil, nil, 404, CodeDeviceNotFound, "device_id"},
		{"a device id with a NUL", "POST", "/v2/users/alice/devices/%00/report", map[string]any{"mine": false}, nil, 404, CodeDeviceNotFound, "device_id"},
		{"wrong method", "GET", "/v2/devices/evaluate", nil, nil, 405, CodeMethodNotAllowed, ""},
		{"forget a stranger's device", "DELETE", "/v2/users/alice/devices/nope", nil, nil, 404, CodeDeviceNotFound, "device_id"},
		{"report without mine", "POST", "/v2/users/alice/devices/nope/report", map[string]any{}, nil, 400, CodeInvalidRequest, "mine"},
		{"report mine not a bool", "POST", "/v2/users/alice/devices/nope/report", map[string]any{"mine": "yes"}, nil, 400, CodeInvalidRequest, "mine"},
	} {
		r := f.do(tc.method, tc.path, tc.body, tc.header...)
		assert.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.raw)
		assert.Equal(t, tc.code, r.errCode(), tc.name)
		assert.Equal(t, tc.field, r.errField(), tc.name)
		assert.Equal(t, false, r.body["success"], tc.name)
		assert.Equal(t, r.header.Get("X-Request-Id"), r.str("request_id"), tc.name)
		e, _ := r.body["error"].(map[string]any)
		assert.NotEmpty(t, e["message"], tc.name)
	}
	assert.Equal(t, "POST", f.do("GET", "/v2/devices/evaluate", nil).header.Get("Allow"))
}

func TestChallengeLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.challenged()
	send := func() response { return f.do("POST", "/v2/challenges/"+id+"/send", map[string]any{"channel": "email"}) }
	require.Equal(t, http.StatusOK, send().status)
	again := send()
	assert.Equal(t, http.StatusTooManyRequests, again.status, "%s", again.raw)
	assert.Equal(t, CodeRateLimited, again.errCode())
	f.clk.add(31 * time.Second)
	require.Equal(t, http.StatusOK, send().status)
	m, _ := f.outbox.Last(id)
	f.clk.add(11 * time.Minute)
	late := f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": m.Code})
	assert.Equal(t, http.StatusConflict, late.status, "%s", late.raw)
	assert.Equal(t, CodeChallengeExpired, late.errCode())

	// Five wrong codes fail the challenge.
	f.clk.add(time.Minute)
	require.Equal(t, http.StatusOK, send().status)
	m, _ = f.outbox.Last(id)
	wrong := "000000"
	if m.Code == wrong {
		wrong = "111111"
	}
	for range 5 {
		f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": wrong})
	}
	r := f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": m.Code})
	assert.Equal(t, CodeChallengeFailed, r.errCode(), "%s", r.raw)
}

func TestNumbersAsText(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.do("POST", "/v2/devices/evaluate", `{"user": 42, "fingerprint": "`+laptop+`", "ip": "203.0.113.9", "metadata": {"n": 3, "b": true, "o": {"x": [1, 2]}, "z": null}}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	d := f.do("GET", "/v2/users/42/devices", nil)
	require.Equal(t, http.StatusOK, d.status, "%s", d.raw)
	assert.Len(t, d.body["devices"], 1, "user 42 is the text 42")
}

func TestIPWarnings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.evaluate(map[string]any{"user": "bob", "fingerprint": laptop, "ip": "IP_ADDRESS"})
	assert.Equal(t, []any{map[string]any{"field": "ip", "message": "not an IP address: the attempt counts as coming from an unknown network"}}, r.body["warnings"])
	assert.Empty(t, r.str("device_token"), "an attempt without an address teaches nothing")
	r = f.evaluate(map[string]any{"user": "bob", "fingerprint": laptop, "ip": "203.0.113.9:443"})
	assert.Equal(t, "ip", r.body["warnings"].([]any)[0].(map[string]any)["field"])
	assert.NotEmpty(t, r.str("device_token"), "the address without its port is an address")
	_, has := f.evaluate(map[string]any{"user": "bob", "fingerprint": laptop, "ip": "203.0.113.9"}).body["warnings"]
	assert.False(t, has)
}

func TestDevicesReportForgetDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dev := f.evaluate(login(laptop, "203.0.113.9")).str("fingerprint_id")
	d := f.do("GET", "/v2/users/alice/devices", nil)
	require.Equal(t, http.StatusOK, d.status)
	devices := d.body["devices"].([]any)
	require.Len(t, devices, 1)
	first := devices[0].(map[string]any)
	assert.Equal(t, dev, first["id"])
	assert.Equal(t, "203.0.113.9", first["ip"])
	assert.Equal(t, false, first["restricted"])

	ok := f.do("POST", "/v2/users/alice/devices/"+dev+"/report", map[string]any{"mine": true})
	assert.Equal(t, map[string]any{"success": true}, ok.body, "%s", ok.raw)

	// "Not me": the user's devices are restricted, and a restricted device
	// cannot be forgotten.
	ok = f.do("POST", "/v2/users/alice/devices/"+dev+"/report", "mine=false")
	assert.Equal(t, map[string]any{"success": true}, ok.body, "%s", ok.raw)
	evil := f.evaluate(login(phone, "192.0.2.44"))
	assert.NotEqual(t, "allow", evil.str("verdict"))

	f.evaluate(login(laptop, "203.0.113.9"))
	d = f.do("GET", "/v2/users/alice/devices", nil)
	for _, x := range d.body["devices"].([]any) {
		if x.(map[string]any)["id"] == dev {
			t.Fatalf("a disowned device is still listed: %s", d.raw)
		}
	}

	f2 := newFixture(t)
	dev = f2.evaluate(login(laptop, "203.0.113.9")).str("fingerprint_id")
	r := f2.do("DELETE", "/v2/users/alice/devices/"+dev, nil)
	assert.Equal(t, map[string]any{"success": true}, r.body, "%s", r.raw)
	assert.Empty(t, f2.do("GET", "/v2/users/alice/devices", nil).body["devices"])
	assert.Equal(t, http.StatusNotFound, f2.do("DELETE", "/v2/users/alice/devices/"+dev, nil).status)

	f2.evaluate(login(laptop, "203.0.113.9"))
	r = f2.do("DELETE", "/v2/users/alice", nil)
	assert.Equal(t, map[string]any{"success": true}, r.body)
	assert.Empty(t, f2.do("GET", "/v2/users/alice/devices", nil).body["devices"])
	assert.Equal(t, []any{"new_user"}, f2.evaluate(login(laptop, "203.0.113.9")).body["reasons"])

	// A user id with a slash, percent-encoded in the path.
	f2.evaluate(map[string]any{"user": "team/alice", "fingerprint": laptop, "ip": "203.0.113.9"})
	assert.Len(t, f2.do("GET", "/v2/users/team%2Falice/devices", nil).body["devices"], 1)
}

func TestRestrictedDevice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dev := f.evaluate(login(laptop, "203.0.113.9")).str("fingerprint_id")
	require.Equal(t, http.StatusOK, f.do("POST", "/v2/users/alice/devices/"+dev+"/report", map[string]any{"mine": true}).status)
	// Restrict it through "not me" on another device the user has.
	other := f.evaluate(login(phone, "203.0.113.9"))
	require.Equal(t, "allow", other.str("verdict"), "%s", other.raw)
	require.Equal(t, http.StatusOK, f.do("POST", "/v2/users/alice/devices/"+other.str("fingerprint_id")+"/report", map[string]any{"mine": false}).status)
	d := f.do("GET", "/v2/users/alice/devices", nil)
	require.NotEmpty(t, d.body["devices"])
	first := d.body["devices"].([]any)[0].(map[string]any)
	assert.Equal(t, true, first["restricted"], "%s", d.raw)
	assert.NotEmpty(t, first["restricted_until"])
	r := f.do("DELETE", "/v2/users/alice/devices/"+dev, nil)
	assert.Equal(t, http.StatusConflict, r.status, "%s", r.raw)
	assert.Equal(t, CodeDeviceRestricted, r.errCode())
}

func TestRecordFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.evaluate(login(laptop, "203.0.113.9"))
	for i := range 5 {
		r := f.do("POST", "/v2/failures", map[string]any{"user": "alice", "fingerprint": phone, "ip": "192.0.2.44", "unknown_user": false})
		require.Equal(t, http.StatusOK, r.status, "failure %d: %s", i, r.raw)
		assert.Equal(t, true, r.body["success"])
	}
	r := f.evaluate(login(phone, "192.0.2.44"))
	assert.Contains(t, r.body["reasons"], "brute_force", "%s", r.raw)

	// Only the user must be valid: a bad optional field does not keep a
	// failure from counting.
	r = f.do("POST", "/v2/failures", "user=mallory&ip=not-an-ip&fingerprint="+strings.Repeat("a", 5000)+"&unknown_user=true")
	assert.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	r = f.do("POST", "/v2/failures", map[string]any{"unknown_user": "maybe", "user": "x"})
	assert.Equal(t, "unknown_user", r.errField())
}

// TestUnknownUserCampaign records failures of names that are not accounts,
// one from each address, as a combo list spread over the internet: past
// the campaign threshold a login from a new device on a new network is
// denied, with no code sent to the owner.
func TestUnknownUserCampaign(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.evaluate(login(laptop, "203.0.113.9"))
	for i := range signals.DefaultCampaignUsers {
		r := f.do("POST", "/v2/failures", url.Values{"user": {fmt.Sprintf("ghost%03d@example.net", i)}, "unknown_user": {"true"},
			"fingerprint": {fmt.Sprintf("bot-%d", i)}, "ip": {fmt.Sprintf("100.64.%d.%d", i/200, i%200+1)}}.Encode())
		require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	}
	hit := f.evaluate(login(phone, "192.0.2.200"))
	assert.Equal(t, "deny", hit.str("verdict"), "%s", hit.raw)
	assert.Contains(t, hit.body["reasons"], string(signals.StuffingCampaignReason))
	assert.Empty(t, hit.str("challenge_id"))
}

func TestSenders(t *testing.T) {
	t.Parallel()
	// No sender at all.
	f := newFixture(t, func(c *Config) { c.Outbox = nil })
	id := f.challenged()
	r := f.do("POST", "/v2/challenges/"+id+"/send", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.raw)
	assert.Equal(t, CodeNoSender, r.errCode())

	// Email only: SMS has no sender.
	got := challenge.NewOutbox()
	f = newFixture(t, func(c *Config) { c.Outbox, c.Email = nil, got })
	id = f.challenged()
	r = f.do("POST", "/v2/challenges/"+id+"/send", map[string]any{"channel": "sms"})
	assert.Equal(t, CodeNoSender, r.errCode(), "%s", r.raw)
	r = f.do("POST", "/v2/challenges/"+id+"/send", map[string]any{"channel": "email"})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	_, ok := got.Last(id)
	assert.True(t, ok)

	// A sender that fails.
	f = newFixture(t, func(c *Config) {
		c.SMS = challenge.SenderFunc(func(context.Context, challenge.Message) error { return errors.New("provider down") })
	})
	id = f.challenged()
	r = f.do("POST", "/v2/challenges/"+id+"/send", map[string]any{"channel": "sms"})
	assert.Equal(t, http.StatusBadGateway, r.status, "%s", r.raw)
	assert.Equal(t, CodeSendFailed, r.errCode())
	assert.NotContains(t, string(r.raw), "provider down", "a sender's error is logged, not sent")
	assert.Contains(t, f.logs.String(), "provider down")

	// A challenge without any destination.
	f = newFixture(t)
	f.evaluate(login(laptop, "203.0.113.9"))
	nd := f.evaluate(map[string]any{"user": "alice", "fingerprint": phone, "ip": "198.51.100.23"})
	r = f.do("POST", "/v2/challenges/"+nd.str("challenge_id")+"/send", nil)
	assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.raw)
	assert.Equal(t, CodeNoDestination, r.errCode())
	r = f.do("POST", "/v2/challenges/"+nd.str("challenge_id")+"/send", map[string]any{"channel": "email"})
	assert.Equal(t, CodeNoDestination, r.errCode(), "%s", r.raw)
}

// failingStore fails every call, or blocks each until its context ends.
type failingStore struct {
	storage.Store
	block bool
}

func (s failingStore) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	if s.block {
		<-ctx.Done()
		return storage.State{}, ctx.Err()
	}
	return storage.State{}, errors.New("disk on fire at /var/lib/secret-path")
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Store = failingStore{Store: c.Store} })
	r := f.do("POST", "/v2/devices/evaluate", login(laptop, "203.0.113.9"))
	assert.Equal(t, http.StatusInternalServerError, r.status, "%s", r.raw)
	assert.Equal(t, CodeInternal, r.errCode())
	assert.NotContains(t, string(r.raw), "secret-path", "a store's error is logged, not sent")
	assert.Contains(t, f.logs.String(), "secret-path")
	assert.Contains(t, f.logs.String(), `"level":"ERROR"`)

	ready := f.do("GET", "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, ready.status)
	assert.Equal(t, CodeUnavailable, ready.errCode())
	assert.Contains(t, string(f.do("GET", "/metrics", nil).raw), `atod_store_errors_total{operation="load"} 1`)

	// A store that does not answer: the request's deadline ends it.
	slow := newFixture(t, func(c *Config) {
		c.Store = failingStore{Store: c.Store, block: true}
		c.RequestTimeout = 20 * time.Millisecond
	})
	r = slow.do("POST", "/v2/devices/evaluate", login(laptop, "203.0.113.9"))
	assert.Equal(t, http.StatusGatewayTimeout, r.status, "%s", r.raw)
	assert.Equal(t, CodeTimeout, r.errCode())
}

func TestHealth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	assert.Equal(t, map[string]any{"status": "ok"}, f.do("GET", "/healthz", nil, "Authorization", "").body)
	assert.Equal(t, map[string]any{"status": "ready"}, f.do("GET", "/readyz", nil, "Authorization", "").body)
	f.srv.SetDraining()
	assert.Equal(t, http.StatusServiceUnavailable, f.do("GET", "/readyz", nil).status)
	assert.Equal(t, http.StatusOK, f.do("GET", "/healthz", nil).status)
}
