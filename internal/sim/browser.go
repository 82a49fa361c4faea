package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The browser model. A browser is a configuration — OS, browser build,
// screen, GPU, fonts, timezone, language, … — and its fuzzy hash is made
// the way the Rupt SDK makes one: 22 signal groups in name order, each a
// 94-character segment (the last one 74, ending in padding), each segment
// made of sub-fields that hold the first characters of SHA-256 of the
// values they read. Which configuration attributes each sub-field reads
// is the layout below. Where the SDK's recording
// (fingerprint/testdata/rupt-2.24.1.json) shows a property changing a
// sub-field, the layout uses exactly those positions: a timezone change
// rewrites timezone[0,31) and svg[78,94) (measured similarity 0.978), a
// locale change language[0,38) and javascript[85,94) (0.979), a user-agent
// patch userAgent[0,45) and touch[76,94) (0.972), a window size the 16
// characters of css[56,80) and 62 of screen[3,81) it changed (0.962), a phone instead of a desktop also canvas[0,14),
// css[45,91), device[7,17), specifications[49,65), timezone[77,94) and all
// of touch (0.858). The recording comes from one headless machine, so
// everything a real machine's hardware decides (GPU, fonts, canvas and
// audio rendering, media devices, storage quota) read as constants there;
// the layout gives those to the hardware attributes in the sub-fields that
// were constant, which is a judgement, not a measurement.

type attr uint32

const (
	aFamily attr = 1 << iota // browser engine: chrome, edge, firefox, safari, samsung
	aMajor                   // major version: feature detection
	aUA                      // user-agent string: OS, browser, full version, form factor
	aOS                      // OS family
	aForm                    // desktop, phone, tablet
	aScreen                  // screen and window size
	aDPR                     // device pixel ratio
	aGPU                     // GPU renderer
	aHW                      // cores and memory
	aFonts                   // installed fonts
	aMedia                   // cameras, microphones, speakers
	aQuota                   // storage quota (disk size; private mode)
	aTZ                      // timezone
	aLang                    // language
	aNoise                   // a privacy browser's per-session randomisation
	aAudio                   // audio output device (sample rate)
	aOSVer                   // OS version (platform version)
)

type span struct {
	from, to int
	reads    attr
}

// segNames are the SDK's 22 signal groups, in its (sorted) order.
var segNames = [22]string{"audio", "canvas", "css", "device", "domRect", "externalDevices", "fonts",
	"i18n", "javascript", "language", "math", "plugins", "screen", "specifications", "storage", "svg",
	"timezone", "touch", "userAgent", "voice", "webgl", "workers"}

const (
	segLen  = 94
	hashLen = 2048
	// padFrom is where the hash's zero padding starts (the recording's
	// hashes end in 30 zeros).
	padFrom = hashLen - 30
)

// layout gives each segment's sub-fields; positions not covered read only
// the browser family (constant for every browser of one engine).
var layout = [22][]span{
	/* audio */ {{0, 47, aFamily}, {47, 60, aAudio}, {60, 94, aOS | aFamily | aNoise}},
	/* canvas */ {{0, 14, aDPR}, {14, 54, aGPU | aOS | aFamily | aNoise}, {54, 94, aFonts | aOS | aFamily | aNoise}},
	/* css */ {{0, 15, aFamily | aMajor}, {45, 56, aForm}, {56, 73, aScreen}, {80, 91, aForm}},
	/* device */ {{7, 17, aForm}, {17, 40, aHW}},
	/* domRect */ {{0, 24, aOS | aFonts | aFamily}},
	/* externalDevices */ {{0, 42, aMedia}},
	/* fonts */ {{0, 42, aOS | aFonts}},
	/* i18n */ nil,
	/* javascript */ {{0, 30, aFamily | aMajor}, {85, 94, aLang}},
	/* language */ {{0, 38, aLang}},
	/* math */ {{0, 30, aOS | aFamily}},
	/* plugins */ {{0, 40, aFamily | aForm}},
	/* screen */ {{3, 69, aScreen | aDPR}, {69, 81, aDPR}},
	/* specifications */ {{0, 15, aFamily | aMajor}, {49, 65, aOSVer}, {65, 80, aHW}},
	/* storage */ {{0, 9, aQuota}},
	/* svg */ {{40, 78, aOS | aFonts}, {78, 94, aTZ}},
	/* timezone */ {{0, 31, aTZ}, {77, 94, aForm}},
	/* touch */ {{0, 76, aForm}, {76, 94, aUA}},
	/* userAgent */ {{0, 45, aUA}},
	/* voice */ {{0, 30, aOS}},
	/* webgl */ {{0, 15, aFamily | aMajor}, {25, 94, aGPU | aOS | aNoise}},
	/* workers */ {{0, 44, aFamily | aHW}},
}

