package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/itchyny/gojq"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// The assertions of an http monitor (HTTPSpec.Expect), checked once its
// status code has passed, in this order, the first that fails reported:
// the response headers, body_contains, body_not_contains, body_regex, and
// the JSON paths. Their errors quote what they saw, at most maxQuoted
// bytes of it, and never a request header's value; a value seen is
// scrubbed of the monitor's secrets before it is cut, so that no part of
// one survives the cut (the runner scrubs the whole error again, but a
// secret cut in half no longer matches).

const (
	// maxQuoted bounds each piece of a response quoted in an error.
	maxQuoted = 64
	// bodyBufStart is the capacity a pooled body buffer starts with; it
	// grows, up to maxBodyRead+1, only for bodies that need it.
	bodyBufStart = 2 << 10
)

// bodyBufs pools the buffers bodies are read into for assertions, so that
// a sweep of many such monitors reuses a few hundred of them (one per
// attempt in flight) rather than allocating one per attempt. Buffers that
// grew for a large body are kept at that size.
var bodyBufs = sync.Pool{New: func() any {
	b := make([]byte, bodyBufStart)
	return &b
}}

// readBody reads r into *buf, growing it as needed, until EOF, an error,
// or more than maxBodyRead bytes. It returns the bytes read, at most
// maxBodyRead, and whether they are the whole body. sizeHint is the
// body's length when known (Content-Length), else -1.
func readBody(r io.Reader, buf *[]byte, sizeHint int64) (body []byte, complete bool) {
	b := (*buf)[:cap(*buf)]
	if sizeHint >= 0 && int(min(sizeHint, maxBodyRead)) >= len(b) {
		// Room for the whole body and the read that finds its end (or,
		// for a longer one, the byte that shows it is longer).
		b = make([]byte, min(sizeHint, maxBodyRead)+1)
	}
	n := 0
	for {
		if n == len(b) {
			if n > maxBodyRead {
				break
			}
			nb := make([]byte, min(max(2*len(b), bodyBufStart), maxBodyRead+1))
			copy(nb, b[:n])
			b = nb
		}
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			*buf = b
			if n > maxBodyRead {
				return b[:maxBodyRead], false
			}
			return b[:n], err == io.EOF
		}
	}
	// The byte past maxBodyRead arrived: the body is longer.
	*buf = b
	return b[:maxBodyRead], false
}

