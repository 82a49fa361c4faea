// Package useragent names the browser and system of a user agent for a
// person: "Chrome 131 on Linux", "Safari 18 on iPhone". It knows the
// common browsers, systems, HTTP tools and crawlers only: enough to tell a
// user's devices apart, and to see that a login came from a script.
//
// A user agent is what the client says it is, and anyone can say anything:
// a name is a description, never evidence. The name is built from fixed
// words, digits and, for a crawler, its product token's letters, digits,
// dots, dashes and underscores: never other bytes of the user agent, so it
// is safe to print in a terminal.
//
// Some clients cannot be told apart by their user agent: Safari on an
// iPad (since iPadOS 13) says it is Safari on a Mac, and Brave says it is
// Chrome. Name says what the user agent says.
package useragent

import (
	"strconv"
	"strings"
)

// MaxLen bounds the length of a name, in bytes.
const MaxLen = 64

// maxToken bounds a crawler's name taken from its user agent, in bytes.
const maxToken = 32

// Name names the browser and system of the user agent:
//
//   - "Chrome 131 on Linux": a browser and its major version, on a system;
//   - "Chrome 131": a browser on a system it does not say;
//   - "a browser on iPhone": a system, with a browser Name does not know
//     (an app's web view on iOS says no browser);
//   - "curl 8", "Go HTTP client", "Googlebot": an HTTP tool or a crawler;
//   - "": none of these, or an empty user agent. The caller says what an
//     unknown one is ("an unknown browser").
//
// The name is at most [MaxLen] bytes of printable ASCII.
func Name(ua string) string {
	if ua == "" {
		return ""
	}
	if name := tool(ua); name != "" {
		return name
	}
	if name := crawler(ua); name != "" {
		return name
	}
	system := system(ua)
	browser := browser(ua, system)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "a browser on " + system
	}
	return ""
}

// tools are HTTP clients of scripts, named by the product token their user
// agent starts with. Go's gives the HTTP version, not Go's: no version.
var tools = []struct {
	token, name string
	version     bool
}{
	{"curl/", "curl", true},
	{"Wget/", "Wget", true},
	{"python-requests/", "Python Requests", true},
	{"Python-urllib/", "Python urllib", true},
	{"python-httpx/", "Python HTTPX", true},
	{"aiohttp/", "Python aiohttp", true},
	{"Go-http-client/", "Go HTTP client", false},
	{"okhttp/", "OkHttp", true},
	{"Java/", "Java", true},
	{"Apache-HttpClient/", "Apache HttpClient", true},
	{"PostmanRuntime/", "Postman", true},
	{"axios/", "axios", true},
	{"node-fetch/", "node-fetch", true},
	{"libwww-perl/", "Perl LWP", true},
	{"HTTPie/", "HTTPie", true},
	{"Scrapy/", "Scrapy", true},
}

func tool(ua string) string {
	for _, t := range tools {
		if !strings.HasPrefix(ua, t.token) {
			continue
		}
		if t.version {
			if v, _ := version(ua, t.token); v != "" {
				return t.name + v
			}
		}
		return t.name
	}
	return ""
}

// crawler returns the product token of a crawler ("Googlebot",
// "bingbot", "Baiduspider"): a token before a "/" whose name has "bot",
// "spider" or "crawler" in it, of safe characters only; "" when there is
// none. A part of a path or URL ("http://example.com/robots/") is not a
// token.
func crawler(ua string) string {
	for rest, first := ua, true; rest != ""; first = false {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return ""
		}
		// The token ends at the slash and starts after the last separator,
		// or at the start of the user agent.
		j := strings.LastIndexAny(rest[:i], " ;(),")
		token := rest[j+1 : i]
		inPath := j < 0 && !first // it follows the previous slash
		rest = rest[i+1:]
		if inPath || token == "" || len(token) > maxToken || !safe(token) {
			continue
		}
		lower := strings.ToLower(token)
		if strings.Contains(lower, "bot") || strings.Contains(lower, "spider") || strings.Contains(lower, "crawler") {
			return token
		}
	}
	return ""
}

// safe reports whether s has only ASCII letters, digits, '.', '-' and '_'.
func safe(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// browsers are tried in order: a browser's user agent names the browsers
// it is built on after its own (Edge's says Chrome and Safari, Chrome's
// says Safari).
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
	{"OPR/", "Opera"}, {"OPX/", "Opera"}, {"OPT/", "Opera"}, {"OPiOS/", "Opera"}, {"Opera Mini/", "Opera Mini"},
	{"SamsungBrowser/", "Samsung Internet"}, {"YaBrowser/", "Yandex Browser"}, {"Vivaldi/", "Vivaldi"},
	{"UCBrowser/", "UC Browser"}, {"DuckDuckGo/", "DuckDuckGo"}, {"Electron/", "Electron"},
	{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Headless Chrome"}, {"Chromium/", "Chromium"},
}

func browser(ua, system string) string {
	for _, b := range browsers {
		if v, ok := version(ua, b.token); ok {
			return b.name + v
		}
	}
	if v, ok := version(ua, "Chrome/"); ok {
		if system == "Android" && strings.Contains(ua, "; wv)") {
			return "WebView" + v // an app's web view
		}
		return "Chrome" + v
	}
	if v, ok := version(ua, "MSIE "); ok {
		return "Internet Explorer" + v
	}
	if strings.Contains(ua, "Trident/") {
		v, _ := version(ua, "rv:")
		return "Internet Explorer" + v
	}
	if strings.HasPrefix(ua, "Opera/") {
		v, _ := version(ua, "Version/")
		return "Opera" + v
	}
	// Safari says "Version/"; other WebKit browsers (Android's old one)
	// say it too, so only on Apple's systems.
	if v, ok := version(ua, "Version/"); ok && strings.Contains(ua, "Safari/") && apple(system) {
		return "Safari" + v
	}
	return ""
}

// systems are tried in order: an iPhone's user agent says "like Mac OS
// X", Android's says "Linux", ChromeOS's "X11".
var systems = []struct{ token, name string }{
	{"Windows Phone", "Windows Phone"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"iPod", "iPod"},
	{"Android", "Android"}, {"CrOS", "ChromeOS"}, {"Windows", "Windows"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"FreeBSD", "FreeBSD"}, {"OpenBSD", "OpenBSD"}, {"Linux", "Linux"},
}

func system(ua string) string {
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return ""
}

func apple(system string) bool {
	return system == "iPhone" || system == "iPad" || system == "iPod" || system == "macOS"
}

// version returns " 131" for the major version after the token in ua
// ("Chrome/131.0.6778.85"), "" when it has none, and whether ua has the
// token.
func version(ua, token string) (string, bool) {
	i := strings.Index(ua, token)
	if i < 0 {
		return "", false
	}
	rest := ua[i+len(token):]
	n := 0
	for n < len(rest) && n < 4 && '0' <= rest[n] && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return "", true
	}
	v, _ := strconv.Atoi(rest[:n]) // at most 4 digits
	return " " + strconv.Itoa(v), true
}
