package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/verdict"
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
	return newTestServerWith(t, config{})
}

// newTestServerWith starts the demo with cfg, in a database of its own, on
// loopback, where run would turn the development conveniences on (unless
// behind a proxy).
func newTestServerWith(t *testing.T, cfg config) (*server, string) {
	t.Helper()
	cfg.Store = filepath.Join(t.TempDir(), "demo.db")
	cfg.DevTools = cfg.DevTools || devTools(&net.TCPAddr{IP: net.IPv6loopback}, cfg.TrustProxy, cfg.PublicDemo)
	srv, err := newServer(cfg)
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
	assert.Equal(t, "same-origin", p.header.Get("Referrer-Policy"), "no-referrer makes browsers send Origin: null")
	assert.NotContains(t, p.body, srv.cfg.Store, "no server paths on the page")
	assert.NotContains(t, p.body, "demo.db")
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
	for _, bad := range []string{"not-an-ip", "2001:db8::1", "8.8.8.8", "fe80::1%eth0"} {
		p = laptop.login("alice", "wonderland", desktopFP, "", bad)
		assert.Equal(t, http.StatusBadRequest, p.status, bad)
		assert.True(t, p.hasError(), bad)
	}

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
	// Shown once, the hash is not kept in the session any more.
	p = laptop.get("/devices")
	assert.Empty(t, p.attr("data-save-fingerprint"))
	assert.Contains(t, p.body, desktopFP[:24]+"… (2048 characters", "the summary stays")
	assertNoFingerprintKept(t, srv)

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
	assert.Empty(t, p.attr("data-device"), "the challenge page does not say which device matched")
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
	phoneID := p.attr("data-device")
	require.NotEmpty(t, phoneID)
	assert.NotEqual(t, laptopID, phoneID)

	// Verify again (a second click, the back button): already logged in.
	p = phone.post("/challenge/"+chID+"/verify", url.Values{"code": {code}})
	assert.Equal(t, "/devices", p.path)
	assert.False(t, p.hasError(), p.body)
	assert.Equal(t, "/devices", phone.get("/challenge/"+chID).path)

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
		remote  string
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
		{name: "a zone falls back", trust: true, xff: []string{"fe80::1%eth0"}, want: "192.0.2.1"},
		{name: "mapped forwarded", trust: true, xff: []string{"::ffff:198.51.100.7"}, want: "198.51.100.7"},
		{name: "connection's zone dropped", remote: "[fe80::1%eth0]:4321", want: "fe80::1"},
		{name: "connection mapped", remote: "[::ffff:192.0.2.9]:4321", want: "192.0.2.9"},
		{name: "real", pretend: "real", want: "192.0.2.1"},
		{name: "pretend", pretend: "89.160.20.112", want: "89.160.20.112"},
		{name: "pretend mapped", pretend: "::ffff:81.2.69.142", want: "81.2.69.142"},
		{name: "pretend off behind a proxy", trust: true, xff: []string{"198.51.100.7"}, pretend: "89.160.20.112", wantErr: true},
		{name: "pretend not a sample", pretend: "2001:db8::1", wantErr: true},
		{name: "pretend not a sample v4", pretend: "198.51.100.7", wantErr: true},
		{name: "pretend zone", pretend: "fe80::1%eth0", wantErr: true},
		{name: "pretend bad", pretend: "1.2.3", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &server{cfg: config{TrustProxy: tc.trust, DevTools: !tc.trust}}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:4321"
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
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

// assertNoFingerprintKept checks that no logged-in session holds a full
// hash once its devices page was shown.
func assertNoFingerprintKept(t *testing.T, srv *server) {
	t.Helper()
	srv.sessions.mu.Lock()
	defer srv.sessions.mu.Unlock()
	for _, e := range srv.sessions.m {
		if sess := e.Value.(*sessionEntry).sess; sess.LoggedIn {
			assert.Empty(t, sess.Outcome.Fingerprint, "session of %s", sess.User)
		}
	}
}

// A wrong password is counted even when a field of the request is invalid
// (a last fingerprint without a fingerprint): the engine drops the field.
func TestBruteForceWithInvalidField(t *testing.T) {
	t.Parallel()
	_, base := newTestServer(t)
	b := newBrowser(t, base)
	for range 8 {
		b.get("/login")
		p := b.post("/login", url.Values{"user": {"carol"}, "password": {"guess"}, "fingerprint": {""},
			"last_fingerprint": {"x"}, "pretend_ip": {"216.160.83.56"}})
		require.Equal(t, http.StatusUnauthorized, p.status)
	}
	p := b.login("carol", "christmas", fakeHash("attacker"), "", "216.160.83.56")
	assert.Equal(t, "challenge", p.attr("data-verdict"))
	assert.Contains(t, p.body, "<code>brute_force</code>")
}

func TestSessionsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ss := newSessions(clock, time.Hour, 3, func(*http.Request) bool { return false })
	start := func(user string) string {
		w := httptest.NewRecorder()
		ss.start(w, httptest.NewRequest(http.MethodPost, "/login", nil), session{User: user, LoggedIn: true})
		c := cookie(w.Result().Cookies(), sessionCookie)
		require.NotNil(t, c)
		return c.Value
	}
	get := func(id string) (session, bool) {
		r := httptest.NewRequest(http.MethodGet, "/devices", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
		return ss.get(r)
	}

	// Past the cap, the oldest is evicted.
	a, b, c := start("a"), start("b"), start("c")
	assert.Equal(t, 3, ss.len())
	d := start("d")
	assert.Equal(t, 3, ss.len())
	_, ok := get(a)
	assert.False(t, ok, "the oldest was evicted")
	for _, id := range []string{b, c, d} {
		_, ok := get(id)
		assert.True(t, ok)
	}

	// Expired sessions go at the next start, without a scan of the live
	// ones; get drops an expired one it meets.
	now = now.Add(30 * time.Minute)
	e := start("e") // evicts b, the oldest
	now = now.Add(45 * time.Minute)
	f := start("f") // c and d expired
	assert.Equal(t, 2, ss.len())
	for _, id := range []string{e, f} {
		sess, ok := get(id)
		assert.True(t, ok)
		assert.True(t, sess.LoggedIn)
	}
	now = now.Add(time.Hour)
	_, ok = get(f)
	assert.False(t, ok)
	assert.Equal(t, 1, ss.len(), "get dropped the expired session")

	// Logging out removes it.
	g := start("g")
	r := httptest.NewRequest(http.MethodPost, "/logout", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: g})
	ss.end(httptest.NewRecorder(), r)
	_, ok = get(g)
	assert.False(t, ok)
}

// The challenge and deny pages show the verdict, rule and reasons only:
// not where the owner logged in from. The owner sees the whole trace on the
// devices page.
func TestChallengeHidesOwnerDetails(t *testing.T) {
	t.Parallel()
	srv, base := newTestServerWith(t, config{GeoIP: []string{writeGeoDB(t)}})
	owner := newBrowser(t, base)
	p := owner.login("alice", "wonderland", fakeHash("desk"), "", "81.2.69.142")
	require.Equal(t, "allow", p.attr("data-verdict"), p.body)
	assert.Contains(t, p.body, "Geo signals on (city.mmdb)")
	assert.NotContains(t, p.body, filepath.Dir(srv.cfg.GeoIP[0]), "no server paths on the page")

	attacker := newBrowser(t, base)
	p = attacker.login("alice", "wonderland", fakeHash("attacker"), "", "175.16.199.0")
	require.True(t, strings.HasPrefix(p.path, "/challenge/"), p.path)
	assert.Equal(t, "challenge_and_restrict", p.attr("data-verdict"))
	for _, reason := range []string{"new_ip", "new_device", "impossible_travel"} {
		assert.Contains(t, p.body, "<code>"+reason+"</code>")
	}
	for _, leak := range []string{"81.2.69.142", "London", "last successful login", "Findings"} {
		assert.NotContains(t, p.body, leak)
	}

	// The owner completes the challenge (say it was her, travelling): the
	// devices page has the trace.
	id := p.attr("data-challenge")
	attacker.post("/challenge/"+id+"/send", url.Values{"channel": {"sms"}})
	m, ok := srv.outbox.Last(id)
	require.True(t, ok)
	p = attacker.post("/challenge/"+id+"/verify", url.Values{"code": {m.Code}})
	require.Equal(t, "/devices", p.path, p.body)
	assert.Contains(t, p.body, "Findings (the trace behind the verdict)")
	assert.Contains(t, p.body, "impossible travel from London, GB")
}

// writeGeoDB writes a City database in the flat layout of ip-location-db:
// 81.2.69.0/24 in London, 175.16.199.0/24 in Changchun.
func writeGeoDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "city ipv4", IPVersion: 4})
	require.NoError(t, err)
	for _, n := range []struct {
		cidr, country, city string
		lat, lon            float32
	}{
		{"81.2.69.0/24", "GB", "London", 51.5143, -0.0912},
		{"175.16.199.0/24", "CN", "Changchun", 43.88, 125.3228},
	} {
		_, network, err := net.ParseCIDR(n.cidr)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(network, mmdbtype.Map{
			"country_code": mmdbtype.String(n.country),
			"city":         mmdbtype.String(n.city),
			"latitude":     mmdbtype.Float32(n.lat),
			"longitude":    mmdbtype.Float32(n.lon),
		}))
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = tree.WriteTo(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

// challengeFor logs alice in from a desktop, then from a phone in another
// country, sends a code by email, and returns the phone, the challenge and
// the code.
func challengeFor(t *testing.T, srv *server, base string) (*browser, string, string) {
	t.Helper()
	newBrowser(t, base).login("alice", "wonderland", fakeHash("desk"), "", "")
	phone := newBrowser(t, base)
	p := phone.login("alice", "wonderland", fakeHash("phone"), "", "89.160.20.112")
	require.True(t, strings.HasPrefix(p.path, "/challenge/"), p.path)
	id := p.attr("data-challenge")
	p = phone.post("/challenge/"+id+"/send", url.Values{"channel": {"email"}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	m, ok := srv.outbox.Last(id)
	require.True(t, ok)
	return phone, id, m.Code
}

// A challenge verified whose completion did not happen (a failed request,
// a lost answer) is completed from the page.
func TestChallengeVerifiedNotCompleted(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"", "right", "whatever"} {
		t.Run("code "+code, func(t *testing.T) {
			t.Parallel()
			srv, base := newTestServer(t)
			phone, id, right := challengeFor(t, srv, base)
			ok, err := srv.engine.VerifyChallengeCode(context.Background(), id, right)
			require.NoError(t, err)
			require.True(t, ok)

			p := phone.get("/challenge/" + id)
			require.Equal(t, http.StatusOK, p.status)
			assert.False(t, p.hasError(), p.body)
			assert.Contains(t, p.body, `id="finish"`)
			assert.NotContains(t, p.body, `id="code"`)

			if code == "right" {
				code = right
			}
			p = phone.post("/challenge/"+id+"/verify", url.Values{"code": {code}})
			require.Equal(t, "/devices", p.path, p.body)
			assert.False(t, p.hasError(), p.body)
			assert.Equal(t, "true", p.attr("data-completed"))
		})
	}
}

// An empty code for a challenge not verified asks for the code.
func TestChallengeEmptyCode(t *testing.T) {
	t.Parallel()
	srv, base := newTestServer(t)
	phone, id, _ := challengeFor(t, srv, base)
	p := phone.post("/challenge/"+id+"/verify", url.Values{"code": {""}})
	assert.Equal(t, http.StatusUnprocessableEntity, p.status)
	assert.Contains(t, p.body, "Enter the code.")
}

// A challenge completed by another request of the same browser (a second
// click on Verify) is a success for this one too.
func TestChallengeCompletedByAnotherRequest(t *testing.T) {
	t.Parallel()
	srv, base := newTestServer(t)
	phone, id, code := challengeFor(t, srv, base)
	ok, err := srv.engine.VerifyChallengeCode(context.Background(), id, code)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, srv.engine.CompleteChallenge(context.Background(), id))

	p := phone.post("/challenge/"+id+"/verify", url.Values{"code": {code}})
	require.Equal(t, "/devices", p.path, p.body)
	assert.False(t, p.hasError(), p.body)
	assert.Equal(t, "alice", p.attr("data-user"))
	assert.Equal(t, "true", p.attr("data-completed"))
}

// Two clicks on Verify at once: no server error, and the browser ends up
// logged in.
func TestChallengeDoubleVerify(t *testing.T) {
	t.Parallel()
	srv, base := newTestServer(t)
	phone, id, code := challengeFor(t, srv, base)
	var wg sync.WaitGroup
	status := make([]int, 2)
	where := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			c := *phone.c
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.PostForm(base+"/challenge/"+id+"/verify", url.Values{"csrf": {phone.csrf}, "code": {code}})
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			status[i], where[i] = resp.StatusCode, resp.Header.Get("Location")
		})
	}
	wg.Wait()
	for i := range 2 {
		assert.Less(t, status[i], 500)
	}
	assert.Contains(t, where, "/devices")
	p := phone.get("/devices")
	assert.Equal(t, "/devices", p.path)
	assert.Equal(t, "true", p.attr("data-completed"))
}

