//go:build e2e

// The end-to-end test: the demo in-process, real Chromium profiles making
// real fingerprints with ato.js and with the Rupt SDK. It needs Debian's
// chromium (or chromium-browser, google-chrome) on PATH and the SDK in
// node_modules (npm ci in examples/webapp). Run it with
//
//	go test -tags e2e -count=1 -v ./examples/webapp/ -run E2E
//
// Screenshots of every step go to the folder e2e in $ATO_E2E_SCREENSHOTS,
// or in the folder screenshots next to this file; a run empties that folder
// of the screenshots of the run before, and touches nothing else.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/atoguard/ato/fingerprint"
)

// stepTimeout bounds one step: a navigation or a form, with hashing;
// startTimeout the start of a browser.
const (
	stepTimeout  = 60 * time.Second
	startTimeout = 60 * time.Second
)

func TestE2E(t *testing.T) {
	chromium := findChromium(t)
	shots := screenshotDir(t)
	ruptDir, err := filepath.Abs(filepath.Join("node_modules", "rupt"))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(ruptDir, "index.js"))
	require.NoError(t, err, "the Rupt SDK is not installed: run npm ci in examples/webapp")

	srv, err := newServer(config{Store: filepath.Join(t.TempDir(), "demo.db"), RuptDir: ruptDir, DevTools: true}) // on loopback
	require.NoError(t, err)
	var verifies atomic.Int32 // POSTs of the challenge's code
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/verify") {
			verifies.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		assert.NoError(t, srv.Close())
	})
	run := &e2e{t: t, base: ts.URL, shots: shots}

	desktop := run.profile(chromium, "desktop")
	phone := run.profile(chromium, "phone", chromedp.Emulate(device.IPhone13))

	// 1. alice on the desktop: allowed.
	first := desktop.login("alice", "wonderland", "", "ato")
	assert.Equal(t, "allow", first.Verdict)
	require.True(t, fingerprint.IsFuzzy(first.Fingerprint), "ato.js made %q", first.Fingerprint)
	assert.Equal(t, "ato.js/1", first.Version)
	assert.Equal(t, first.Fingerprint, desktop.eval(`localStorage.getItem("ato_last_fp")`), "the accepted hash is saved")

	// 2. Again: allowed, the same device.
	second := desktop.login("alice", "wonderland", "", "ato")
	assert.Equal(t, "allow", second.Verdict)
	assert.Equal(t, first.Device, second.Device)
	assert.Equal(t, first.Fingerprint, second.Fingerprint, "ato.js is stable in one profile")

	// 3. A phone from another IP: challenged. The page shows the verdict
	// and the reasons' names, not the findings behind them.
	const phoneIP = "89.160.20.112"
	challenged := phone.login("alice", "wonderland", phoneIP, "ato")
	require.Equal(t, "challenge", challenged.Verdict)
	require.True(t, fingerprint.IsFuzzy(challenged.Fingerprint))
	assert.Empty(t, challenged.Device, "the challenge page does not say which device matched")
	require.NotEmpty(t, challenged.Challenge)
	assert.Equal(t, "false", phone.eval(`String(document.body.textContent.includes("last successful login"))`))
	t.Logf("ato.js: desktop and phone hashes are %.3f alike", fingerprint.Similarity(first.Fingerprint, challenged.Fingerprint))
	assert.Empty(t, phone.eval(`localStorage.getItem("ato_last_fp") || ""`), "a challenged hash is not saved")

	// 4. Send a code by email.
	sent := phone.submit("send-code", `#send-email`)
	assert.Equal(t, "challenge", sent.Page)

	// 5. alice reads it in the outbox, on her desktop. The challenge's page
	// opens only in the phone, whose login waits for it: no link here.
	desktop.open("outbox", "/outbox")
	code := desktop.eval(fmt.Sprintf(`document.querySelector('tr[data-challenge=%q]').dataset.code`, challenged.Challenge))
	require.Len(t, code, 6)
	assert.Equal(t, "0", desktop.eval(fmt.Sprintf(`String(document.querySelectorAll('a[href="/challenge/%s"]').length)`, challenged.Challenge)))

	// 6. Verify and complete, with a double click that sends the code
	// once: logged in, the phone now trusted, another device.
	require.NoError(t, phone.do(chromedp.SetValue(chromedp.CSS("#code"), code)))
	// A listener after app.js's notes, in sessionStorage (it outlives the
	// page), the submits app.js let through and the button's state.
	phone.eval(`document.querySelector("form.once").addEventListener("submit", (ev) => {
	  const n = Number(sessionStorage.getItem("submits") || 0) + (ev.defaultPrevented ? 0 : 1);
	  sessionStorage.setItem("submits", String(n));
	  sessionStorage.setItem("disabled", String(document.getElementById("verify").disabled));
	}); ""`)
	before := verifies.Load()
	done := phone.submitWith("verify", chromedp.DoubleClick(chromedp.CSS(`#verify`)))
	assert.Equal(t, "devices", done.Page)
	assert.Equal(t, "true", done.Completed)
	assert.Equal(t, int32(1), verifies.Load()-before, "the code is sent once")
	assert.Equal(t, "1", phone.eval(`sessionStorage.getItem("submits")`), "the second click sends nothing")
	assert.Equal(t, "true", phone.eval(`sessionStorage.getItem("disabled")`), "the Verify button is disabled on submit")
	assert.Equal(t, challenged.Fingerprint, phone.eval(`localStorage.getItem("ato_last_fp")`))
	require.NotEmpty(t, done.Device)
	assert.NotEqual(t, first.Device, done.Device)

	// 7. The phone again, from the same IP: allowed, the same device.
	again := phone.login("alice", "wonderland", phoneIP, "ato")
	assert.Equal(t, "allow", again.Verdict)
	assert.Equal(t, done.Device, again.Device)

	// 8. The devices page names each device by its browser and system,
	// and marks the one looking at it.
	names := phone.eval(`[...document.querySelectorAll("#device-list .device-name")].map(e => e.textContent).join("|")`)
	assert.Contains(t, names, "on iPhone", "the phone's emulated Safari")
	assert.Contains(t, names, "Chrome", "the desktop's Chromium")
	assert.Equal(t, again.Device, phone.eval(`document.querySelector('tr[data-current="true"]').dataset.device`))
	assert.Equal(t, "this device", phone.eval(`document.querySelector('tr[data-current="true"] .this-device').textContent`))

	// 9. Forget the desktop: the page asks first and says what comes next.
	asked := phone.submit("forget-ask", fmt.Sprintf(`tr[data-device=%q] button.forget`, first.Device))
	require.Equal(t, "forget", asked.Page)
	assert.Equal(t, first.Device, asked.Device)
	assert.Contains(t, phone.eval(`document.querySelector("main").textContent`), "confidence 1.000")
	forgot := phone.submit("forget", "#confirm-forget")
	require.Equal(t, "devices", forgot.Page)
	assert.Contains(t, phone.eval(`document.querySelector(".notice").textContent`), "Forgot device")
	assert.Equal(t, "0", phone.eval(fmt.Sprintf(`String(document.querySelectorAll('tr[data-device=%q]').length)`, first.Device)))

	// 10. Its next login: the same device id, new to alice again.
	back := desktop.login("alice", "wonderland", "", "ato")
	assert.Equal(t, first.Device, back.Device)
	assert.Contains(t, desktop.eval(`document.getElementById("outcome").textContent`), "new_device")

	// The Rupt SDK's getHash(), in a profile of its own: one device id
	// across a reload.
	rupt := run.profile(chromium, "rupt")
	r1 := rupt.login("bob", "builder", "", "rupt")
	assert.Equal(t, "allow", r1.Verdict)
	require.True(t, fingerprint.IsFuzzy(r1.Fingerprint), "Rupt.getHash() made %q", r1.Fingerprint)
	assert.True(t, strings.HasPrefix(r1.Version, "rupt/2.24.1"), r1.Version)
	assert.Equal(t, r1.Fingerprint, rupt.eval(`localStorage.getItem("rpt_last_fp")`), "saved where the SDK reads it")
	rupt.open("rupt-before-reload", "/login?sdk=rupt")
	require.NoError(t, rupt.do(chromedp.Reload()))
	r2 := rupt.login("bob", "builder", "", "rupt")
	assert.Equal(t, "allow", r2.Verdict)
	assert.Equal(t, r1.Device, r2.Device)
	t.Logf("Rupt SDK: hashes before and after the reload are %.3f alike", fingerprint.Similarity(r1.Fingerprint, r2.Fingerprint))

	// A getHash() that never settles: the form goes without a
	// fingerprint after app.js's 3 seconds.
	t.Run("hash timeout", func(t *testing.T) {
		run := &e2e{t: t, base: ts.URL, shots: shots}
		slow := run.profile(chromium, "slow")
		slow.open("login-carol", "/login")
		slow.eval(`window.ato.getHash = () => new Promise(() => {}); ""`)
		start := time.Now()
		st := slow.login("carol", "christmas", "", "", withoutReload)
		took := time.Since(start)
		assert.Equal(t, "allow", st.Verdict)
		assert.Empty(t, st.Fingerprint)
		assert.Contains(t, slow.eval(`document.getElementById("outcome").textContent`), "missing_fingerprint")
		assert.GreaterOrEqual(t, took, 3*time.Second)
		assert.Less(t, took, 20*time.Second)
	})

	// Plain http away from localhost: no secure context, so no
	// crypto.subtle and no fingerprint, and no Sec-Fetch-Site on the
	// form's POST. The login still works: the page sends its Origin
	// (Referrer-Policy: same-origin, not no-referrer, which makes it
	// null), and CrossOriginProtection accepts it.
	t.Run("non-loopback", func(t *testing.T) {
		ip := nonLoopbackIPv4(t)
		if ip == "" {
			t.Skip("no non-loopback IPv4 address on this machine")
		}
		lan, err := newServer(config{Store: filepath.Join(t.TempDir(), "demo.db")})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		require.NoError(t, err)
		hs := &http.Server{Handler: lan, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() {
			_ = hs.Close()
			assert.NoError(t, lan.Close())
		})
		run := &e2e{t: t, base: "http://" + ln.Addr().String(), shots: shots}
		p := run.profile(chromium, "lan")
		p.open("login-alice", "/login")
		assert.Equal(t, "false", p.eval(`String(window.isSecureContext)`))
		assert.Equal(t, "false", p.eval(`String(document.getElementById("insecure").hidden)`), "the page says why there is no fingerprint")
		st := p.login("alice", "wonderland", "", "", withoutReload)
		assert.Equal(t, "devices", st.Page)
		assert.Equal(t, "allow", st.Verdict)
		assert.Empty(t, st.Fingerprint)
		assert.Contains(t, p.eval(`document.getElementById("outcome").textContent`), "missing_fingerprint")
	})
	t.Logf("screenshots in %s", shots)
}

