// Command ruptcapture records real fingerprint hashes of the Rupt browser SDK
// (Rupt.getHash) in headless Chromium, under controlled browser changes, as
// test data for the fingerprint package.
//
// Usage, from the root of the repository:
//
//	go run ./internal/ruptcapture -sdk PATH -out fingerprint/testdata/rupt-2.24.1.json
//
// PATH is the global build of the npm package rupt (the index.js that sets
// window.Rupt); its package.json, next to it, names the version. Each variant
// runs in its own Chromium process with a fresh, empty profile. The program
// serves a small page and the SDK from a loopback HTTP server, applies the
// variant's emulation over the DevTools protocol before it loads the page, and
// awaits Rupt.getHash() there. It needs no network other than loopback, and
// it runs Chromium without a sandbox, so it works as root in a container.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// page is the HTML page that loads the SDK and exposes capture, which resolves
// to the two hashes of Rupt.getHash; a missing last hash becomes "".
const page = `<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ruptcapture</title>
<script src="/rupt.js"></script>
<script>
window.capture = async () => {
  const [fp, last] = await Rupt.getHash();
  return {fp: fp, last: last || ""};
};
</script>
</head><body><p>ruptcapture</p></body></html>`

// uaHints reads the user-agent client hints of the page, in the shape of
// uaMetadata.
const uaHints = `navigator.userAgentData.getHighEntropyValues(["architecture", "bitness", "model",
  "platformVersion", "fullVersionList", "uaFullVersion", "wow64", "formFactors"])
  .then(h => ({...h, fullVersion: h.uaFullVersion}))`

// envScript reports the browser properties that the emulation changes, so
// that the log shows that each override took effect.
const envScript = `(async () => JSON.stringify({ua: navigator.userAgent, platform: navigator.platform,
  hints: await (` + uaHints + `).then(h => [h.platform, h.model, h.mobile, h.fullVersion]), languages: navigator.languages,
  tz: Intl.DateTimeFormat().resolvedOptions().timeZone, locale: Intl.DateTimeFormat().resolvedOptions().locale,
  screen: [screen.width, screen.height], inner: [innerWidth, innerHeight],
  dpr: devicePixelRatio, touch: navigator.maxTouchPoints}))()`

// validHash reports whether fp has the shape of a fuzzy hash of the SDK:
// 2048 lowercase hex characters.
func validHash(fp string) bool {
	return len(fp) == 2048 && strings.Trim(fp, "0123456789abcdef") == ""
}

// setup is the emulated state of a browser. Every field is applied, also
// when it equals the browser's own value, so that all variants take the same
// path through the emulation and differ only in their values.
type setup struct {
	width, height int64
	dpr           float64
	mobile        bool
	touchPoints   int64 // 0 leaves touch emulation off
	timezone      string
	locale        string
	userAgent     string
	platform      string // navigator.platform
	uaMetadata    *uaMetadata
}

// uaMetadata is the user-agent client hints to emulate. FullVersion is the
// deprecated field that cdproto no longer has; Chromium still takes
// navigator.userAgentData's uaFullVersion from it, which the SDK reads.
type uaMetadata struct {
	emulation.UserAgentMetadata
	FullVersion string `json:"fullVersion,omitempty"`
}

// uaOverride is emulation.SetUserAgentOverrideParams with uaMetadata.
type uaOverride struct {
	UserAgent         string      `json:"userAgent"`
	AcceptLanguage    string      `json:"acceptLanguage,omitempty"`
	Platform          string      `json:"platform,omitempty"`
	UserAgentMetadata *uaMetadata `json:"userAgentMetadata,omitempty"`
}

// setUserAgentOverride is emulation.SetUserAgentOverride with uaOverride.
var setUserAgentOverride = cdp.Command[uaOverride, cdp.Empty]{Method: emulation.CommandSetUserAgentOverride}

// variant is one recorded entry of the output.
type variant struct {
	name        string
	description string
	setup       setup
	reload      bool // capture after a reload, with the first hash saved as the last one
}

// entry is the JSON form of one variant.
type entry struct {
	Description string `json:"description"`
	FP          string `json:"fp"`
	Last        string `json:"last"`
}

// output is the JSON file.
type output struct {
	SDK      string           `json:"sdk"`
	Chromium string           `json:"chromium"`
	Recorded string           `json:"recorded"`
	Variants map[string]entry `json:"variants"`
}

// hashes is what window.capture resolves to.
type hashes struct {
	FP   string `json:"fp"`
	Last string `json:"last"`
}

