package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/atoguard/ato/internal/storeopen"
	"sync"
)

// deviceNames remembers, for each device id, the browser and system its
// last accepted login came from, for the devices page: the engine keeps no
// user agent. They are kept in a small JSON file beside the database, so
// that a restart of the demo keeps them, and bounded, so that a public demo
// cannot grow the file without end.
type deviceNames struct {
	mu   sync.Mutex
	path string // "" keeps them in memory only
	m    map[string]string
}

// maxDeviceNames bounds the names kept; past it, a new one replaces an
// arbitrary old one.
const maxDeviceNames = 10000

// namesPath is the file of the device names beside the database file db:
// ato-demo.db's are in ato-demo-devices.json. A database that is not a file
// (a URL) has them in memory only: "".
func namesPath(db string) string {
	if db == "" || storeopen.Kind(db) != "sqlite" {
		return "" // kept in memory
	}
	return strings.TrimSuffix(db, filepath.Ext(db)) + "-devices.json"
}

// loadDeviceNames reads the names kept in the file at path. It always
// returns names to use: none when the file cannot be read, with the error.
func loadDeviceNames(path string) (*deviceNames, error) {
	d := &deviceNames{path: path, m: map[string]string{}}
	if path == "" {
		return d, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &d.m)
	}
	if err != nil {
		d.m = map[string]string{}
		return d, fmt.Errorf("device names in %s: %w", path, err)
	}
	return d, nil
}

// get returns the name kept for the device, or "".
func (d *deviceNames) get(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[id]
}

// set keeps the name of the browser and system of the user agent for the
// device, and writes the file when it changed.
func (d *deviceNames) set(id, userAgent string) error {
	name := browserOS(userAgent)
	if id == "" || name == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m[id] == name {
		return nil
	}
	if _, ok := d.m[id]; !ok && len(d.m) >= maxDeviceNames {
		for k := range d.m {
			delete(d.m, k)
			break
		}
	}
	d.m[id] = name
	if d.path == "" {
		return nil
	}
	data, err := json.Marshal(d.m)
	if err != nil {
		return err
	}
	tmp := d.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.path)
}

// browserOS names the browser and system of a user agent for a person,
// "Chrome 131 on Linux", "Safari 17 on iPhone"; "" when it names neither.
// It knows the common browsers only: enough to tell a user's devices apart.
func browserOS(ua string) string {
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgiOS/", "Edge"}, {"EdgA/", "Edge"}, {"OPR/", "Opera"},
		{"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"},
	} {
		if v, ok := version(ua, b.token); ok {
			browser = b.name + v
			break
		}
	}
	if v, ok := version(ua, "Version/"); browser == "" && ok && strings.Contains(ua, "Safari/") {
		browser = "Safari" + v
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
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
	for n < len(rest) && n < 4 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if v, err := strconv.Atoi(rest[:n]); err == nil && n > 0 {
		return " " + strconv.Itoa(v), true
	}
	return "", true
}