// nonLoopbackIPv4 returns an IPv4 address of this machine that is not a
// loopback one, or "".
func nonLoopbackIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// e2e is one run: the demo's URL and the screenshot folder.
type e2e struct {
	t     *testing.T
	base  string
	shots string
	mu    sync.Mutex
	n     int // screenshots taken, for their names
}

// state is what the test reads from a page: the data attributes of its
// main element, and the visible .error elements.
type state struct {
	Page        string   `json:"page"`
	Verdict     string   `json:"verdict"`
	Device      string   `json:"device"`
	Fingerprint string   `json:"fingerprint"`
	Version     string   `json:"version"`
	Challenge   string   `json:"challenge"`
	Completed   string   `json:"completed"`
	Errors      []string `json:"errors"`
	Path        string   `json:"path"`
}

const readState = `(() => {
  const m = document.querySelector("main") || document.createElement("main");
  const d = m.dataset;
  const errors = [...document.querySelectorAll(".error")]
    .filter(e => e.getClientRects().length > 0)
    .map(e => e.textContent.trim());
  return {page: d.page || "", verdict: d.verdict || "", device: d.device || "", fingerprint: d.fingerprint || "",
    version: d.version || "", challenge: d.challenge || "", completed: d.completed || "", errors, path: location.pathname};
})()`

