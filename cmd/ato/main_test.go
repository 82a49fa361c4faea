package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestCtrlC runs the built tool on an endless history and interrupts it
// as a terminal's Ctrl-C does: it stops, says how far it got, and exits
// with 130.
func TestCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tool")
	}
	bin := filepath.Join(t.TempDir(), "ato")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"rules":[{"name":"new-country","when":"new_country","verdict":"challenge"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "backtest", "-history", "-", "-policy", policy)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// An endless history: users logging in a second apart. Once 4 MB of
	// it went through the pipe, the tool is reading and replaying.
	flowing := make(chan struct{})
	go func() {
		w := bufio.NewWriter(&countWriter{w: stdin, at: 4 << 20, reached: flowing})
		fmt.Fprintln(w, `{"type":"header","format":"ato-export","version":1,"exported_at":"2026-06-01T00:00:00Z"}`)
		start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; ; i++ {
			_, err := fmt.Fprintf(w, `{"type":"event","id":"e%d","user":"user%d","time":%q,"kind":"evaluation","action":"login","verdict":"allow","success":true,"device_id":"d%d","ip":"10.0.%d.%d"}`+"\n",
				i, i%500, start.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z"), i%500, i%500/250, i%250)
			if err != nil {
				return // the tool stopped reading
			}
		}
	}()
	select {
	case <-flowing:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the tool does not read; stderr: %s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 30 s after Ctrl-C; stderr: %s", stderr.String())
	}
	stdin.Close()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
	}
	if !regexp.MustCompile(`^ato backtest: interrupted after [1-9][0-9,]* events of the history \(up to 2026-05-\d\d \d\d:\d\d:\d\d\); no report was written\n$`).Match(stderr.Bytes()) {
		t.Fatalf("stderr: %q", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout: %q", stdout.String())
	}
}

// countWriter closes reached once at bytes went through it.
type countWriter struct {
	w       io.Writer
	n, at   int
	reached chan struct{}
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if c.n < c.at && c.n+n >= c.at {
		close(c.reached)
	}
	c.n += n
	return n, err
}