// Form factors.
const (
	desktop = "desktop"
	phone   = "phone"
	tablet  = "tablet"
)

// config is a browser as the fingerprint script sees it.
type config struct {
	OS, Family string
	Form       string
	Major      int
	Patch      int
	Screen     string
	DPR        string
	GPU, HW    string
	Fonts      string
	Media      string
	Quota      string
	TZ, Lang   string
	Audio      string
	Noise      uint64
}

func (c *config) value(a attr) string {
	switch a {
	case aFamily:
		return c.Family
	case aMajor:
		return strconv.Itoa(c.Major)
	case aUA:
		return strings.TrimRight(c.OS, "0123456789.") + "|" + c.Family + "|" + strconv.Itoa(c.Major) + "." + strconv.Itoa(c.Patch) + "|" + c.Form
	case aOS:
		return strings.TrimRight(c.OS, "0123456789.")
	case aOSVer:
		return c.OS
	case aForm:
		return c.Form
	case aScreen:
		return c.Screen
	case aDPR:
		return c.DPR
	case aGPU:
		return c.GPU
	case aHW:
		return c.HW
	case aFonts:
		return c.Fonts
	case aMedia:
		return c.Media
	case aQuota:
		return c.Quota
	case aTZ:
		return c.TZ
	case aLang:
		return c.Lang
	case aNoise:
		if c.Noise == 0 {
			return ""
		}
		return strconv.FormatUint(c.Noise, 16)
	case aAudio:
		return c.Audio
	}
	return ""
}

// hash is the fuzzy hash of the configuration.
func (c *config) hash() string {
	b := make([]byte, hashLen)
	var key strings.Builder
	fill := func(seg, from, to int, reads attr) {
		key.Reset()
		key.WriteString(segNames[seg])
		key.WriteByte('/')
		key.WriteString(strconv.Itoa(from))
		for a := attr(1); a != 0 && a <= aOSVer; a <<= 1 {
			if reads&a != 0 {
				key.WriteByte('|')
				key.WriteString(c.value(a))
			}
		}
		sum := sha256.Sum256([]byte(key.String()))
		var hx [64]byte
		hex.Encode(hx[:], sum[:])
		for i := from; i < to; i++ {
			p := seg*segLen + i
			if p >= padFrom {
				return
			}
			b[p] = hx[(i-from)%64]
		}
	}
	for seg := range segNames {
		end := min(segLen, hashLen-seg*segLen)
		at := 0
		for _, s := range layout[seg] {
			if s.from > at {
				fill(seg, at, s.from, aFamily)
			}
			fill(seg, s.from, s.to, s.reads)
			at = s.to
		}
		if at < end {
			fill(seg, at, end, aFamily)
		}
	}
	for i := padFrom; i < hashLen; i++ {
		b[i] = '0'
	}
	return string(b)
}

// choice is a weighted value.
type choice struct {
	v string
	w float64
}

func pick(r *rand.Rand, cs []choice) string {
	var total float64
	for _, c := range cs {
		total += c.w
	}
	x := r.Float64() * total
	for _, c := range cs {
		x -= c.w
		if x < 0 {
			return c.v
		}
	}
	return cs[len(cs)-1].v
}

