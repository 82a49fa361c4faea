package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/atoguard/ato/internal/storeopen"
	"github.com/atoguard/ato/internal/useragent"
)

// deviceNames remembers, for each device id, the browser and system its
// last accepted login came from (internal/useragent), for the devices page:
// the engine's Devices gives the user agent of a device's latest login,
// but a device learnt by completing a challenge has none until its next
// login, and the demo names it from the moment it is let in. They are kept
// in a small JSON file beside the database, so
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
	name := useragent.Name(userAgent)
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