func main() {
	sdk := flag.String("sdk", "examples/webapp/node_modules/rupt/index.js", "path of the SDK's global build (index.js)")
	out := flag.String("out", "fingerprint/testdata/rupt-2.24.1.json", "path of the JSON file to write")
	chromium := flag.String("chromium", "/usr/bin/chromium", "path of the Chromium binary")
	timeout := flag.Duration("timeout", time.Minute, "time limit of one variant")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*sdk, *out, *chromium, *timeout); err != nil {
		log.Fatal(err)
	}
}

// run records every variant and writes the file.
func run(sdkPath, outPath, chromium string, timeout time.Duration) error {
	script, err := os.ReadFile(sdkPath)
	if err != nil {
		return err
	}
	label, err := sdkLabel(filepath.Join(filepath.Dir(sdkPath), "package.json"))
	if err != nil {
		return err
	}
	srv := httptest.NewServer(handler(script))
	defer srv.Close()

	b := &browserRun{exec: chromium, url: srv.URL + "/", timeout: timeout}
	def, err := b.defaults()
	if err != nil {
		return fmt.Errorf("reading the browser's defaults: %w", err)
	}
	log.Printf("%s, default user agent %q", def.version, def.userAgent)

	res := output{SDK: label, Chromium: def.version, Recorded: time.Now().UTC().Format("2006-01-02"), Variants: map[string]entry{}}
	for _, v := range variants(def) {
		h, err := b.capture(v)
		if err != nil {
			return fmt.Errorf("variant %s: %w", v.name, err)
		}
		if !validHash(h.FP) {
			return fmt.Errorf("variant %s: fingerprint is not 2048 lowercase hex characters: %q", v.name, h.FP)
		}
		res.Variants[v.name] = entry{Description: v.description, FP: h.FP, Last: h.Last}
	}

	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, append(data, '\n'), 0o644)
}

// sdkLabel returns "name@version" from the package.json of the SDK.
func sdkLabel(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var pkg struct{ Name, Version string }
	if err := json.Unmarshal(data, &pkg); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if pkg.Name == "" || pkg.Version == "" {
		return "", fmt.Errorf("%s: no name or version", path)
	}
	return pkg.Name + "@" + pkg.Version, nil
}

// handler serves the page at / and the SDK at /rupt.js.
func handler(script []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("GET /rupt.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(script)
	})
	return mux
}

// defaults is what an unmodified browser reports about itself.
type defaults struct {
	version    string // such as "156.0.8078.108"
	userAgent  string
	platform   string
	uaMetadata *uaMetadata
}

// browserRun starts browsers that load the page at url.
type browserRun struct {
	exec    string
	url     string
	timeout time.Duration
}

// start runs a fresh Chromium with an empty profile of its own, and returns a
// chromedp context of its first tab and a func that stops the browser and
// removes the profile.
func (b *browserRun) start(width, height int64) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "ruptcapture-")
	if err != nil {
		return nil, nil, err
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), b.timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(b.exec),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(int(width), int(height)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	tctx, cancelTab := chromedp.NewContext(actx)
	stop := func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		_ = os.RemoveAll(dir)
	}
	if err := chromedp.Do(tctx); err != nil { // starts the browser
		stop()
		return nil, nil, err
	}
	return tctx, stop, nil
}

// defaults loads the page in an unmodified browser and reads its version,
// user agent, navigator.platform and user-agent client hints.
func (b *browserRun) defaults() (defaults, error) {
	ctx, stop, err := b.start(1366, 768)
	if err != nil {
		return defaults{}, err
	}
	defer stop()
	v, err := chromedp.CallBrowser(ctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		return defaults{}, err
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(b.url)); err != nil {
		return defaults{}, err
	}
	platform, err := chromedp.Run(ctx, chromedp.Evaluate[string]("navigator.platform"))
	if err != nil {
		return defaults{}, err
	}
	meta, err := chromedp.Run(ctx, chromedp.Evaluate[uaMetadata](uaHints, chromedp.EvalAwaitPromise))
	if err != nil {
		return defaults{}, err
	}
	_, version, _ := strings.Cut(v.Product, "/")
	return defaults{version: version, userAgent: v.UserAgent, platform: platform, uaMetadata: &meta}, nil
}

