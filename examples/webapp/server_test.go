package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/fingerprint"
)

// fakeHash returns a fuzzy hash in the format of ato.js and the Rupt SDK:
// 2048 lowercase hex characters, 22 segments of 94 (the last trimmed), each
// SHA-256 of the seed and the segment's number, extended by chaining.
func fakeHash(seed string) string {
	var b strings.Builder
	for seg := 0; b.Len() < fingerprint.HashLen; seg++ {
		b.WriteString(segmentHex(seed, seg, fingerprint.SegmentLen))
	}
	return b.String()[:fingerprint.HashLen]
}

func segmentHex(seed string, seg, n int) string {
	h := sha256.Sum256([]byte(seed + "/" + string(rune('a'+seg))))
	out := hex.EncodeToString(h[:])
	for len(out) < n {
		h = sha256.Sum256([]byte(out[len(out)-64:]))
		out += hex.EncodeToString(h[:])
	}
	return out[:n]
}

// drift returns h with segment seg replaced, as when one browser signal
// changes.
func drift(h string, seg int) string {
	at := seg * fingerprint.SegmentLen
	return h[:at] + segmentHex("drift", seg, fingerprint.SegmentLen) + h[at+fingerprint.SegmentLen:]
}

// browser is an HTTP client with its own cookies, like one browser
// profile.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // from the last page's forms
}

// page is a response as the test reads it.
type page struct {
	status int
	path   string // after redirects
	body   string
	header http.Header
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) read(resp *http.Response, err error) page {
	b.t.Helper()
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return page{status: resp.StatusCode, path: resp.Request.URL.Path, body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.read(b.c.Get(b.base + path))
}

// post sends a form with the CSRF token of the last page.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	return b.read(b.c.PostForm(b.base+path, form))
}

// login loads the login page and logs in as ato.js would.
func (b *browser) login(user, password, fp, last, pretend string) page {
	b.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{
		"user": {user}, "password": {password}, "fingerprint": {fp}, "last_fingerprint": {last},
		"version": {"ato.js/1"}, "pretend_ip": {pretend},
	})
}

// attr returns the first value of the data attribute on the page.
func (p page) attr(name string) string {
	m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (p page) hasError() bool { return strings.Contains(p.body, `class="error"`) }

func newTestServer(t *testing.T) (*server, string) {
	t.Helper()
	srv, err := newServer(config{DBPath: filepath.Join(t.TempDir(), "demo.db")})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		assert.NoError(t, srv.Close())
	})
	return srv, ts.URL
}

