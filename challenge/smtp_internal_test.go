package challenge

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestComposeLineEndings(t *testing.T) {
	t.Parallel()
	s := &SMTPSender{From: "no-reply@example.com"}
	env, err := s.compose(Message{Channel: Email, To: "alice@example.com", Code: "042817"}, time.Now())
	require.NoError(t, err)
	lines := bytes.Split(env.data, []byte("\r\n"))
	for i, line := range lines {
		assert.NotContains(t, string(line), "\n", "line %d has a bare LF", i)
		assert.NotContains(t, string(line), "\r", "line %d has a bare CR", i)
		assert.LessOrEqual(t, len(line), 78, "line %d is too long", i)
	}
	assert.Contains(t, string(env.data), "\r\n\r\nYour sign-in code is: 042817\r\n", "a blank line ends the headers")
	assert.NotContains(t, string(env.data), "It expires", "no expiry line without ExpiresAt")
}

func TestIsLocal(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost":        true,
		"LocalHost":        true,
		"127.0.0.1":        true,
		"127.9.9.9":        true,
		"::1":              true,
		"10.0.0.1":         false,
		"smtp.example.com": false,
		"localhost.evil":   false,
		"":                 false,
	} {
		assert.Equal(t, want, isLocal(host), "%q", host)
	}
}