// profile is one Chromium with a user-data folder of its own.
type profile struct {
	run  *e2e
	name string
	ctx  context.Context
	mu   sync.Mutex
	exc  []string // uncaught exceptions of the pages
}

// profile starts a browser; setup runs before the first page (emulation).
func (run *e2e) profile(chromium, name string, setup ...chromedp.Action[chromedp.Void]) *profile {
	t := run.t
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	p := &profile{run: run, name: name, ctx: ctx}
	// The first Do starts the browser and binds its life to ctx, so the
	// time limit is a timer here, not a context of the call.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, setup...) }()
	select {
	case err := <-started:
		require.NoError(t, err, "start %s", name)
	case <-time.After(startTimeout):
		cancelTab()
		cancelAlloc()
		t.Fatalf("start %s: no browser after %s", name, startTimeout)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				p.mu.Lock()
				p.exc = append(p.exc, m.String())
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// do runs actions with the step's time limit.
func (p *profile) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// eval returns the string value of a JavaScript expression.
func (p *profile) eval(js string) string {
	p.run.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	require.NoError(p.run.t, err, js)
	return v
}

// open loads a path and checks the page.
func (p *profile) open(step, path string) state {
	p.run.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.run.base+path))
	require.NoError(p.run.t, err, "%s: open %s", p.name, path)
	return p.check(step, resp.Status)
}

