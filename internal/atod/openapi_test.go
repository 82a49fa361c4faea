package atod

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPI checks /openapi.json against the real handlers: every
// documented path and method is served and every route is documented;
// then a run through every operation checks that each answer's status is
// documented for its operation and that its body matches the documented
// schema (no field the document does not name, every required one, the
// right types and values).
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var doc map[string]any
	served := f.do("GET", "/openapi.json", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, served.status)
	require.NoError(t, json.Unmarshal(served.raw, &doc))
	assert.Equal(t, "3.1.0", doc["openapi"])

	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	for _, rt := range f.srv.routeTable() {
		routed[rt.method+" "+rt.path] = true
	}
	for op := range documented {
		assert.True(t, routed[op], "%s is documented but not served", op)
	}
	for op := range routed {
		assert.True(t, documented[op], "%s is served but not documented", op)
	}

	// Record every answer, by the route that served it.
	type answer struct {
		op     string
		status int
		ct     string
		body   []byte
	}
	var answers []answer
	inner := f.h
	f.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := f.srv.mux.Handler(r)
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		answers = append(answers, answer{r.Method + " " + pattern, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()})
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
	exerciseAll(t, f)

	ok := map[string]bool{}
	for _, a := range answers {
		if a.op == "GET /" || strings.HasPrefix(a.op, "HEAD ") {
			continue // unmatched paths: the Error schema is checked below
		}
		method, path, _ := strings.Cut(a.op, " ")
		operation, found := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		if !assert.True(t, found, "%s answered but is not documented", a.op) {
			continue
		}
		responses := operation["responses"].(map[string]any)
		resp, found := responses[strconv.Itoa(a.status)]
		if !found && a.status >= 500 {
			resp, found = responses["5XX"]
		}
		if !assert.True(t, found, "%s answered %d, which it does not document: %s", a.op, a.status, a.body) {
			continue
		}
		resp = deref(doc, resp)
		content := resp.(map[string]any)["content"].(map[string]any)
		mt, _, _ := strings.Cut(a.ct, ";")
		media, found := content[mt]
		if !assert.True(t, found, "%s %d: content type %q not documented", a.op, a.status, a.ct) {
			continue
		}
		if a.status == http.StatusOK {
			ok[a.op] = true
		}
		if mt != "application/json" {
			continue
		}
		var v any
		require.NoError(t, json.Unmarshal(a.body, &v), "%s", a.body)
		problems := validate(doc, media.(map[string]any)["schema"], v, "body")
		assert.Empty(t, problems, "%s %d: %s", a.op, a.status, a.body)
	}
	for op := range documented {
		assert.True(t, ok[op], "%s was not exercised with a 200", op)
	}
	// The answer of an unmatched path is an Error too.
	var v any
	require.NoError(t, json.Unmarshal(f.do("GET", "/nowhere", nil).raw, &v))
	assert.Empty(t, validate(doc, map[string]any{"$ref": "#/components/schemas/Error"}, v, "body"))
}