// checkHeaders checks the response headers assertions.
func (e *HTTPExpect) checkHeaders(h http.Header, sc secret.Scrubber) error {
	for _, want := range e.Headers {
		vs := h.Values(want.Name)
		if len(vs) == 0 {
			return fmt.Errorf("header %s missing", want.Name)
		}
		found := false
		for _, v := range vs {
			if strings.Contains(v, want.Value) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		seen := "redacted"
		if !sensitiveHeader(want.Name) {
			seen = quoteSeen(strings.Join(vs, ", "), sc)
		}
		return fmt.Errorf("header %s is %s, want it to contain %s", want.Name, seen, quoteSeen(want.Value, sc))
	}
	return nil
}

// sensitiveHeader reports whether a header's values may be credentials,
// never quoted in an error: cookies, authorization, tokens, keys,
// sessions, signatures.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"cookie", "auth", "token", "secret", "key", "session", "passw", "signature", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// checkBody checks the body assertions on body, complete when it is the
// whole body, else the first len(body) bytes of it. ctx bounds the JSON
// paths.
func (e *HTTPExpect) checkBody(ctx context.Context, body []byte, complete bool, sc secret.Scrubber) error {
	// read says, when the body was cut short, how much of it an
	// assertion that found nothing looked at.
	read := func() string {
		if complete {
			return ""
		}
		return fmt.Sprintf(" (first %d bytes read)", len(body))
	}
	if e.BodyContains != "" && !bytes.Contains(body, []byte(e.BodyContains)) {
		return fmt.Errorf("body does not contain %s%s", quoteSeen(e.BodyContains, sc), read())
	}
	if e.BodyNotContains != "" {
		if i := bytes.Index(body, []byte(e.BodyNotContains)); i >= 0 {
			return fmt.Errorf("body contains %s (at byte %d)", quoteSeen(e.BodyNotContains, sc), i)
		}
	}
	if e.BodyRegex != nil && !e.BodyRegex.Match(body) {
		return fmt.Errorf("body does not match regex %s%s", quoteSeen(e.BodyRegex.String(), sc), read())
	}
	if len(e.JSON) == 0 {
		return nil
	}
	// The body is decoded, once, only for a path that lookupSimple
	// leaves to gojq; json.Valid, which decoding would run first, has
	// it fail the same way either way.
	var doc any
	if !json.Valid(body) {
		// Decoded for encoding/json's words on what is wrong; its
		// syntax errors quote at most one character.
		text := "invalid JSON"
		if err := json.Unmarshal(body, &doc); err != nil {
			text = err.Error()
		}
		return fmt.Errorf("body is not JSON: %s%s", boundText(text), read())
	}
	decoded := false
	for i := range e.JSON {
		j := &e.JSON[i]
		if raw, ok := lookupSimple(j.Path, body); ok && j.code != nil {
			if err := j.checkRaw(raw, sc); err != nil {
				return fmt.Errorf("%w%s", err, read())
			}
			continue
		}
		if !decoded {
			if err := json.Unmarshal(body, &doc); err != nil {
				return fmt.Errorf("body is not JSON: %s%s", boundText(err.Error()), read())
			}
			decoded = true
		}
		if err := j.check(ctx, doc, sc); err != nil {
			return fmt.Errorf("%w%s", err, read())
		}
	}
	return nil
}

// check applies j's path to doc, a JSON document as encoding/json decodes
// one, and compares its first value with j.Want.
func (j *JSONExpect) check(ctx context.Context, doc any, sc secret.Scrubber) error {
	if j.code == nil {
		return fmt.Errorf("%s: path not compiled (NewJSONExpect makes a JSONExpect)", j.Path)
	}
	v, ok, err := j.first(ctx, doc)
	switch {
	case !ok:
		return fmt.Errorf("%s: no value", j.Path)
	case err != nil:
		return fmt.Errorf("%s: %s", j.Path, j.errorText(ctx, err, doc, sc))
	case !jsonEqual(v, j.Want):
		return fmt.Errorf("%s is %s, want %s", j.Path, jsonText(v, sc), jsonText(j.Want, secret.Scrubber{}))
	}
	return nil
}

// first runs j's code on doc and returns its first value or error; ok is
// false when it gives none (or halts without an error).
func (j *JSONExpect) first(ctx context.Context, doc any) (v any, ok bool, err error) {
	v, ok = j.code.RunWithContext(ctx, doc).Next()
	if !ok {
		return nil, false, nil
	}
	if e, isErr := v.(error); isErr {
		if h, halt := e.(*gojq.HaltError); halt && h.Value() == nil {
			return nil, false, nil
		}
		return nil, true, e
	}
	return v, true, nil
}

// errorText words err, the error j's path gave on doc. gojq's errors quote
// the values they failed on, cut to 30 bytes, which could leave part of a
// secret that no scrub would then find: with secrets, the path runs again
// on a copy of doc scrubbed of them, and that error is the one told.
func (j *JSONExpect) errorText(ctx context.Context, err error, doc any, sc secret.Scrubber) string {
	if sc.Longest() > 0 {
		_, ok, err2 := j.first(ctx, scrubJSON(doc, sc))
		if !ok || err2 == nil {
			return "jq error"
		}
		err = err2
	}
	return boundText(err.Error())
}

// scrubJSON returns a copy of v, a decoded JSON value, with every secret
// of sc cut out of its strings and keys.
func scrubJSON(v any, sc secret.Scrubber) any {
	switch v := v.(type) {
	case string:
		return sc.String(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = scrubJSON(e, sc)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[sc.String(k)] = scrubJSON(e, sc)
		}
		return c
	}
	return v
}

// jsonEqual compares two JSON values: numbers numerically, whatever their
// Go type (gojq gives int, float64 or *big.Int; a decoded Want float64 or,
// from YAML, int), strings, bools and null by equality, arrays and
// objects element by element.
func jsonEqual(a, b any) bool {
	if x, ok := jsonNumber(a); ok {
		y, ok := jsonNumber(b)
		return ok && x == y
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && a == y
	case string:
		y, ok := b.(string)
		return ok && a == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(a) != len(y) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(a) != len(y) {
			return false
		}
		for k, av := range a {
			bv, ok := y[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

// jsonNumber returns v as a float64 when it is a number.
func jsonNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint64:
		return float64(v), true
	case uint32:
		return float64(v), true
	case float32:
		return float64(v), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(v).Float64()
		return f, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// jsonText writes a JSON value for an error: strings quoted, numbers as
// JSON writes them, arrays and objects as JSON; each at most maxQuoted
// bytes.
func jsonText(v any, sc secret.Scrubber) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case string:
		return quoteSeen(v, sc)
	}
	if f, ok := jsonNumber(v); ok {
		switch v := v.(type) {
		case int:
			return strconv.Itoa(v)
		case *big.Int:
			return boundText(v.String())
		}
		// As encoding/json writes numbers: 1234567, not 1.234567e+06.
		format := byte('f')
		if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		return strconv.FormatFloat(f, format, -1, 64)
	}
	if sc.Longest() > 0 {
		// Before encoding: a secret holding a quote or a backslash
		// would be escaped out of the scrubber's sight.
		v = scrubJSON(v, sc)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	text := ""
	if err := enc.Encode(v); err == nil {
		text = strings.TrimSuffix(b.String(), "\n")
	} else {
		text = fmt.Sprint(v)
	}
	if sc.Longest() > 0 {
		text = sc.String(text)
	}
	return boundText(text)
}

// quoteSeen quotes s, something a response held, scrubbed of sc's
// secrets and then cut to maxQuoted bytes.
func quoteSeen(s string, sc secret.Scrubber) string {
	if sc.Longest() > 0 {
		s = sc.String(s)
	}
	return quoteBounded(s)
}

// quoteBounded quotes (strconv.Quote) at most maxQuoted bytes of s, cut
// at a character's start and followed by "…" when cut.
func quoteBounded(s string) string { return quoteCut(s, maxQuoted) }

// boundText cuts s, a text already escaped for one line, to twice
// maxQuoted bytes, with "…" when cut.
func boundText(s string) string {
	if len(s) <= 2*maxQuoted {
		return s
	}
	return cutText(s, 2*maxQuoted) + "…"
}

// cutText returns the first n bytes of s or fewer, cut at the start of a
// character, as valid UTF-8.
func cutText(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "\uFFFD")
}

// The JSON paths most monitors write are chains of object keys and array
// indexes: ".status", ".checks.db", ".items[0].state". Decoding a whole
// body into maps for gojq costs a health check's JSON path as much again
// as the rest of its attempt (24 allocations for a 90-byte document, and
// 6 more for gojq's run); so such a path is followed through the body's
// bytes instead, and only the value it finds is decoded, if that. Any
// other path, and any step that would make jq fail (a key of a string,
// an index of an object, a negative index) or that the walk cannot judge
// alone (an escaped key), is left to gojq on the decoded body, so that
// both give one answer and jq's own error; TestJSONFastPathAgreesWithGojq
// holds them to it.

// jqKeyword reports the words jq might not take as a bare key after a
// dot: paths using them go to gojq.
func jqKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "if", "then", "elif", "else", "end", "as", "def",
		"reduce", "foreach", "try", "catch", "label", "import", "include", "__loc__":
		return true
	}
	return false
}

// lookupSimple follows path through doc, which must be valid JSON, when
// path is a chain of .key and [n] steps (".a.b[0]", ".[2]"). It returns
// the bytes of the value found, "null" for a missing key or index as jq
// gives; ok is false when path is not such a chain or the walk must
// leave the answer to gojq.
func lookupSimple(path string, doc []byte) (raw []byte, ok bool) {
	if len(path) < 2 || path[0] != '.' {
		return nil, false
	}
	v := doc
	null := false // a step reached null: every step after gives null
	for i := 0; i < len(path); {
		var key string
		index := -1
		switch {
		case path[i] == '.' && i+1 < len(path) && isIdentStart(path[i+1]):
			j := i + 2
			for j < len(path) && isIdentPart(path[j]) {
				j++
			}
			key, i = path[i+1:j], j
			if jqKeyword(key) {
				return nil, false
			}
		case path[i] == '[' || (i == 0 && path[i] == '.' && i+1 < len(path) && path[i+1] == '['):
			if path[i] == '.' {
				i++
			}
			j := i + 1
			for j < len(path) && path[j] >= '0' && path[j] <= '9' {
				j++
			}
			if j == i+1 || j-i-1 > 9 || j >= len(path) || path[j] != ']' {
				return nil, false
			}
			index, _ = strconv.Atoi(path[i+1 : j])
			i = j + 1
		default:
			return nil, false
		}
		if null {
			continue
		}
		v = trimJSONSpace(v)
		if len(v) == 0 {
			return nil, false
		}
		if v[0] == 'n' {
			null = true
			continue
		}
		var found bool
		if index >= 0 {
			if v[0] != '[' {
				return nil, false
			}
			v, found = jsonElement(v, index)
		} else {
			if v[0] != '{' {
				return nil, false
			}
			v, found, ok = jsonMember(v, key)
			if !ok {
				return nil, false
			}
		}
		if !found {
			null = true
		}
	}
	if null {
		return []byte("null"), true
	}
	return jsonValueSpan(trimJSONSpace(v)), true
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// jsonMember returns the value of key in obj, an object at the start of
// valid JSON, and what follows it; the last such member when key repeats,
// as encoding/json decodes. ok is false when a key holds an escape, which
// the walk does not decode.
func jsonMember(obj []byte, key string) (v []byte, found, ok bool) {
	b := trimJSONSpace(obj[1:])
	if len(b) > 0 && b[0] == '}' {
		return nil, false, true
	}
	for len(b) > 0 {
		end := jsonStringEnd(b)
		k := b[1 : end-1]
		if bytes.IndexByte(k, '\\') >= 0 {
			return nil, false, false
		}
		b = trimJSONSpace(b[end:])[1:] // the colon
		b = trimJSONSpace(b)
		if string(k) == key {
			v, found = b, true
		}
		b = trimJSONSpace(b[len(jsonValueSpan(b)):])
		if len(b) == 0 || b[0] == '}' {
			break
		}
		b = trimJSONSpace(b[1:]) // the comma
	}
	return v, found, true
}

// jsonElement returns element n of arr, an array at the start of valid
// JSON, and what follows it.
func jsonElement(arr []byte, n int) (v []byte, found bool) {
	b := trimJSONSpace(arr[1:])
	if len(b) > 0 && b[0] == ']' {
		return nil, false
	}
	for i := 0; len(b) > 0; i++ {
		if i == n {
			return b, true
		}
		b = trimJSONSpace(b[len(jsonValueSpan(b)):])
		if len(b) == 0 || b[0] == ']' {
			break
		}
		b = trimJSONSpace(b[1:])
	}
	return nil, false
}

// jsonValueSpan returns the value at the start of b, valid JSON.
func jsonValueSpan(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	switch b[0] {
	case '"':
		return b[:jsonStringEnd(b)]
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				i += jsonStringEnd(b[i:]) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return b[:i+1]
				}
			}
		}
		return b
	}
	// A number or a literal.
	i := 0
	for i < len(b) && !jsonDelimiter(b[i]) {
		i++
	}
	return b[:i]
}

// jsonDelimiter reports whether c ends a number or a literal.
func jsonDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// jsonStringEnd returns the length of the string at the start of b,
// quotes included.
func jsonStringEnd(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// checkRaw compares raw, the JSON value lookupSimple found, with j.Want.
// Strings without escapes, booleans and null compare as they are; other
// values are decoded first.
func (j *JSONExpect) checkRaw(raw []byte, sc secret.Scrubber) error {
	switch want := j.Want.(type) {
	case string:
		if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && string(raw[1:len(raw)-1]) == want {
			return nil
		}
	case bool:
		if want && string(raw) == "true" || !want && string(raw) == "false" {
			return nil
		}
	case nil:
		if string(raw) == "null" {
			return nil
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		// Valid JSON that encoding/json does not decode (a number
		// beyond float64): the body is not JSON to it either.
		return fmt.Errorf("body is not JSON: %s", boundText(err.Error()))
	}
	if !jsonEqual(v, j.Want) {
		return fmt.Errorf("%s is %s, want %s", j.Path, jsonText(v, sc), jsonText(j.Want, secret.Scrubber{}))
	}
	return nil
}
