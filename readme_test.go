package ato_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMESnippetsAreExamples checks that every Go snippet of README.md
// is code of an Example function (the lines in a row, indentation aside),
// so that the compiler checks what a reader copies. The sections the store
// maintainers keep (Stores, Benchmarks) hold code of their own tests.
func TestREADMESnippetsAreExamples(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	files, err := filepath.Glob("*example_test.go")
	require.NoError(t, err)
	more, err := filepath.Glob("*/example_test.go")
	require.NoError(t, err)
	var examples []string
	for _, f := range append(files, more...) {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		examples = append(examples, codeLines(string(src))...)
	}
	snippets := 0
	section := ""
	var block []string
	in := false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section = line
		case line == "```go" && !in:
			in, block = true, nil
		case line == "```" && in:
			in = false
			if section == "## Stores" || section == "## Benchmarks" {
				continue
			}
			snippets++
			code := codeLines(strings.Join(block, "\n"))
			assert.True(t, contains(examples, code), "README.md, %s: this snippet is not the code of an Example:\n%s", section, strings.Join(block, "\n"))
		case in:
			block = append(block, line)
		}
	}
	assert.GreaterOrEqual(t, snippets, 7, "the README's Go snippets")
}

// codeLines are the lines of src without their indentation, blank lines
// left out.
func codeLines(src string) []string {
	var out []string
	for _, l := range strings.Split(src, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// contains reports whether part is a run of lines of all.
func contains(all, part []string) bool {
	for i := 0; i+len(part) <= len(all); i++ {
		match := true
		for j := range part {
			if all[i+j] != part[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