// capture runs the variant in a fresh browser and returns the hashes.
func (b *browserRun) capture(v variant) (hashes, error) {
	s := v.setup
	ctx, stop, err := b.start(s.width, s.height)
	if err != nil {
		return hashes{}, err
	}
	defer stop()

	steps := []chromedp.Action[chromedp.Void]{
		call(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: s.width, Height: s.height, DeviceScaleFactor: s.dpr, Mobile: s.mobile,
			ScreenWidth: s.width, ScreenHeight: s.height,
		}),
		call(emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: s.timezone}),
		call(emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: s.locale}),
		call(setUserAgentOverride, uaOverride{
			UserAgent: s.userAgent, AcceptLanguage: s.locale, Platform: s.platform, UserAgentMetadata: s.uaMetadata,
		}),
	}
	if s.touchPoints > 0 {
		steps = append(steps, call(emulation.SetTouchEmulationEnabled,
			emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: s.touchPoints}))
	}
	steps = append(steps, chromedp.Navigate(b.url))
	if err := chromedp.Do(ctx, steps...); err != nil {
		return hashes{}, err
	}
	env, err := chromedp.Run(ctx, chromedp.Evaluate[string](envScript, chromedp.EvalAwaitPromise))
	if err != nil {
		return hashes{}, err
	}
	log.Printf("%s: %s", v.name, env)

	get := chromedp.Evaluate[hashes]("window.capture()", chromedp.EvalAwaitPromise)
	first, err := chromedp.Run(ctx, get)
	if err != nil || !v.reload {
		return first, err
	}
	return captureAfterReload(ctx, get, first)
}

// captureAfterReload checks that getHash does not save the hash by itself,
// saves the first hash under the SDK's key rpt_last_fp as the SDK does after
// its own evaluate call, reloads, and returns the second capture.
func captureAfterReload(ctx context.Context, get chromedp.Action[hashes], first hashes) (hashes, error) {
	if first.Last != "" {
		return hashes{}, errors.New("a fresh profile already has a last hash")
	}
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		return hashes{}, err
	}
	again, err := chromedp.Run(ctx, get)
	if err != nil {
		return hashes{}, err
	}
	if again.Last != "" {
		return hashes{}, errors.New("getHash saved the hash by itself; update the description of last_fp_reload")
	}
	log.Printf("last_fp_reload: getHash saved nothing; the hash after a reload is the same: %v", again.FP == first.FP)
	save := fmt.Sprintf("localStorage.setItem('rpt_last_fp', %q)", first.FP)
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](save), chromedp.Reload()); err != nil {
		return hashes{}, err
	}
	return chromedp.Run(ctx, get)
}

// call makes an action that runs one protocol command on the tab.
func call[P any](cmd cdp.Command[P, cdp.Empty], params P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cmd, params)
		return chromedp.Void{}, err
	}
}

