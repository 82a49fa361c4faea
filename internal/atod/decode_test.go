package atod

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/memstore"
)

func TestDecodeAttempt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ct, body string
		want           ato.Request
		unknown        bool
	}{
		{"the seed's JSON", "application/json",
			`{"action": "login", "user": "USER_ID", "fingerprint": "FP", "last_fingerprint": "LFP", "version": "2.32.0", "ip": "192.0.2.1", "email": "EMAIL", "phone": "PHONE", "metadata": {"key": "value"}}`,
			ato.Request{Action: "login", User: "USER_ID", Fingerprint: "FP", LastFingerprint: "LFP", Version: "2.32.0", IP: "192.0.2.1", Email: "EMAIL", Phone: "PHONE", Metadata: map[string]string{"key": "value"}}, false},
		{"the hash array", "application/json", `{"user": "u", "fingerprint": ["FP", null]}`,
			ato.Request{User: "u", Fingerprint: "FP"}, false},
		{"the hash array with a last", "application/json", `{"user": "u", "fingerprint": ["FP", "LFP"]}`,
			ato.Request{User: "u", Fingerprint: "FP", LastFingerprint: "LFP"}, false},
		{"last_fingerprint wins over the array's", "application/json", `{"user": "u", "fingerprint": ["FP", "A"], "last_fingerprint": "B"}`,
			ato.Request{User: "u", Fingerprint: "FP", LastFingerprint: "B"}, false},
		{"nulls", "application/json", `{"user": "u", "fingerprint": null, "last_fingerprint": null, "metadata": null}`,
			ato.Request{User: "u"}, false},
		{"ato's fields", "application/json", `{"user": "u", "user_agent": "UA", "device_token": "T", "unknown_user": true}`,
			ato.Request{User: "u", UserAgent: "UA", DeviceToken: "T"}, true},
		{"unknown fields are ignored", "application/json", `{"user": "u", "future": {"x": 1}}`,
			ato.Request{User: "u"}, false},
		{"form", "application/x-www-form-urlencoded", `user=u&fingerprint=FP&last_fingerprint=LFP&metadata%5Bk%5D=v&unknown_user=1`,
			ato.Request{User: "u", Fingerprint: "FP", LastFingerprint: "LFP", Metadata: map[string]string{"k": "v"}}, true},
		{"form array", "application/x-www-form-urlencoded", `user=u&fingerprint%5B%5D=FP&fingerprint%5B%5D=LFP`,
			ato.Request{User: "u", Fingerprint: "FP", LastFingerprint: "LFP"}, false},
		{"form indexed", "application/x-www-form-urlencoded", `user=u&fingerprint%5B0%5D=FP&fingerprint%5B1%5D=LFP`,
			ato.Request{User: "u", Fingerprint: "FP", LastFingerprint: "LFP"}, false},
		{"no content type, JSON", "", `{"user": "u"}`, ato.Request{User: "u"}, false},
		{"no content type, form", "", `user=u`, ato.Request{User: "u"}, false},
		{"JSON labelled as a form (curl -d)", "application/x-www-form-urlencoded", ` {"user": "u"}`, ato.Request{User: "u"}, false},
		{"JSON with a charset", "application/json; charset=utf-8", `{"user": "u"}`, ato.Request{User: "u"}, false},
		{"empty", "application/json", ``, ato.Request{}, false},
		{"IPv6", "application/json", `{"user": "u", "ip": " 2001:db8::1 "}`, ato.Request{User: "u", IP: "2001:db8::1"}, false},
	} {
		b, err := decodeBody(tc.ct, []byte(tc.body))
		require.NoError(t, err, tc.name)
		a, err := decodeAttempt(b)
		require.NoError(t, err, tc.name)
		tc.want.UnknownUser = tc.unknown
		assert.Equal(t, tc.want, a.req, tc.name)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ct, body string
		status         int
		field          string
	}{
		{"XML", "application/xml", `<a/>`, 415, ""},
		{"bad media type", "what/;;", `x`, 415, ""},
		{"JSON syntax", "application/json", `{"user"`, 400, ""},
		{"JSON not an object", "application/json", `"user"`, 400, ""},
		{"form syntax", "application/x-www-form-urlencoded", `user=%zz`, 400, ""},
		{"user an object", "application/json", `{"user": {}}`, 400, "user"},
		{"user true", "application/json", `{"user": true}`, 400, "user"},
		{"fingerprint an object", "application/json", `{"fingerprint": {}}`, 400, "fingerprint"},
		{"fingerprint array of numbers", "application/json", `{"fingerprint": [1]}`, 400, "fingerprint"},
		{"metadata an array", "application/json", `{"metadata": []}`, 400, "metadata"},
		{"too much metadata", "application/json", `{"metadata": {` + manyKeys(ato.MaxMetadataKeys+1) + `}}`, 400, "metadata"},
		{"unknown_user a string", "application/json", `{"unknown_user": "yes"}`, 400, "unknown_user"},
	} {
		b, err := decodeBody(tc.ct, []byte(tc.body))
		if err == nil {
			_, err = decodeAttempt(b)
		}
		var ae *apiError
		require.True(t, errors.As(err, &ae), "%s: %v", tc.name, err)
		assert.Equal(t, tc.status, ae.Status, tc.name)
		assert.Equal(t, tc.field, ae.Field, tc.name)
	}
}

