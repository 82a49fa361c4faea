package atocli

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "atocli-fixture-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ran is the outcome of a run of the tool.
type ran struct {
	code           int
	stdout, stderr string
}

// clock is a fake clock that moves a little each time it is read.
type clock struct {
	t    time.Time
	step time.Duration
}

func (c *clock) now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

// run runs the tool in process, as "ato args...".
func run(t *testing.T, stdin string, args ...string) ran {
	t.Helper()
	return runEnv(t, context.Background(), Env{Stdin: strings.NewReader(stdin)}, args...)
}

func runEnv(t testing.TB, ctx context.Context, env Env, args ...string) ran {
	t.Helper()
	var out, errOut bytes.Buffer
	env.Stdout, env.Stderr = &out, &errOut
	if env.Now == nil {
		c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), step: time.Millisecond}
		env.Now = c.now
	}
	code := Run(ctx, args, env)
	return ran{code: code, stdout: out.String(), stderr: errOut.String()}
}