// The notice after a send names the channel, and no other text.
func TestSentNotice(t *testing.T) {
	t.Parallel()
	srv, base := newTestServer(t)
	phone, id, _ := challengeFor(t, srv, base)
	p := phone.get("/challenge/" + id + "?sent=sms")
	assert.Contains(t, p.body, "A code was sent by SMS")
	for _, sent := range []string{"carrier pigeon; call +1 555 0199 now", "<b>x</b>"} {
		p = phone.get("/challenge/" + id + "?sent=" + url.QueryEscape(sent))
		assert.Equal(t, http.StatusOK, p.status)
		assert.NotContains(t, p.body, "A code was sent")
		assert.NotContains(t, p.body, "pigeon")
	}
}

// Behind a proxy: the client's address and HTTPS come from its headers,
// and the "come from" control is off.
func TestTrustProxy(t *testing.T) {
	t.Parallel()
	srv, base := newTestServerWith(t, config{TrustProxy: true})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, proto string, form url.Values, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "81.2.69.142")
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		return resp
	}

	resp := do(http.MethodGet, "/login", "https", nil)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, string(body), `id="pretend-off"`)
	assert.Regexp(t, `<select id="pretend_ip" name="pretend_ip" disabled>`, string(body))
	assert.Contains(t, string(body), "81.2.69.142, from X-Forwarded-For")
	csrf := cookie(resp.Cookies(), csrfCookie)
	require.NotNil(t, csrf)
	assert.True(t, csrf.Secure, "X-Forwarded-Proto: https")

	form := url.Values{"csrf": {csrf.Value}, "user": {"alice"}, "password": {"wonderland"},
		"fingerprint": {fakeHash("desk")}, "version": {"ato.js/1"}}
	pretend := url.Values{"pretend_ip": {"89.160.20.112"}}
	for k, v := range form {
		pretend[k] = v
	}
	resp = do(http.MethodPost, "/login", "https", pretend, csrf)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "the control is off")

	resp = do(http.MethodPost, "/login", "https", form, csrf)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	sess := cookie(resp.Cookies(), sessionCookie)
	require.NotNil(t, sess)
	assert.True(t, sess.Secure)
	assert.Nil(t, cookie(resp.Cookies(), pretendCookie), "no control, no cookie")
	got, ok := srv.sessions.get(func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(sess)
		return r
	}())
	require.True(t, ok)
	assert.Equal(t, "81.2.69.142", got.Outcome.IP)

	// Over plain http at the proxy: not Secure. The last entry counts.
	resp = do(http.MethodGet, "/login", "https, http", nil)
	resp.Body.Close()
	csrf = cookie(resp.Cookies(), csrfCookie)
	require.NotNil(t, csrf)
	assert.False(t, csrf.Secure)
}