// Market shares (StatCounter-like, rounded; judgement).
var (
	desktopOS = []choice{{"win11", 45}, {"win10", 25}, {"macos15", 17}, {"macos14", 8}, {"linux", 5}}
	phoneOS   = []choice{{"android15", 35}, {"android14", 20}, {"ios18", 35}, {"ios17", 10}}
	tabletOS  = []choice{{"ipados18", 60}, {"android15", 40}}
	winFamily = []choice{{"chrome", 70}, {"edge", 20}, {"firefox", 10}}
	macFamily = []choice{{"chrome", 50}, {"safari", 40}, {"firefox", 10}}
	linFamily = []choice{{"chrome", 60}, {"firefox", 40}}
	andFamily = []choice{{"chrome", 85}, {"samsung", 15}}
	// screens: CSS pixels and DPR by platform
	winScreens = []choice{{"1920x1080@1", 30}, {"1536x864@1.25", 14}, {"1366x768@1", 10}, {"2560x1440@1", 9},
		{"1280x720@1.5", 7}, {"1440x900@1", 5}, {"1600x900@1", 5}, {"1280x800@1.5", 5}, {"1920x1200@1", 5},
		{"1707x1067@1.5", 4}, {"3840x2160@1.5", 3}, {"2560x1080@1", 3}}
	macScreens = []choice{{"1440x900@2", 25}, {"1512x982@2", 25}, {"1728x1117@2", 15}, {"1470x956@2", 15},
		{"2560x1440@1", 8}, {"1920x1080@1", 7}, {"2240x1260@2", 5}}
	phoneScreens = []choice{{"390x844@3", 18}, {"393x852@3", 16}, {"430x932@3", 8}, {"412x915@2.625", 14},
		{"360x800@3", 12}, {"384x854@2.8125", 8}, {"412x892@2.625", 8}, {"375x667@2", 6}, {"360x780@3", 10}}
	tabletScreens = []choice{{"820x1180@2", 35}, {"810x1080@2", 20}, {"1024x1366@2", 15}, {"800x1280@1.5", 30}}
	winGPUs       = []choice{{"Intel UHD 620", 14}, {"Intel Iris Xe", 20}, {"Intel UHD 770", 8}, {"Intel UHD 630", 8},
		{"NVIDIA GTX 1650", 7}, {"NVIDIA RTX 3060", 8}, {"NVIDIA RTX 4060", 7}, {"NVIDIA RTX 3050 Laptop", 6},
		{"AMD Radeon Vega 8", 8}, {"AMD Radeon RX 6600", 5}, {"AMD Radeon 780M", 5}, {"Intel HD 520", 4}}
	macGPUs     = []choice{{"Apple M1", 30}, {"Apple M2", 25}, {"Apple M3", 20}, {"Apple M4", 12}, {"Intel Iris Plus", 8}, {"AMD Radeon Pro 5500M", 5}}
	linuxGPUs   = []choice{{"Mesa Intel UHD 620", 40}, {"Mesa AMD Radeon", 30}, {"NVIDIA GeForce (proprietary)", 30}}
	phoneGPUs   = []choice{{"Apple GPU", 45}, {"Adreno 740", 12}, {"Adreno 650", 10}, {"Mali-G710", 10}, {"Mali-G78", 8}, {"Adreno 619", 8}, {"Mali-G57", 7}}
	desktopHW   = []choice{{"4c/8g", 20}, {"8c/8g", 35}, {"12c/8g", 15}, {"16c/8g", 15}, {"6c/8g", 10}, {"2c/4g", 5}}
	phoneHW     = []choice{{"8c/8g", 50}, {"6c/4g", 30}, {"8c/4g", 20}}
	extraFonts  = []choice{{"", 40}, {"office", 35}, {"office+adobe", 10}, {"dev", 8}, {"misc", 7}}
	desktopAud  = []choice{{"48000", 70}, {"44100", 30}}
	desktopDisk = []choice{{"256G", 25}, {"512G", 40}, {"1T", 25}, {"2T", 10}}
	phoneDisk   = []choice{{"128G", 45}, {"256G", 40}, {"512G", 15}}
)

