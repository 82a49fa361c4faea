package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartShowsTheThreeVerdicts(t *testing.T) {
	t.Parallel()
	for name, db := range map[string]string{"memory": "", "sqlite": filepath.Join(t.TempDir(), "ato.db")} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(t.Context(), &out, db))
			s := out.String()
			assert.Contains(t, s, "verdict:   allow (rule otherwise)\n   reasons:   [new_user]")
			assert.Contains(t, s, "verdict:   allow (rule otherwise)\n   reasons:   []")
			assert.Contains(t, s, "verdict:   challenge (rule new-device-new-network)\n   reasons:   [new_device new_ip]")
			assert.Contains(t, s, "challenge: ")
		})
	}
}
