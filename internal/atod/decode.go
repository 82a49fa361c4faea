package atod

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
)

// The request decoding. The hosted API's guide sends JSON, its reference
// says it accepts form-encoded bodies: both are read, into the same
// fields. Unknown fields are ignored, so that a client written for the
// hosted API, which may send fields atod does not use, keeps working.

// DefaultMaxBody is the largest request body read: a request at every
// limit of [ato.Request] (two 4 KiB hashes, 32 metadata values of 1 KiB)
// is about 42 KiB.
const DefaultMaxBody = 64 << 10

// body is a decoded request body: a JSON object's members, or form
// values. The zero body (an empty request) has no fields.
type body struct {
	json map[string]json.RawMessage
	form url.Values
}

// readBody reads and decodes r's body, at most max bytes. An empty body is
// no fields, whatever the content type says (the hosted API's send and
// complete calls carry a JSON content type and no body), and so is a JSON
// null. A body labelled as a form that starts with '{' is JSON. A body without a
// content type is JSON when it starts with '{', form data otherwise.
func readBody(r *http.Request, max int64) (body, error) {
	data, err := readAll(http.MaxBytesReader(nil, r.Body, max), r.ContentLength, max)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return body{}, &apiError{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
				Message: "the body is larger than " + strconv.FormatInt(max, 10) + " bytes"}
		}
		return body{}, err // a broken connection or a read timeout
	}
	return decodeBody(r.Header.Get("Content-Type"), data)
}

// readAll reads r whole, into a buffer of the announced length when there
// is one (at most max), rather than growing one from 512 bytes.
func readAll(r io.Reader, length, max int64) ([]byte, error) {
	if length <= 0 || length > max {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, length+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf):
			buf = append(buf, 0)[:len(buf)] // longer than announced
		}
	}
}

// decodeBody decodes data sent with the content type ct.
func decodeBody(ct string, data []byte) (body, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return body{}, nil // JSON.stringify(null) from a client with nothing to send
	}
	kind := ""
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return body{}, unsupported(ct)
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			kind = "json"
		case mt == "application/x-www-form-urlencoded":
			kind = "form"
		case mt == "text/plain" || mt == "application/octet-stream":
			// Sniffed, as without a content type.
		default:
			return body{}, unsupported(mt)
		}
	}
	if kind == "" || (kind == "form" && trimmed[0] == '{') {
		// No form starts with '{': this is JSON that curl -d, without
		// -H "Content-Type: application/json", labelled as a form.
		kind = "form"
		if trimmed[0] == '{' {
			kind = "json"
		}
	}
	if kind == "form" {
		v, err := url.ParseQuery(string(data))
		if err != nil {
			return body{}, &apiError{Status: http.StatusBadRequest, Code: CodeMalformedBody, Message: "the form data does not parse: " + err.Error()}
		}
		return body{form: v}, nil
	}
	if trimmed[0] != '{' {
		return body{}, &apiError{Status: http.StatusBadRequest, Code: CodeMalformedBody, Message: "the body must be a JSON object"}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return body{}, &apiError{Status: http.StatusBadRequest, Code: CodeMalformedBody, Message: "the JSON does not parse: " + err.Error()}
	}
	return body{json: m}, nil
}

func unsupported(ct string) *apiError {
	return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
		Message: "send application/json or application/x-www-form-urlencoded, not " + strconv.Quote(ct)}
}

// isNull reports a JSON member that is absent in effect.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// str returns a text field: a JSON string, or a JSON number as it was
// written (user ids and codes are often numbers in JavaScript); "" when
// absent or null.
func (b body) str(name string) (string, error) {
	if b.form != nil {
		return b.form.Get(name), nil
	}
	raw, ok := b.json[name]
	if !ok || isNull(raw) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		if s, ok := plainString(raw); ok {
			return s, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", badRequest(name, "must be a string")
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", badRequest(name, "must be a string")
}

// plainString returns the text of a JSON string literal that holds no
// escape and is valid UTF-8 — a fingerprint's hex, an id — without
// decoding it again: the body was checked whole already.
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			return "", false // escapes, and non-ASCII, take the full decoder
		}
	}
	return string(in), true
}

// has reports whether the field is present and not null.
func (b body) has(name string) bool {
	if b.form != nil {
		_, ok := b.form[name]
		return ok
	}
	raw, ok := b.json[name]
	return ok && !isNull(raw)
}

// boolean returns a true/false field: JSON true or false, or in a form
// any value strconv.ParseBool reads; def when absent.
func (b body) boolean(name string, def bool) (bool, error) {
	if !b.has(name) {
		return def, nil
	}
	if b.form != nil {
		v, err := strconv.ParseBool(b.form.Get(name))
		if err != nil {
			return false, badRequest(name, "must be true or false")
		}
		return v, nil
	}
	switch string(b.json[name]) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest(name, "must be true or false")
}