// newConfig draws a browser of the form factor, as a person buys and sets
// one up: OS by market share, then browser, screen, hardware.
func newConfig(r *rand.Rand, form, tz, lang string) config {
	c := config{Form: form, TZ: tz, Lang: lang}
	switch form {
	case desktop:
		c.OS = pick(r, desktopOS)
		switch {
		case strings.HasPrefix(c.OS, "win"):
			c.Family, c.GPU = pick(r, winFamily), pick(r, winGPUs)
			c.Screen = pick(r, winScreens)
		case strings.HasPrefix(c.OS, "mac"):
			c.Family, c.GPU = pick(r, macFamily), pick(r, macGPUs)
			c.Screen = pick(r, macScreens)
		default:
			c.Family, c.GPU = pick(r, linFamily), pick(r, linuxGPUs)
			c.Screen = pick(r, winScreens)
		}
		c.HW = pick(r, desktopHW)
		c.Fonts = pick(r, extraFonts)
		if c.Fonts == "misc" {
			c.Fonts += strconv.Itoa(r.IntN(1000))
		}
		c.Media = pick(r, []choice{{"cam1/mic1/spk1", 60}, {"cam0/mic1/spk1", 25}, {"cam0/mic0/spk1", 15}})
		c.Audio = pick(r, desktopAud)
		c.Quota = pick(r, desktopDisk)
	default:
		if form == phone {
			c.OS, c.Screen = pick(r, phoneOS), pick(r, phoneScreens)
		} else {
			c.OS, c.Screen = pick(r, tabletOS), pick(r, tabletScreens)
		}
		if strings.HasPrefix(c.OS, "i") {
			c.Family, c.GPU = "safari", "Apple GPU"
		} else {
			c.Family, c.GPU = pick(r, andFamily), pick(r, phoneGPUs[1:])
		}
		c.HW = pick(r, phoneHW)
		c.Fonts = "mobile"
		c.Media = "cam2/mic1/spk1"
		c.Audio = "48000"
		c.Quota = pick(r, phoneDisk)
	}
	c.Screen, c.DPR, _ = strings.Cut(c.Screen, "@")
	return c
}

// lookalike is a browser on the attacker's own machine with the victim's OS
// and browser build, timezone and language (a phishing kit reports them),
// and the victim's screen half of the time; the rest is the attacker's own
// hardware.
func lookalike(r *rand.Rand, victim config) config {
	c := newConfig(r, victim.Form, victim.TZ, victim.Lang)
	c.OS, c.Family, c.Major, c.Patch = victim.OS, victim.Family, victim.Major, victim.Patch
	switch {
	case strings.HasPrefix(c.OS, "win"):
		c.GPU, c.Screen = pick(r, winGPUs), pick(r, winScreens)
	case strings.HasPrefix(c.OS, "mac"):
		c.GPU, c.Screen = pick(r, macGPUs), pick(r, macScreens)
	case strings.HasPrefix(c.OS, "i"):
		c.GPU = "Apple GPU"
		c.Screen = pick(r, phoneScreens)
		if c.Form == tablet {
			c.Screen = pick(r, tabletScreens)
		}
	case c.Form == desktop:
		c.GPU, c.Screen = pick(r, linuxGPUs), pick(r, winScreens)
	default:
		c.GPU, c.Screen = pick(r, phoneGPUs[1:]), pick(r, phoneScreens)
		if c.Form == tablet {
			c.Screen = pick(r, tabletScreens)
		}
	}
	c.Screen, c.DPR, _ = strings.Cut(c.Screen, "@")
	if r.IntN(2) == 0 {
		c.Screen, c.DPR = victim.Screen, victim.DPR
	}
	return c
}
