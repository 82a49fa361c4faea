package ato_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func manyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["k"+strings.Repeat("x", i)] = "v"
	}
	return m
}

func TestInvalidRequestsNameTheFieldAndWriteNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		req   ato.Request
		field string
	}{
		{"no user", ato.Request{Fingerprint: laptop}, "user"},
		{"long user", ato.Request{User: strings.Repeat("u", 257)}, "user"},
		{"user not UTF-8", ato.Request{User: "al\xffice"}, "user"},
		{"user with control character", ato.Request{User: "alice\n"}, "user"},
		{"bad IP", ato.Request{User: "alice", IP: "203.0.113.300"}, "ip"},
		{"IP with port", ato.Request{User: "alice", IP: "203.0.113.9:443"}, "ip"},
		{"hostname", ato.Request{User: "alice", IP: "example.com"}, "ip"},
		{"long fingerprint", ato.Request{User: "alice", Fingerprint: strings.Repeat("a", 4097)}, "fingerprint"},
		{"long last fingerprint", ato.Request{User: "alice", Fingerprint: laptop, LastFingerprint: strings.Repeat("a", 4097)}, "last_fingerprint"},
		{"last without current", ato.Request{User: "alice", LastFingerprint: laptop}, "last_fingerprint"},
		{"fingerprint not UTF-8", ato.Request{User: "alice", Fingerprint: "\xc3"}, "fingerprint"},
		{"upper-case action", ato.Request{User: "alice", Action: "Login"}, "action"},
		{"action with a space", ato.Request{User: "alice", Action: "log in"}, "action"},
		{"long action", ato.Request{User: "alice", Action: ato.Action(strings.Repeat("a", 33))}, "action"},
		{"too many metadata keys", ato.Request{User: "alice", Metadata: manyKeys(33)}, "metadata"},
		{"long metadata value", ato.Request{User: "alice", Metadata: map[string]string{"k": strings.Repeat("v", 1025)}}, "metadata"},
		{"empty metadata key", ato.Request{User: "alice", Metadata: map[string]string{"": "v"}}, "metadata"},
		{"metadata value not UTF-8", ato.Request{User: "alice", Metadata: map[string]string{"k": "\xff"}}, "metadata"},
		{"long email", ato.Request{User: "alice", Email: strings.Repeat("e", 250) + "@x.io"}, "email"},
		{"long phone", ato.Request{User: "alice", Phone: strings.Repeat("1", 33)}, "phone"},
		{"long version", ato.Request{User: "alice", Version: strings.Repeat("1", 65)}, "version"},
		{"long user agent", ato.Request{User: "alice", UserAgent: strings.Repeat("M", 2049)}, "user_agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := memstore.New()
			e, err := ato.New(s)
			require.NoError(t, err)
			calls := []func() error{func() error { _, err := e.Evaluate(t.Context(), tc.req); return err }}
			if tc.field == "user" { // RecordFailure drops the other fields
				calls = append(calls, func() error { return e.RecordFailure(t.Context(), tc.req) })
			}
			for _, call := range calls {
				err := call()
				require.ErrorIs(t, err, ato.ErrInvalidRequest)
				var re *ato.RequestError
				require.True(t, errors.As(err, &re))
				assert.Equal(t, tc.field, re.Field)
				assert.Contains(t, err.Error(), tc.field, "the message names the field")
			}
			user := tc.req.User
			if user != "" {
				assert.Empty(t, eventsOf(t, s, user), "nothing is written for an invalid request")
			}
			if tc.field != "user" {
				require.NoError(t, e.RecordFailure(t.Context(), tc.req), "a failure is recorded without the bad field")
				assert.Equal(t, 1, failuresOf(t, s, user, "", time.Time{}).User)
			}
		})
	}
}

func TestValidEdgeRequestsAreAccepted(t *testing.T) {
	t.Parallel()
	e, err := ato.New(memstore.New())
	require.NoError(t, err)
	for name, r := range map[string]ato.Request{
		"longest user":         {User: strings.Repeat("ü", 128)},
		"longest fingerprint":  {User: "a", Fingerprint: strings.Repeat("f", 4096)},
		"opaque fingerprint":   {User: "a", Fingerprint: "fjs_visitor_3a1b2c"},
		"signup":               {User: "a", Action: ato.ActionSignup},
		"own action":           {User: "a", Action: "password_change"},
		"action with digits":   {User: "a", Action: "step2_payment"},
		"32 metadata keys":     {User: "a", Metadata: manyKeys(32)},
		"1 KiB metadata value": {User: "a", Metadata: map[string]string{"k": strings.Repeat("v", 1024)}},
		"metadata newline":     {User: "a", Metadata: map[string]string{"note": "two\nlines"}},
		"zoned IPv6":           {User: "a", IP: "fe80::1%eth0"},
		"IPv6":                 {User: "a", IP: "2001:db8::1"},
	} {
		_, err := e.Evaluate(t.Context(), r)
		assert.NoError(t, err, name)
	}
}

func TestTheIPIsRecordedInItsCanonicalText(t *testing.T) {
	t.Parallel()
	for ip, want := range map[string]string{
		"203.0.113.9":        "203.0.113.9",
		"::ffff:203.0.113.9": "203.0.113.9",
		"2001:db8::1":        "2001:db8::1",
		"2001:DB8::1":        "2001:db8::1",
		"2001:0db8:0:0::1":   "2001:db8::1",
		"fe80::1%eth0":       "fe80::1",
	} {
		s := memstore.New()
		e, err := ato.New(s)
		require.NoError(t, err)
		_, err = e.Evaluate(t.Context(), ato.Request{User: "alice", Fingerprint: laptop, IP: ip})
		require.NoError(t, err, ip)
		evs := eventsOf(t, s, "alice")
		require.Len(t, evs, 1)
		assert.Equal(t, want, evs[0].IP, ip)
		assert.Equal(t, want, profileOf(t, s, "alice").Last.IP, ip)
	}
}