// submit clicks a button that sends a form, waits for the page that
// answers, and checks it.
func (p *profile) submit(step, button string) state {
	p.run.t.Helper()
	return p.submitWith(step, chromedp.Click(chromedp.CSS(button)))
}

// submitWith runs an action that sends a form, waits for the page that
// answers, and checks it.
func (p *profile) submitWith(step string, action chromedp.Action[chromedp.Void]) state {
	p.run.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, action)
	require.NoError(p.run.t, err, "%s: %s", p.name, step)
	require.NotNil(p.run.t, resp, "%s: %s: no page loaded", p.name, step)
	return p.check(step, resp.Status)
}

// withoutReload, as login's last argument, fills the login page already
// open.
const withoutReload = true

// login fills the login form (pretend: the demo control's IP, or "" for
// the real one) in ato.js or rupt mode ("" is ato) and sends it. It opens
// the login page first, unless told withoutReload.
func (p *profile) login(user, password, pretend, sdk string, opened ...bool) state {
	t := p.run.t
	t.Helper()
	if sdk == "" {
		sdk = "ato"
	}
	path := "/login"
	if sdk == "rupt" {
		path += "?sdk=rupt"
	}
	if len(opened) == 0 || !opened[0] {
		p.open("login-"+user, path)
	}
	require.NoError(t, p.do(
		chromedp.WaitVisible(chromedp.CSS(`#login-form[data-ready="true"][data-sdk="`+sdk+`"]`)),
		chromedp.SetValue(chromedp.CSS("#user"), user),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.SetValue(chromedp.CSS("#pretend_ip"), pretend),
	))
	st := p.submit("logged-in-"+user, "#login-button")
	require.NotEmpty(t, st.Verdict, "%s: the login of %s ended on %s without a verdict", p.name, user, st.Path)
	return st
}

// check reads the page, saves a screenshot, and fails the test on an HTTP
// status of 500 or more, a visible .error element or an uncaught
// exception.
func (p *profile) check(step string, status int64) state {
	t := p.run.t
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[state](readState))
	require.NoError(t, err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	p.run.mu.Lock()
	p.run.n++
	name := filepath.Join(p.run.shots, fmt.Sprintf("%02d-%s-%s.png", p.run.n, p.name, step))
	p.run.mu.Unlock()
	require.NoError(t, os.WriteFile(name, shot, 0o644))

	require.Less(t, status, int64(http.StatusInternalServerError), "%s: %s: HTTP %d on %s (%s)", p.name, step, status, st.Path, name)
	require.Empty(t, st.Errors, "%s: %s: the page %s shows an error (%s)", p.name, step, st.Path, name)
	p.mu.Lock()
	exc := p.exc
	p.mu.Unlock()
	require.Empty(t, exc, "%s: %s: uncaught exceptions", p.name, step)
	return st
}

// findChromium returns the browser to drive.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("no chromium, chromium-browser or google-chrome on PATH: apt-get install -y chromium")
	return ""
}

// shotName matches the names of the screenshots check writes.
var shotName = regexp.MustCompile(`^[0-9]{2,}-[a-z0-9]+-[a-z0-9-]+\.png$`)

// screenshotDir returns the folder for screenshots: e2e in
// $ATO_E2E_SCREENSHOTS or in screenshots, emptied of the screenshots of the
// last run. Nothing else in it, or outside it, is removed.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("ATO_E2E_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	dir, err := filepath.Abs(filepath.Join(dir, "e2e"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	old, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, f := range old {
		if f.Type().IsRegular() && shotName.MatchString(f.Name()) {
			require.NoError(t, os.Remove(filepath.Join(dir, f.Name())))
		}
	}
	return dir
}