// fingerprints returns the fingerprint and the last fingerprint. The
// hosted API's guide sends them as two strings; an older revision sent
// the browser's whole hash array ([fingerprint, last]) as fingerprint.
// Forms send the array as fingerprint[] twice, or fingerprint[0] and
// fingerprint[1].
func (b body) fingerprints() (fp, last string, err error) {
	var list []string
	if b.form != nil {
		fp = b.form.Get("fingerprint")
		switch {
		case len(b.form["fingerprint[]"]) > 0:
			list = b.form["fingerprint[]"]
		case b.form.Has("fingerprint[0]"):
			list = []string{b.form.Get("fingerprint[0]"), b.form.Get("fingerprint[1]")}
		}
	} else if raw := b.json["fingerprint"]; !isNull(raw) && raw[0] == '[' {
		var arr []*string
		if json.Unmarshal(raw, &arr) != nil {
			return "", "", badRequest("fingerprint", "must be a string, or an array of the browser's hashes")
		}
		for _, s := range arr {
			if s == nil {
				list = append(list, "")
			} else {
				list = append(list, *s)
			}
		}
	} else if fp, err = b.str("fingerprint"); err != nil {
		return "", "", err
	}
	if list != nil {
		if len(list) > 2 {
			return "", "", badRequest("fingerprint", "an array holds the fingerprint and the last fingerprint, no more")
		}
		fp = list[0]
		if len(list) == 2 {
			last = list[1]
		}
	}
	if b.has("last_fingerprint") {
		if last, err = b.str("last_fingerprint"); err != nil {
			return "", "", err
		}
	}
	return fp, last, nil
}

// metadata returns the metadata object. JSON values that are not strings
// are kept as their JSON text (3 is "3", true is "true"); nulls are
// dropped. Forms send metadata[key]=value.
func (b body) metadata() (map[string]string, error) {
	var m map[string]string
	if b.form != nil {
		for k, v := range b.form {
			if key, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(key, "]") && len(v) > 0 {
				if m == nil {
					m = make(map[string]string)
				}
				m[strings.TrimSuffix(key, "]")] = v[0]
			}
		}
		return m, nil
	}
	raw := b.json["metadata"]
	if isNull(raw) {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return nil, badRequest("metadata", "must be an object")
	}
	if len(obj) > ato.MaxMetadataKeys {
		return nil, badRequest("metadata", strconv.Itoa(len(obj))+" keys; at most "+strconv.Itoa(ato.MaxMetadataKeys))
	}
	m = make(map[string]string, len(obj))
	for k, v := range obj {
		switch {
		case isNull(v):
		case v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) != nil {
				return nil, badRequest("metadata", "value of "+strconv.Quote(k)+" is not a string")
			}
			m[k] = s
		default:
			var buf bytes.Buffer
			if json.Compact(&buf, v) != nil {
				return nil, badRequest("metadata", "value of "+strconv.Quote(k)+" does not parse")
			}
			m[k] = buf.String()
		}
	}
	return m, nil
}

// warning is a field atod dropped rather than refusing the request.
type warning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// attempt is the body of an evaluate call, or of a failed attempt.
type attempt struct {
	req      ato.Request
	warnings []warning
}

// decodeAttempt reads the fields of the hosted API's evaluate call, and
// ato's: user_agent, device_token and, for a failure, unknown_user (the
// engine reads it only when recording a failure).
//
// An ip that is not an address is dropped with a warning, not refused: an
// attempt without an address counts as coming from an unknown network
// (new_ip, and it teaches nothing), which never lets a password alone
// through; the hosted API's own example sends "IP_ADDRESS".
func decodeAttempt(b body) (attempt, error) {
	var a attempt
	r := &a.req
	var err error
	text := func(name string, dst *string) {
		if err == nil {
			*dst, err = b.str(name)
		}
	}
	var action string
	text("action", &action)
	r.Action = ato.Action(action)
	text("user", &r.User)
	text("version", &r.Version)
	text("ip", &r.IP)
	text("email", &r.Email)
	text("phone", &r.Phone)
	text("user_agent", &r.UserAgent)
	text("device_token", &r.DeviceToken)
	if err != nil {
		return attempt{}, err
	}
	if r.Fingerprint, r.LastFingerprint, err = b.fingerprints(); err != nil {
		return attempt{}, err
	}
	if r.Metadata, err = b.metadata(); err != nil {
		return attempt{}, err
	}
	if r.UnknownUser, err = b.boolean("unknown_user", false); err != nil {
		return attempt{}, err
	}
	r.IP = strings.TrimSpace(r.IP)
	if r.IP != "" {
		if _, perr := netip.ParseAddr(r.IP); perr != nil {
			if ap, aperr := netip.ParseAddrPort(r.IP); aperr == nil {
				r.IP = ap.Addr().String()
				a.warnings = append(a.warnings, warning{"ip", "the port was dropped: ip is an address"})
			} else {
				a.warnings = append(a.warnings, warning{"ip", "not an IP address: the attempt counts as coming from an unknown network"})
				r.IP = ""
			}
		}
	}
	return a, nil
}

// decodeChannel reads the channel of a send call: "email", "sms" or its
// other name "text" (the hosted API's browser SDK and challenge object), or
// "totp"; "" when the body names none.
func decodeChannel(b body) (challenge.Channel, error) {
	s, err := b.str("channel")
	if err != nil {
		return "", err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "email":
		return challenge.Email, nil
	case "sms", "text":
		return challenge.SMS, nil
	case "totp":
		return challenge.TOTP, nil
	}
	return "", badRequest("channel", "must be email, sms (or text) or totp, not "+strconv.Quote(excerpt(s)))
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