// exerciseAll calls every operation, with answers good and bad.
func exerciseAll(t *testing.T, f *fixture) {
	id := f.challenged()
	f.do("POST", "/v2/evaluate", map[string]any{"user": "bob", "fingerprint": laptop, "ip": "IP_ADDRESS"}) // warnings
	f.do("POST", "/v2/evaluate", map[string]any{"action": "NOPE", "user": "bob"})                          // 400
	f.do("POST", "/v2/evaluate", "<x/>", "Content-Type", "text/xml")                                       // 415
	f.do("POST", "/v2/evaluate", `{"user": "`+strings.Repeat("a", DefaultMaxBody)+`"}`)                    // 413
	f.do("POST", "/v2/evaluate", map[string]any{"user": "bob"}, "Authorization", "")                       // 401
	f.do("GET", "/v2/challenges/"+id, nil)
	f.do("GET", "/v2/challenges/nope", nil)                        // 404
	f.do("POST", "/v2/challenges/"+id+"/complete", nil)            // 409
	f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{}) // 400
	require.Equal(t, http.StatusOK, f.do("POST", "/v2/challenges/"+id+"/send", nil).status)
	f.do("POST", "/v2/challenges/"+id+"/send", nil) // 429
	f.do("GET", "/v2/challenges/"+id, nil)
	m, _ := f.outbox.Last(id)
	f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": "0"})
	require.Equal(t, http.StatusOK, f.do("POST", "/v2/challenges/"+id+"/verify", map[string]any{"code": m.Code}).status)
	require.Equal(t, http.StatusOK, f.do("POST", "/v2/challenges/"+id+"/complete", nil).status)
	f.do("GET", "/v2/challenges/"+id, nil)
	f.do("POST", "/v2/failures", map[string]any{"user": "alice", "ip": "x"})
	f.do("POST", "/v2/failures", map[string]any{})
	f.do("GET", "/v2/users/alice/devices", nil)
	devices := f.do("GET", "/v2/users/alice/devices", nil).body["devices"].([]any)
	dev := devices[0].(map[string]any)["id"].(string)
	other := devices[1].(map[string]any)["id"].(string)
	f.do("POST", "/v2/users/alice/devices/"+dev+"/report", map[string]any{"mine": true})
	f.do("POST", "/v2/users/alice/devices/nope/report", map[string]any{"mine": true}) // 404
	f.do("POST", "/v2/users/alice/devices/"+other+"/report", map[string]any{"mine": false})
	f.do("GET", "/v2/users/alice/devices", nil)         // restricted devices
	f.do("DELETE", "/v2/users/alice/devices/"+dev, nil) // 409
	f.do("DELETE", "/v2/users/alice/devices/nope", nil) // 404
	f.do("POST", "/v2/evaluate", map[string]any{"user": "carol", "fingerprint": laptop, "ip": "203.0.113.9"})
	carol := f.do("GET", "/v2/users/carol/devices", nil).body["devices"].([]any)[0].(map[string]any)["id"].(string)
	f.do("DELETE", "/v2/users/carol/devices/"+carol, nil)
	f.do("DELETE", "/v2/users/alice", nil)
	f.do("GET", "/healthz", nil)
	f.do("GET", "/readyz", nil)
	f.do("GET", "/metrics", nil)
	f.do("GET", "/openapi.json", nil)
	f.srv.SetDraining()
	f.do("GET", "/readyz", nil) // 503
}

// deref follows a $ref.
func deref(doc map[string]any, v any) any {
	for {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		v = cur
	}
}

// validate checks v against the JSON Schema subset the document uses:
// $ref, oneOf, type (one or a list), enum, format date-time, properties,
// required, additionalProperties false, items. It returns the problems.
func validate(doc map[string]any, schema any, v any, at string) []string {
	s := deref(doc, schema).(map[string]any)
	var problems []string
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, alt := range alts {
			if len(validate(doc, alt, v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			problems = append(problems, fmt.Sprintf("%s: matches %d of oneOf", at, n))
		}
	}
	if typ, ok := s["type"]; ok {
		var types []string
		switch t := typ.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			return append(problems, fmt.Sprintf("%s: %s, not %v", at, jsonType(v), types))
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		problems = append(problems, fmt.Sprintf("%s: %v not in %v", at, v, enum))
	}
	if s["format"] == "date-time" {
		if str, _ := v.(string); str != "" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required %q missing", at, r))
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, ok := props[k]
			if !ok {
				if s["additionalProperties"] == false {
					problems = append(problems, fmt.Sprintf("%s: %q is not documented", at, k))
				}
				continue
			}
			problems = append(problems, validate(doc, p, x[k], at+"."+k)...)
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range x {
				problems = append(problems, validate(doc, items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func asStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, x.(string))
		}
	}
	return out
}

// TestValidate checks the checker: a schema it is given must catch what
// it should.
func TestValidate(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	ref := map[string]any{"$ref": "#/components/schemas/Success"}
	assert.Empty(t, validate(doc, ref, map[string]any{"success": true}, "b"))
	assert.NotEmpty(t, validate(doc, ref, map[string]any{}, "b"), "required")
	assert.NotEmpty(t, validate(doc, ref, map[string]any{"success": "yes"}, "b"), "type")
	assert.NotEmpty(t, validate(doc, ref, map[string]any{"success": true, "extra": 1}, "b"), "undocumented field")
	ev := map[string]any{"$ref": "#/components/schemas/EvaluateRequest"}
	assert.Empty(t, validate(doc, ev, map[string]any{"user": "a", "fingerprint": []any{"x", nil}}, "b"))
	assert.NotEmpty(t, validate(doc, ev, map[string]any{"user": "a", "fingerprint": 3.0}, "b"), "oneOf")
}
