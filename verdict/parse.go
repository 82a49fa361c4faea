package verdict

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/atoguard/ato/internal/ident"
	"github.com/atoguard/ato/signals"
)

// Limits on an expression.
const (
	maxExprLen   = 4096     // bytes besides whitespace and parentheses
	maxExprBytes = 64 << 10 // bytes in all
	maxDepth     = 64       // nested parentheses
)

// SyntaxError reports an expression that does not parse.
type SyntaxError struct {
	// Expr is the expression.
	Expr string
	// Column is where the problem is, in runes from 1; one past the last
	// rune when the expression ends too soon.
	Column int
	// Msg says what is wrong.
	Msg string
}

// Error returns e.g. `verdict: column 14: expected ")" after "new_ip || new_country"`.
func (e *SyntaxError) Error() string { return "verdict: " + e.detail() }

func (e *SyntaxError) detail() string { return fmt.Sprintf("column %d: %s", e.Column, e.Msg) }

// ParseCondition parses a condition expression such as
// `new_device && (new_ip || new_country)`; the package documentation gives
// the syntax. An expression that does not parse is a [*SyntaxError].
func ParseCondition(expr string) (Condition, error) {
	p := &parser{src: expr}
	if err := p.checkLength(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == tokEOF:
		return c, nil
	case p.tok.is(")"):
		return nil, p.errorf(p.tok, `unmatched ")"`)
	}
	return nil, p.errorf(p.tok, `expected "&&" or "||" after %q, found %q`, p.prev.text, p.tok.text)
}

type tokenKind int

const (
	tokNone tokenKind = iota // before the first token
	tokEOF
	tokWord   // true, score, new_ip…
	tokNumber // 0.8
	tokString // "signup", quotes included
	tokOp     // an operator or a parenthesis
)

type token struct {
	kind     tokenKind
	text     string
	pos, end int // byte offsets in the expression
}

func (t token) is(op string) bool { return t.kind == tokOp && t.text == op }

// parser is a recursive-descent parser reading one token ahead.
type parser struct {
	src        string
	tok, prev  token
	parenDepth int
}

func (p *parser) errorf(at token, format string, args ...any) error {
	return p.errorAt(at.pos, fmt.Sprintf(format, args...))
}

func (p *parser) errorAt(pos int, msg string) error {
	return &SyntaxError{Expr: p.src, Column: utf8.RuneCountInString(p.src[:pos]) + 1, Msg: msg}
}

func (p *parser) checkLength() error {
	if len(p.src) > maxExprBytes {
		return p.errorAt(maxExprBytes, fmt.Sprintf("expression is longer than %d bytes", maxExprBytes))
	}
	n := 0
	for i := 0; i < len(p.src); i++ {
		if c := p.src[i]; !isSpace(c) && c != '(' && c != ')' {
			if n++; n > maxExprLen {
				return p.errorAt(i, fmt.Sprintf("expression is longer than %d bytes besides spaces and parentheses", maxExprLen))
			}
		}
	}
	return nil
}

// advance reads the next token into p.tok.
func (p *parser) advance() error {
	p.prev = p.tok
	i := p.tok.end
	for i < len(p.src) && isSpace(p.src[i]) {
		i++
	}
	if i == len(p.src) {
		p.tok = token{kind: tokEOF, pos: i, end: i}
		return nil
	}
	kind, j := tokOp, i+1
	switch c := p.src[i]; {
	case isLetter(c) || c == '_':
		kind = tokWord
		for j < len(p.src) && (isLetter(p.src[j]) || isDigit(p.src[j]) || p.src[j] == '_') {
			j++
		}
	case isDigit(c) || c == '.':
		kind = tokNumber
		for j < len(p.src) && (isDigit(p.src[j]) || p.src[j] == '.') {
			j++
		}
	case c == '"':
		kind = tokString
		for j < len(p.src) && p.src[j] != '"' {
			j++
		}
		if j == len(p.src) {
			return p.errorAt(i, "unterminated string")
		}
		j++
	case c == '(' || c == ')':
	case c == '|' || c == '&' || c == '=':
		if j == len(p.src) || p.src[j] != c {
			return p.errorAt(i, fmt.Sprintf("unexpected %q, did you mean %q?", string(c), string(c)+string(c)))
		}
		j++
	case c == '!' || c == '<' || c == '>':
		if j < len(p.src) && p.src[j] == '=' {
			j++
		}
	default:
		_, size := utf8.DecodeRuneInString(p.src[i:])
		return p.errorAt(i, fmt.Sprintf("unexpected character %q", p.src[i:i+size]))
	}
	p.tok = token{kind: kind, text: p.src[i:j], pos: i, end: j}
	return nil
}

