package verdict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/atoguard/ato/signals"
)

// maxPolicyBytes bounds a policy file.
const maxPolicyBytes = 1 << 20

// ruleJSON is a rule as a policy file has it.
type ruleJSON struct {
	Name     string   `json:"name"`
	When     string   `json:"when"`
	Verdict  Verdict  `json:"verdict"`
	Restrict []string `json:"restrict,omitempty"`
	Shadow   bool     `json:"shadow,omitempty"`
}

// ParseRules reads a policy in JSON, as the package documentation shows,
// and validates it with [Rules.Validate] and known. The data may hold at
// most 1 MiB; fields other than those shown are errors. An error in a
// rule names it; one in its condition wraps a [*SyntaxError].
func ParseRules(data []byte, known func(signals.Reason) bool) (Rules, error) {
	return parseRules(data, known, "")
}

// LoadRules reads a policy file with [ParseRules].
func LoadRules(path string, known func(signals.Reason) bool) (Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verdict: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("verdict: %w", err)
	}
	return parseRules(data, known, path)
}

func parseRules(data []byte, known func(signals.Reason) bool, file string) (Rules, error) {
	if len(data) > maxPolicyBytes {
		return nil, fmt.Errorf("%spolicy is larger than %d bytes", prefix(file), maxPolicyBytes)
	}
	var doc struct {
		Rules *[]json.RawMessage `json:"rules"`
	}
	if err := decodeStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("%s%s%w", prefix(file), position(data, err), err)
	}
	if doc.Rules == nil {
		return nil, fmt.Errorf(`%sno "rules" list`, prefix(file))
	}
	raw := *doc.Rules
	if len(raw) > maxRules {
		return nil, fmt.Errorf("%s%d rules, at most %d", prefix(file), len(raw), maxRules)
	}
	rs := make(Rules, len(raw))
	for i, data := range raw {
		var r ruleJSON
		if err := decodeStrict(data, &r); err != nil {
			return nil, &ruleError{file: file, index: i + 1, msg: err.Error(), err: err}
		}
		if r.When == "" {
			return nil, &ruleError{file: file, index: i + 1, name: r.Name, msg: `no condition ("when")`}
		}
		c, err := ParseCondition(r.When)
		if err != nil {
			msg := err.Error()
			var se *SyntaxError
			if errors.As(err, &se) {
				msg = "when: " + se.detail()
			}
			return nil, &ruleError{file: file, index: i + 1, name: r.Name, msg: msg, err: err}
		}
		rs[i] = Rule{Name: r.Name, When: c, Verdict: r.Verdict, Restrict: r.Restrict, Shadow: r.Shadow}
		if err := rs.validateRule(i, known, file); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// position returns "line L, column C: " for a JSON error that has an
// offset into data, else "".
func position(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off <= 0 || off > int64(len(data)) {
		return ""
	}
	before := data[:off-1] // the offset is just past the offending byte
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d: ", line, col)
}

// MarshalJSON writes the policy in the format [ParseRules] reads, one rule
// a line, with conditions as their String. A rule without a condition is
// written with "false", which never holds either. It fails if a condition
// would not parse back, as one of another package's type might not.
func (rs Rules) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString(`{"rules": [`)
	for i, r := range rs {
		when := "false"
		if r.When != nil {
			when = r.When.String()
		}
		if _, err := ParseCondition(when); err != nil {
			return nil, &ruleError{index: i + 1, name: r.Name, msg: fmt.Sprintf("condition %q does not parse: %v", excerpt(when), err), err: err}
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n  ")
		if err := enc.Encode(ruleJSON{Name: r.Name, When: when, Verdict: r.Verdict, Restrict: r.Restrict, Shadow: r.Shadow}); err != nil {
			return nil, fmt.Errorf("verdict: rule %d: %w", i+1, err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	if len(rs) > 0 {
		buf.WriteByte('\n')
	}
	buf.WriteString("]}")
	return buf.Bytes(), nil
}
