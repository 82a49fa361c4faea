// Package rupttest loads the fingerprint hashes recorded from the real Rupt
// browser SDK (fingerprint/testdata/rupt-2.24.1.json, made by
// internal/ruptcapture) for tests.
package rupttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Variant is one recorded browser state.
type Variant struct {
	Description string `json:"description"`
	FP          string `json:"fp"`
	Last        string `json:"last"`
}

// Recording is the whole file.
type Recording struct {
	SDK      string             `json:"sdk"`
	Chromium string             `json:"chromium"`
	Recorded string             `json:"recorded"`
	Variants map[string]Variant `json:"variants"`
}

// Load reads the recording, failing the test if it cannot.
func Load(tb testing.TB) Recording {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "fingerprint", "testdata", "rupt-2.24.1.json")
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("rupttest: %v", err)
	}
	var r Recording
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatalf("rupttest: %s: %v", path, err)
	}
	return r
}

// FP returns the fingerprint of a variant, failing the test if there is
// none.
func (r Recording) FP(tb testing.TB, name string) string {
	tb.Helper()
	v, ok := r.Variants[name]
	if !ok || v.FP == "" {
		tb.Fatalf("rupttest: no variant %q", name)
	}
	return v.FP
}