func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// or parses `and { "||" and }`.
func (p *parser) or() (Condition, error) {
	var cs []Condition
	for {
		c, err := p.and()
		if err != nil {
			return nil, err
		}
		cs = appendFlat(cs, c, false)
		if !p.tok.is("||") {
			return join(cs, false), nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// and parses `unary { "&&" unary }`.
func (p *parser) and() (Condition, error) {
	var cs []Condition
	for {
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		cs = appendFlat(cs, c, true)
		if !p.tok.is("&&") {
			return join(cs, true), nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// appendFlat appends c to the operands of a junction, splicing in the
// operands of a parenthesised junction of the same kind.
func appendFlat(cs []Condition, c Condition, all bool) []Condition {
	if j, ok := c.(junction); ok && j.all == all && len(j.cs) > 1 {
		return append(cs, j.cs...)
	}
	return append(cs, c)
}

func join(cs []Condition, all bool) Condition {
	if len(cs) == 1 {
		return cs[0]
	}
	return junction{cs: cs, all: all}
}

// unary parses `{ "!" } primary`.
func (p *parser) unary() (Condition, error) {
	n := 0
	for p.tok.is("!") {
		n++
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	c, err := p.primary()
	if err != nil {
		return nil, err
	}
	for range n {
		c = Not(c)
	}
	return c, nil
}

// primary parses a parenthesised expression or an atom.
func (p *parser) primary() (Condition, error) {
	t := p.tok
	switch {
	case t.is("("):
		return p.group()
	case t.kind != tokWord:
		return nil, p.expected("a condition")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch t.text {
	case "true":
		return All(), nil
	case "false":
		return Any(), nil
	case "known_device":
		return KnownDevice(), nil
	case "device_token":
		return DeviceToken(), nil
	case "action":
		return p.action()
	case "score":
		return p.score()
	}
	switch {
	case !ident.Word(t.text):
		return nil, p.errorf(t, `invalid reason %q: want lower-case letters, digits and "_", starting with a letter`, excerpt(t.text))
	case len(t.text) > ident.MaxReason:
		return nil, p.errorf(t, "reason is longer than %d bytes", ident.MaxReason)
	}
	return Reason(signals.Reason(t.text)), nil
}

// group parses `"(" or ")"`.
func (p *parser) group() (Condition, error) {
	open := p.tok
	if p.parenDepth == maxDepth {
		return nil, p.errorf(open, "parentheses nest deeper than %d", maxDepth)
	}
	p.parenDepth++
	if err := p.advance(); err != nil {
		return nil, err
	}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	p.parenDepth--
	if !p.tok.is(")") {
		return nil, p.expected(`")"`, p.src[open.end:p.prev.end])
	}
	return c, p.advance()
}

// action parses the rest of `action == "a"` or `action != "a"`.
func (p *parser) action() (Condition, error) {
	op := p.tok
	if !op.is("==") && !op.is("!=") {
		return nil, p.expected(`"==" or "!="`)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	s := p.tok
	if s.kind != tokString {
		return nil, p.expected("a quoted action", "action "+op.text)
	}
	a := s.text[1 : len(s.text)-1]
	if !ident.Action(a) {
		return nil, p.errorf(s, `invalid action %q: want 1 to %d lower-case letters, digits or "_"`, excerpt(a), ident.MaxAction)
	}
	if op.text == "!=" {
		return Not(ActionIs(a)), p.advance()
	}
	return ActionIs(a), p.advance()
}

// score parses the rest of `score >= 0.8`.
func (p *parser) score() (Condition, error) {
	op := p.tok
	if op.kind != tokOp || !validScoreOp(op.text) {
		return nil, p.expected(`">=", ">", "<=", "<" or "=="`)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n := p.tok
	if n.kind != tokNumber {
		return nil, p.expected("a number", "score "+op.text)
	}
	v, ok := parseNumber(n.text)
	if !ok {
		return nil, p.errorf(n, "invalid number %q: want a decimal from 0 to 1 such as 0.8", excerpt(n.text))
	}
	c, err := Score(op.text, v)
	if err != nil {
		return nil, p.errorf(n, "score %s is outside [0,1]", excerpt(n.text))
	}
	return c, p.advance()
}

// expected reports that the current token is not what was wanted after
// the previous one, or after the text given.
func (p *parser) expected(what string, after ...string) error {
	prev := p.prev.text
	if len(after) > 0 {
		prev = after[0]
	}
	msg := "expected " + what
	if p.prev.kind != tokNone {
		msg += fmt.Sprintf(" after %q", excerpt(trimSpace(prev)))
	}
	switch {
	case p.tok.kind != tokEOF:
		msg += fmt.Sprintf(", found %q", excerpt(p.tok.text))
	case p.prev.kind == tokNone:
		msg = "empty expression"
	}
	return p.errorf(p.tok, "%s", msg)
}

// parseNumber reads digits with an optional fraction, e.g. 0.8 or 1.
func parseNumber(s string) (float64, bool) {
	dot := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if dot >= 0 {
				return 0, false
			}
			dot = i
		}
	}
	if dot == 0 || dot == len(s)-1 {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return "…" + string(r[len(r)-max+1:])
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}
