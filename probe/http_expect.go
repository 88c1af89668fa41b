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
		return fmt.Errorf("header %s is %s, want it to contain %s", want.Name, seen, quoteBounded(want.Value))
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
		return fmt.Errorf("body does not contain %s%s", quoteBounded(e.BodyContains), read())
	}
	if e.BodyNotContains != "" {
		if i := bytes.Index(body, []byte(e.BodyNotContains)); i >= 0 {
			return fmt.Errorf("body contains %s (at byte %d)", quoteBounded(e.BodyNotContains), i)
		}
	}
	if e.BodyRegex != nil && !e.BodyRegex.Match(body) {
		return fmt.Errorf("body does not match regex %s%s", quoteBounded(e.BodyRegex.String()), read())
	}
	if len(e.JSON) == 0 {
		return nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		// encoding/json's syntax errors quote at most one character.
		return fmt.Errorf("body is not JSON: %s%s", boundText(err.Error()), read())
	}
	for i := range e.JSON {
		if err := e.JSON[i].check(ctx, doc, sc); err != nil {
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
func quoteBounded(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(cutText(s, maxQuoted)) + "…"
}

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