// Without -trust-proxy, X-Forwarded-Proto is anyone's claim.
func TestSecureNeedsTrustProxy(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	assert.False(t, (&server{}).secure(r))
	assert.True(t, (&server{cfg: config{TrustProxy: true}}).secure(r))
	r.Header.Set("X-Forwarded-Proto", "HTTPS")
	assert.True(t, (&server{cfg: config{TrustProxy: true}}).secure(r))
	r.Header.Del("X-Forwarded-Proto")
	assert.False(t, (&server{cfg: config{TrustProxy: true}}).secure(r))
}

// A wrong password the engine cannot record is logged, not skipped in
// silence.
func TestRecordFailureLogged(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	_, base := newTestServerWith(t, config{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	b := newBrowser(t, base)
	p := b.login(strings.Repeat("m", ato.MaxUserLen+1), "guess", "", "", "")
	assert.Equal(t, http.StatusUnauthorized, p.status)
	assert.Contains(t, buf.String(), "record failure")
}

// syncBuffer is a bytes.Buffer for a logger that requests write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The outbox and the "come from" control are for a demo on one's own
// machine: on loopback only, unless started as a public demo.
func TestDevToolsOnlyOnLoopbackOrWhenPublic(t *testing.T) {
	t.Parallel()
	lo4, lo6 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.TCPAddr{IP: net.IPv6loopback}
	any4, lan := &net.TCPAddr{IP: net.IPv4zero}, &net.TCPAddr{IP: net.IPv4(192, 168, 1, 20)}
	for _, tc := range []struct {
		addr          net.Addr
		proxy, public bool
		want          bool
	}{
		{lo4, false, false, true},
		{lo6, false, false, true},
		{lo4, true, false, false}, // a reverse proxy in front passes everyone on
		{any4, false, false, false},
		{lan, false, false, false},
		{lan, true, false, false},
		{lan, false, true, true},
		{any4, true, true, true},
		{&net.UnixAddr{Name: "/tmp/demo.sock", Net: "unix"}, false, false, false},
	} {
		assert.Equal(t, tc.want, devTools(tc.addr, tc.proxy, tc.public), "%v proxy=%v public=%v", tc.addr, tc.proxy, tc.public)
	}
}

// With the conveniences off, nobody reads alice's code from the outbox,
// nobody claims her network, and the operator finds the code in the
// terminal.
func TestOutboxAndComeFromOffWhenExposed(t *testing.T) {
	t.Parallel()
	var terminal syncBuffer
	srv, err := newServer(config{Store: filepath.Join(t.TempDir(), "demo.db"), Codes: &terminal})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		assert.NoError(t, srv.Close())
	})

	owner := newBrowser(t, ts.URL)
	require.Equal(t, "allow", owner.login("alice", "wonderland", fakeHash("desk"), "", "").attr("data-verdict"))

	attacker := newBrowser(t, ts.URL)
	login := attacker.get("/login")
	assert.Contains(t, login.body, `id="pretend-off"`)
	assert.Contains(t, login.body, `<select id="pretend_ip" name="pretend_ip" disabled>`)
	assert.NotContains(t, login.body, `href="/outbox"`)
	assert.Contains(t, login.body, `The outbox and the "come from" control are off`)

	claimed := attacker.login("alice", "wonderland", fakeHash("attacker"), "", "89.160.20.112")
	assert.Equal(t, http.StatusBadRequest, claimed.status, "the owner's sample address cannot be claimed")
	assert.Contains(t, claimed.body, "the control is off")

	// A challenge of the attacker's, from elsewhere, and a code sent for it.
	ctx := t.Context()
	res, err := srv.engine.Evaluate(ctx, ato.Request{User: "alice", Fingerprint: fakeHash("attacker"),
		IP: "203.0.113.5", Email: "alice@example.com"})
	require.NoError(t, err)
	require.Equal(t, verdict.Challenge, res.Verdict)
	require.NoError(t, srv.engine.SendChallengeCode(ctx, res.ChallengeID, challenge.Email))
	m, ok := srv.outbox.Last(res.ChallengeID)
	require.True(t, ok)

	box := attacker.get("/outbox")
	assert.Equal(t, http.StatusNotFound, box.status)
	assert.NotContains(t, box.body, m.Code, "the code is on no page")
	assert.Contains(t, box.body, "The outbox is off")
	assert.Contains(t, terminal.String(), "code "+m.Code+" for alice", "the operator reads it in the terminal")
}