func manyKeys(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += ","
		}
		s += `"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `": "v"`
	}
	return s
}

func TestDecodeChannel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]challenge.Channel{
		`{}`: "", `{"channel": "email"}`: challenge.Email, `{"channel": "sms"}`: challenge.SMS,
		`{"channel": "text"}`: challenge.SMS, `{"channel": "TEXT"}`: challenge.SMS, `{"channel": "totp"}`: challenge.TOTP,
	} {
		b, err := decodeBody("application/json", []byte(in))
		require.NoError(t, err)
		got, err := decodeChannel(b)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

// FuzzDecode feeds request decoding any body under any content type: it
// never panics, and its only errors are client errors of the documented
// shape (4xx with a stable code).
func FuzzDecode(f *testing.F) {
	for _, seed := range [][2]string{
		{"application/json", `{"action": "login", "user": "USER_ID", "fingerprint": "REQUEST_FINGERPRINT", "last_fingerprint": "REQUEST_LAST_FINGERPRINT", "version": "2.32.0", "ip": "IP_ADDRESS", "email": "EMAIL", "phone": "PHONE", "metadata": {"key": "value"}}`},
		{"application/json", `{"user": 1e400, "fingerprint": ["a", null], "metadata": {"n": [1, {"x": null}]}, "unknown_user": true}`},
		{"application/x-www-form-urlencoded", `user=u&fingerprint%5B%5D=a&fingerprint%5B%5D=b&metadata%5Bk%5D=v&mine=false`},
		{"", `{"code": 123456, "channel": "text"}`},
		{"text/plain", `ip=::1%25eth0&ip=1.2.3.4:80`},
		{"application/json", `{"user":"\ud800","ip":"1.2.3.4:99999"}`},
	} {
		f.Add(seed[0], []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, ct string, data []byte) {
		b, err := decodeBody(ct, data)
		for name, raw := range b.json {
			// The fast path reads a string as the full decoder does.
			if fast, ok := plainString(raw); ok {
				var full string
				if err := json.Unmarshal(raw, &full); err != nil || full != fast {
					t.Fatalf("%s: plainString %q, json %q (%v)", name, fast, full, err)
				}
			}
		}
		if err == nil {
			var a attempt
			if a, err = decodeAttempt(b); err == nil {
				if _, err = decodeChannel(b); err == nil {
					_, err = b.str("code")
				}
				if err == nil {
					_, err = b.boolean("mine", false)
				}
				for _, w := range a.warnings {
					if w.Field != "ip" {
						t.Fatalf("warning on %q", w.Field)
					}
				}
				if len(a.req.Metadata) > ato.MaxMetadataKeys {
					t.Fatalf("%d metadata keys passed", len(a.req.Metadata))
				}
			}
		}
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			t.Fatalf("not an API error: %v", err)
		}
		if ae.Status < 400 || ae.Status > 499 || ae.Code == "" || ae.Message == "" {
			t.Fatalf("bad error: %+v", ae)
		}
		if ae.Status == http.StatusBadRequest && ae.Code == CodeInvalidRequest && ae.Field == "" {
			t.Fatalf("invalid_request without a field: %+v", ae)
		}
	})
}

// FuzzEvaluate sends any body to the evaluate endpoint of a real server:
// the answer is a 200 or a documented client error, never a server error.
func FuzzEvaluate(f *testing.F) {
	f.Add("application/json", []byte(`{"user": "u", "fingerprint": "`+laptop+`", "ip": "203.0.113.9"}`))
	f.Add("application/x-www-form-urlencoded", []byte(`user=u&action=signup&ip=2001:db8::1&fingerprint[]=a&fingerprint[]=b`))
	f.Add("application/json", []byte(`{"user": "u", "action": "password_change", "device_token": "AZfA19g", "metadata": {"a": 1}}`))
	srv, err := New(Config{Store: memstore.New(), Keys: []string{testKey},
		EngineOptions: []ato.Option{ato.WithSecret([]byte("0123456789abcdef0123456789abcdef"))}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ct string, data []byte) {
		req := httptest.NewRequest("POST", "/v2/evaluate", bytes.NewReader(data))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+testKey)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 || (rec.Code != 200 && rec.Code/100 != 4) {
			t.Fatalf("%d: %s", rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("not JSON: %s", rec.Body)
		}
	})
}