func cookie(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLoginChallengeAndDevices(t *testing.T) {
	t.Parallel()
	srv, base := newTestServer(t)
	laptop, phone := newBrowser(t, base), newBrowser(t, base)
	desktopFP, phoneFP := fakeHash("desktop"), fakeHash("phone")
	require.True(t, fingerprint.IsFuzzy(desktopFP))

	// The login page: demo users, security headers, the CSRF cookie.
	resp, err := laptop.c.Get(base + "/login")
	require.NoError(t, err)
	p := laptop.read(resp, nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "wonderland")
	assert.Contains(t, p.header.Get("Content-Security-Policy"), "script-src 'self'")
	assert.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", p.header.Get("Referrer-Policy"))
	c := cookie(resp.Cookies(), csrfCookie)
	require.NotNil(t, c)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, c.Value, laptop.csrf, "the form carries the cookie's token")

	// Forms without the token, or sent from another site, are refused.
	p = laptop.post("/login", url.Values{"csrf": {"forged"}, "user": {"alice"}, "password": {"wonderland"}})
	assert.Equal(t, http.StatusForbidden, p.status)
	assert.True(t, p.hasError())
	req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{
		"csrf": {laptop.csrf}, "user": {"alice"}, "password": {"wonderland"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	p = laptop.read(laptop.c.Do(req))
	assert.Equal(t, http.StatusForbidden, p.status)

	// A wrong password, and an address that is not one.
	p = laptop.login("alice", "nope", desktopFP, "", "")
	assert.Equal(t, http.StatusUnauthorized, p.status)
	assert.Contains(t, p.body, "Wrong user name or password")
	p = laptop.login("alice", "wonderland", desktopFP, "", "not-an-ip")
	assert.Equal(t, http.StatusBadRequest, p.status)
	assert.True(t, p.hasError())

	// First login: allowed, a session cookie, and the page asks the
	// browser to save its hash.
	laptop.get("/login")
	once := *laptop.c
	once.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = once.PostForm(base+"/login", url.Values{"csrf": {laptop.csrf}, "user": {"alice"},
		"password": {"wonderland"}, "fingerprint": {desktopFP}, "version": {"ato.js/1"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/devices", resp.Header.Get("Location"))
	c = cookie(resp.Cookies(), sessionCookie)
	require.NotNil(t, c)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Len(t, c.Value, 43, "32 random bytes")
	p = laptop.get("/devices")
	require.False(t, p.hasError(), p.body)
	assert.Equal(t, "allow", p.attr("data-verdict"))
	laptopID := p.attr(`data-device`)
	require.NotEmpty(t, laptopID)
	assert.Equal(t, desktopFP, p.attr("data-save-fingerprint"))
	assert.Equal(t, "ato_last_fp", p.attr("data-save-key"))

	// Again, with the saved hash as the last one: the same device.
	p = laptop.login("alice", "wonderland", desktopFP, desktopFP, "")
	assert.Equal(t, "allow", p.attr("data-verdict"))
	assert.Equal(t, laptopID, p.attr("data-device"))

	// One signal drifted: still the same device.
	p = laptop.login("alice", "wonderland", drift(desktopFP, 7), desktopFP, "")
	assert.Equal(t, "allow", p.attr("data-verdict"))
	assert.Equal(t, laptopID, p.attr("data-device"))

	// A phone from another country: challenged, as another device.
	p = phone.login("alice", "wonderland", phoneFP, "", "89.160.20.112")
	require.True(t, strings.HasPrefix(p.path, "/challenge/"), p.path)
	require.False(t, p.hasError(), p.body)
	assert.Equal(t, "challenge", p.attr("data-verdict"))
	phoneID := p.attr("data-device")
	assert.NotEqual(t, laptopID, phoneID)
	chID := p.attr("data-challenge")
	require.NotEmpty(t, chID)
	assert.Contains(t, p.body, "a•••@example.com", "the destination is masked")
	assert.NotContains(t, p.body, "data-save-fingerprint", "a challenged hash is not saved")

	// The challenge belongs to the phone's login attempt only.
	assert.Equal(t, http.StatusForbidden, laptop.get("/challenge/"+chID).status)

	// Send a code by email and read it from the outbox.
	p = phone.post("/challenge/"+chID+"/send", url.Values{"channel": {"email"}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.False(t, p.hasError(), p.body)
	assert.Contains(t, p.body, "A code was sent by email")
	msgs := srv.outbox.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "alice@example.com", msgs[0].To)
	code := msgs[0].Code
	out := phone.get("/outbox")
	assert.Contains(t, out.body, `data-code="`+code+`"`)

	// A wrong code, then the right one: logged in, the device trusted.
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	p = phone.post("/challenge/"+chID+"/verify", url.Values{"code": {wrong}})
	assert.Equal(t, http.StatusUnprocessableEntity, p.status)
	assert.Contains(t, p.body, "Wrong code")
	p = phone.post("/challenge/"+chID+"/verify", url.Values{"code": {code}})
	require.Equal(t, "/devices", p.path, p.body)
	assert.False(t, p.hasError(), p.body)
	assert.Equal(t, "true", p.attr("data-completed"))
	assert.Equal(t, phoneFP, p.attr("data-save-fingerprint"))

	// The phone again, from the same address: allowed, the same device.
	p = phone.login("alice", "wonderland", phoneFP, phoneFP, "89.160.20.112")
	require.Equal(t, "/devices", p.path, p.body)
	assert.Equal(t, "allow", p.attr("data-verdict"))
	assert.Equal(t, phoneID, p.attr("data-device"))
	assert.Contains(t, p.body, `data-device="`+laptopID+`"`, "the device list has the laptop")
	assert.Contains(t, p.body, "yes (challenge completed)")

	// Forget the laptop.
	p = phone.post("/devices/forget", url.Values{"device": {laptopID}})
	require.Equal(t, "/devices", p.path)
	assert.Contains(t, p.body, "Forgot device")
	assert.NotContains(t, p.body, `<tr data-device="`+laptopID+`"`)
	p = phone.post("/devices/forget", url.Values{"device": {laptopID}})
	assert.Equal(t, http.StatusNotFound, p.status)

	// Log out.
	p = phone.post("/logout", url.Values{})
	assert.Equal(t, "/login", p.path)
	assert.Equal(t, "/login", phone.get("/devices").path)
}

func TestBruteForce(t *testing.T) {
	t.Parallel()
	_, base := newTestServer(t)
	b := newBrowser(t, base)
	for range 5 {
		p := b.login("carol", "guess", fakeHash("attacker"), "", "216.160.83.56")
		require.Equal(t, http.StatusUnauthorized, p.status)
	}
	p := b.login("carol", "christmas", fakeHash("attacker"), "", "216.160.83.56")
	assert.Equal(t, "challenge", p.attr("data-verdict"))
	assert.Contains(t, p.body, "brute_force")
}

func TestDeny(t *testing.T) {
	t.Parallel()
	_, base := newTestServer(t)
	b := newBrowser(t, base)
	// Ten users failing from one address is credential stuffing; a right
	// password from there, on a device the user never used, is refused.
	const ip = "175.16.199.0"
	for i := range 10 {
		p := b.login("user"+string(rune('a'+i)), "guess", fakeHash("bot"), "", ip)
		require.Equal(t, http.StatusUnauthorized, p.status)
	}
	p := b.login("bob", "builder", fakeHash("bot"), "", ip)
	assert.Equal(t, http.StatusForbidden, p.status)
	assert.Equal(t, "deny", p.attr("data-verdict"))
	assert.Contains(t, p.body, "credential_stuffing")
	assert.False(t, p.hasError(), "a deny is a verdict, not an error page")
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		trust   bool
		xff     []string
		pretend string
		want    string
		wantErr bool
	}{
		{name: "connection", want: "192.0.2.1"},
		{name: "forwarded ignored", xff: []string{"198.51.100.7"}, want: "192.0.2.1"},
		{name: "forwarded trusted", trust: true, xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "the proxy's entry is the last", trust: true, xff: []string{"203.0.113.9, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "over several headers", trust: true, xff: []string{"203.0.113.9", "198.51.100.7"}, want: "198.51.100.7"},
		{name: "garbage falls back", trust: true, xff: []string{"nonsense"}, want: "192.0.2.1"},
		{name: "pretend", trust: true, xff: []string{"198.51.100.7"}, pretend: "89.160.20.112", want: "89.160.20.112"},
		{name: "pretend v6", pretend: "2001:db8::1", want: "2001:db8::1"},
		{name: "pretend mapped", pretend: "::ffff:81.2.69.142", want: "81.2.69.142"},
		{name: "pretend bad", pretend: "1.2.3", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &server{cfg: config{TrustProxy: tc.trust}}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:4321"
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, err := s.clientIP(r, tc.pretend)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	u, ok := checkPassword("alice", "wonderland")
	assert.True(t, ok)
	assert.Equal(t, "alice@example.com", u.Email)
	for _, c := range [][2]string{{"alice", "builder"}, {"bob", "wonderland"}, {"mallory", "wonderland"}, {"", ""}} {
		_, ok := checkPassword(c[0], c[1])
		assert.False(t, ok, c)
	}
}