// variants lists what to record. Every setup starts from the base desktop
// with the browser's own user agent and client hints.
func variants(def defaults) []variant {
	base := setup{
		width: 1366, height: 768, dpr: 1, timezone: "Europe/Amsterdam", locale: "en-US",
		userAgent: def.userAgent, platform: def.platform, uaMetadata: def.uaMetadata,
	}
	nextUA, nextMeta := otherBuild(def.userAgent, def.uaMetadata)
	with := func(f func(*setup)) setup {
		s := base
		f(&s)
		return s
	}
	tz := func(s *setup) { s.timezone = "America/New_York" }
	fullHD := func(s *setup) { s.width, s.height = 1920, 1080 }
	german := func(s *setup) { s.locale = "de-DE" }
	return []variant{
		{name: "base", description: "desktop 1366x768, DPR 1, Europe/Amsterdam, en-US, the browser's own user agent", setup: base},
		{name: "base_2", description: "base again, in another fresh profile", setup: base},
		{name: "base_3", description: "base again, in a third fresh profile", setup: base},
		{name: "timezone", description: "base with timezone America/New_York", setup: with(tz)},
		{name: "locale", description: "base with locale and Accept-Language de-DE", setup: with(german)},
		{name: "user_agent", description: fmt.Sprintf("base after a patch update: user agent %q, client hints full version %s",
			nextUA, nextMeta.FullVersion),
			setup: with(func(s *setup) { s.userAgent, s.uaMetadata = nextUA, nextMeta })},
		{name: "window_size", description: "base with screen and window 1920x1080", setup: with(fullHD)},
		{name: "window_size_docked", description: "a laptop docked: base with screen and window 2560x1440",
			setup: with(func(s *setup) { s.width, s.height = 2560, 1440 })},
		{name: "window_size_undocked", description: "the same laptop undocked: base settings, another fresh profile", setup: base},
		{name: "drift_1", description: "drift step 1: base with timezone America/New_York", setup: with(tz)},
		{name: "drift_2", description: "drift step 2: drift_1 with screen and window 1920x1080",
			setup: with(func(s *setup) { tz(s); fullHD(s) })},
		{name: "drift_3", description: "drift step 3: drift_2 with locale and Accept-Language de-DE",
			setup: with(func(s *setup) { tz(s); fullHD(s); german(s) })},
		{name: "phone", description: "Android phone: 390x844, DPR 3, mobile, 5 touch points, Android Chrome mobile user agent",
			setup: with(func(s *setup) {
				s.width, s.height, s.dpr, s.mobile, s.touchPoints = 390, 844, 3, true, 5
				s.userAgent = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + major(def.userAgent) + ".0.0.0 Mobile Safari/537.36"
				s.platform = "Linux armv81"
				s.uaMetadata = device(def.uaMetadata, "Android", "14.0.0", "Pixel 8", "", true, "Mobile")
			})},
		{name: "tablet", description: "Android tablet: 820x1180, DPR 2, mobile, 5 touch points, Android Chrome tablet user agent",
			setup: with(func(s *setup) {
				s.width, s.height, s.dpr, s.mobile, s.touchPoints = 820, 1180, 2, true, 5
				s.userAgent = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + major(def.userAgent) + ".0.0.0 Safari/537.36"
				s.platform = "Linux armv81"
				s.uaMetadata = device(def.uaMetadata, "Android", "14.0.0", "SM-X710", "", false, "Tablet")
			})},
		{name: "desktop_hidpi", description: "a Mac: 1440x900, DPR 2, macOS Chrome user agent, America/Los_Angeles, en-GB",
			setup: with(func(s *setup) {
				s.width, s.height, s.dpr = 1440, 900, 2
				s.timezone, s.locale = "America/Los_Angeles", "en-GB"
				s.userAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + major(def.userAgent) + ".0.0.0 Safari/537.36"
				s.platform = "MacIntel"
				s.uaMetadata = device(def.uaMetadata, "macOS", "15.5.0", "", "arm", false, "Desktop")
			})},
		{name: "last_fp_reload", reload: true, setup: base,
			description: "base in one profile: getHash, which saves nothing itself (last stays empty after a reload); " +
				"the page then saves fp under rpt_last_fp in localStorage and reloads; fp and last are from the getHash after that reload"},
	}
}

// chromeVersion matches the version of Chrome in a user agent.
var chromeVersion = regexp.MustCompile(`Chrome/([0-9.]+)`)

// major returns the major version of Chrome in the user agent.
func major(ua string) string {
	m := chromeVersion.FindStringSubmatch(ua)
	if m == nil {
		return "0"
	}
	major, _, _ := strings.Cut(m[1], ".")
	return major
}

// nextPatch adds one to the last number of a dotted version.
func nextPatch(version string) string {
	head, last := "", version
	if i := strings.LastIndex(version, "."); i >= 0 {
		head, last = version[:i+1], version[i+1:]
	}
	n, _ := strconv.Atoi(last)
	return head + strconv.Itoa(n+1)
}

// otherBuild returns the user agent and client hints of the next patch
// release of the browser, as after a minor browser update: the last number
// of every Chrome version in them goes up by one.
func otherBuild(ua string, meta *uaMetadata) (string, *uaMetadata) {
	ua = chromeVersion.ReplaceAllStringFunc(ua, func(s string) string {
		return "Chrome/" + nextPatch(strings.TrimPrefix(s, "Chrome/"))
	})
	next := *meta
	next.FullVersion = nextPatch(meta.FullVersion)
	next.FullVersionList = nil
	for _, b := range meta.FullVersionList {
		v := *b
		if strings.Contains(v.Brand, "Chrom") {
			v.Version = nextPatch(v.Version)
		}
		next.FullVersionList = append(next.FullVersionList, &v)
	}
	return ua, &next
}

// device returns the client hints of the browser meta on another device.
func device(meta *uaMetadata, platform, platformVersion, model, arch string, mobile bool, formFactor string) *uaMetadata {
	d := *meta
	d.Platform, d.PlatformVersion, d.Model, d.Architecture = platform, platformVersion, model, arch
	d.Mobile, d.Wow64, d.FormFactors = mobile, false, []string{formFactor}
	if arch == "" {
		d.Bitness = ""
	}
	return &d
}
