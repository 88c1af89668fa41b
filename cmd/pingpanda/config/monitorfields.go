package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/probe"
)

// mkind is how a monitors file field's value is parsed.
type mkind int

const (
	mString   mkind = iota
	mSecret         // a string that may hold secrets: ${NAME} and file:/ssm:/secretsmanager: references
	mDuration       // "800ms", "5m"; a bare number is seconds
	mInt
	mFloat
	mBool
	mCodes   // "200-299,301"
	mLabels  // mapping of names to strings
	mHeaders // mapping of header names to (secret) strings, in order
	mStrings // list of strings
	mJSON    // mapping of jq paths to expected values
	mRegex
	mCheck
)

// mfield is one field of a monitor, as written in the monitors file. The
// table below is the single source of the file's fields: the parser, the
// precedence of defaults, `pingpanda config --monitors`, the JSON Schema
// and the README's reference all come from it.
type mfield struct {
	path string // dotted: "timeout", "http.expect.json"
	kind mkind
	// monitorOnly fields may not appear in defaults (a monitor's
	// identity).
	monitorOnly bool
	// env is the environment key whose value is the field's default; for
	// timeout, the key depends on the check (timeoutKeys).
	env string
	// def is the built-in default shown when no layer and no key sets it.
	def      string
	min, max float64
	enum     []string
	help     string
}

// timeoutKeys are the environment's per-check attempt time limits.
var timeoutKeys = map[probe.Check]string{
	probe.DNS: "DNS_TIMEOUT_SECONDS", probe.Ping: "PING_TIMEOUT_SECONDS", probe.HTTP: "HTTP_TIMEOUT_SECONDS",
	probe.TLS: "SSL_TIMEOUT_SECONDS", probe.TCP: "TCP_TIMEOUT_SECONDS",
}

// sections are the fields that hold fields, and the check each belongs to.
var sections = map[string]probe.Check{
	"http": probe.HTTP, "http.expect": probe.HTTP, "tls": probe.TLS, "dns": probe.DNS, "ping": probe.Ping, "tcp": probe.TCP,
}

var monitorFields = []mfield{
	{path: "name", kind: mString, monitorOnly: true, help: "display name; also how problems name the monitor"},
	{path: "check", kind: mCheck, monitorOnly: true, enum: []string{"dns", "ping", "http", "tls", "tcp"}, help: "the kind of check (required)"},
	{path: "target", kind: mString, monitorOnly: true, help: "what to check, as in the env lists: a name (dns), host (ping), URL (http), host[:port] (tls) or host:port (tcp) (required)"},
	{path: "id", kind: mString, monitorOnly: true, help: "stable identity of the monitor's state; default `<check>:<target>`"},
	{path: "depends_on", kind: mStrings, monitorOnly: true, help: "IDs of monitors this one depends on (checked; used by a later version)"},
	{path: "labels", kind: mLabels, help: "name: value pairs; a group's and the defaults' labels merge in"},
	{path: "every", kind: mDuration, def: "0s", min: 0, max: maxSeconds, help: "probe at most this often; sweeps in between report the monitor skipped (not due)"},
	{path: "timeout", kind: mDuration, min: 0.01, max: 3600, help: "time limit of one attempt (default: the check's *_TIMEOUT_SECONDS)"},
	{path: "retries", kind: mInt, env: "RETRY_COUNT", min: 1, max: 20, help: "attempts per sweep"},
	{path: "alert_threshold", kind: mInt, env: "ALERT_THRESHOLD", min: 1, max: 1000, help: "failures (or degraded checks) in a row before an alert"},
	{path: "realert", kind: mDuration, env: "REALERT_INTERVAL_SECONDS", min: 0, max: maxSeconds, help: "remind this often while down; 0 never"},
	{path: "notify_recovery", kind: mBool, env: "NOTIFY_RECOVERY", help: "announce recoveries"},

	{path: "http.method", kind: mString, def: "GET", help: "request method"},
	{path: "http.headers", kind: mHeaders, help: "request headers; values may use ${NAME} and secret references"},
	{path: "http.body", kind: mSecret, help: "request body; may use ${NAME} or be a secret reference"},
	{path: "http.success_codes", kind: mCodes, env: "SUCCESS_HTTP_CODES", help: "status codes that count as up (`200-299,401`)"},
	{path: "http.follow_redirects", kind: mBool, def: "true", help: "follow up to 10 redirects; false judges the redirect itself"},
	{path: "http.max_latency", kind: mDuration, def: "0s", min: 0, max: 3600, help: "a slower answer is a failure; 0 no limit"},
	{path: "http.warn_latency", kind: mDuration, def: "0s", min: 0, max: 3600, help: "a slower answer is degraded (a warning); 0 never"},
	{path: "http.expect.body_contains", kind: mSecret, help: "the body (first 64 KiB) must contain this"},
	{path: "http.expect.body_not_contains", kind: mSecret, help: "the body (first 64 KiB) must not contain this"},
	{path: "http.expect.body_regex", kind: mRegex, help: "the body (first 64 KiB) must match this regular expression (RE2)"},
	{path: "http.expect.json", kind: mJSON, help: "jq-like path: expected value, on the body parsed as JSON"},
	{path: "http.expect.headers", kind: mHeaders, help: "response header: text its value must contain"},

	{path: "tls.warn_days", kind: mFloat, env: "SSL_WARN_DAYS", min: 0, max: 3650, help: "certificate level warning at or below this many days"},
	{path: "tls.critical_days", kind: mFloat, env: "SSL_CRITICAL_DAYS", min: 0, max: 3650, help: "certificate level critical at or below this many days"},
	{path: "tls.server_name", kind: mString, help: "SNI and the name verified; default the target's host"},

	{path: "dns.server", kind: mString, env: "DNS_SERVER", help: "resolver host:port"},
	{path: "dns.type", kind: mString, env: "DNS_RECORD_TYPE", help: "record type to ask for"},
	{path: "dns.expect", kind: mStrings, help: "answers that must each be present, as in a zone file: `10 mx.example.com.`"},
	{path: "dns.rcode", kind: mString, def: "NOERROR", help: "response code wanted; NOERROR also needs an answer"},

	{path: "ping.count", kind: mInt, env: "PING_COUNT", min: 1, max: 100, help: "echoes per attempt"},
	{path: "ping.max_loss", kind: mFloat, min: 0, max: 100, help: "highest loss (percent) still up; default: up on any reply"},

	{path: "tcp.tls", kind: mBool, def: "false", help: "complete a verified TLS handshake after connecting"},
	{path: "tcp.server_name", kind: mString, help: "TLS server name; default the target's host"},
	{path: "tcp.send", kind: mSecret, help: "written once connected"},
	{path: "tcp.expect", kind: mSecret, help: "must appear in the first 4 KiB read"},
}

var fieldIndex = func() map[string]*mfield {
	m := make(map[string]*mfield, len(monitorFields))
	for i := range monitorFields {
		m[monitorFields[i].path] = &monitorFields[i]
	}
	return m
}()

// fieldsUnder lists the names allowed directly under prefix ("" for a
// monitor's top level), for suggestions.
func fieldsUnder(prefix string, inDefaults bool) []string {
	var out []string
	for _, f := range monitorFields {
		rest, ok := strings.CutPrefix(f.path, prefix)
		if !ok || (inDefaults && f.monitorOnly) {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// leaf is one field's value in one layer of the file, parsed.
type leaf struct {
	val  any // typed by the field's kind
	line int
	// ctx names the layer it is in: "monitor login", "defaults", "group
	// shop defaults".
	ctx string
	// shown is the value as `config --monitors` prints it: secrets as
	// written (${NAME}, the reference), never what they resolve to. For a
	// scalar it is the text as written; for a mapping or a list it is
	// set only when the monitors are explained.
	shown string
	// id tells apart leaves of mappings and lists, whose shown text may
	// be unset, in the key of a monitor's settings.
	id uint32
	// secrets are the values ${NAME} and references put into val.
	secrets []string
}

// src says where the leaf is: "monitor login (monitors.yaml:14)".
func (lf *leaf) src(path string) string {
	return fmt.Sprintf("%s (%s:%d)", lf.ctx, path, lf.line)
}

// parseLeaf reads a field's node. Strings have ${NAME} substituted from
// env; secret strings may also be references, queued on refs.
func (p *monitorParser) parseLeaf(f *mfield, n *yaml.Node) (*leaf, error) {
	p.leaves++
	lf := &leaf{line: n.Line, ctx: p.ctxOr("monitor"), id: p.leaves}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		// An aliased list or mapping is read again for every monitor
		// that names it: it counts against the file's budget too.
		if p.visits += len(n.Content); p.visits > maxFieldVisits {
			return nil, fmt.Errorf("the file expands, through aliases, to more than %d values; write it out", maxFieldVisits)
		}
	}
	switch f.kind {
	case mString, mSecret, mRegex, mCheck:
		s, err := scalar(n)
		if err != nil {
			return nil, err
		}
		lf.shown = s
		v, subs, err := p.substitute(s)
		if err != nil {
			return nil, err
		}
		switch f.kind {
		case mSecret:
			lf.secrets = subs
			if p.isRef(v) {
				lf.val = p.queueRef(lf, v, f.path)
				return lf, nil
			}
		case mRegex:
			lf.secrets = subs // a regexp quoted in an error shows them
			re, ok := p.regexps[v]
			if !ok {
				var err error
				if re, err = regexp.Compile(v); err != nil {
					return nil, fmt.Errorf("not a regular expression: %v", regexpProblem(err))
				}
				if p.regexps == nil {
					p.regexps = map[string]*regexp.Regexp{}
				}
				p.regexps[v] = re
			}
			lf.val = re
			return lf, nil
		case mCheck:
			c, err := probe.ParseCheck(v)
			if err != nil {
				return nil, err
			}
			lf.val = c
			return lf, nil
		}
		lf.val = v
	case mDuration:
		s, err := scalar(n)
		if err != nil {
			return nil, err
		}
		d, err := parseDuration(s)
		if err != nil {
			return nil, err
		}
		if sec := d.Seconds(); sec < f.min || sec > f.max {
			return nil, fmt.Errorf("%s is outside %s to %s", s, fmtSeconds(f.min), fmtSeconds(f.max))
		}
		lf.val, lf.shown = d, s
	case mInt:
		s, err := scalar(n)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", s)
		}
		if float64(i) < f.min || float64(i) > f.max {
			return nil, fmt.Errorf("%d is outside %s to %s", i, fmtNum(f.min), fmtNum(f.max))
		}
		lf.val, lf.shown = i, s
	case mFloat:
		s, err := scalar(n)
		if err != nil {
			return nil, err
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		if x < f.min || x > f.max {
			return nil, fmt.Errorf("%s is outside %s to %s", s, fmtNum(f.min), fmtNum(f.max))
		}
		lf.val, lf.shown = x, s
	case mBool:
		s, err := scalar(n)
		if err != nil {
			return nil, err
		}
		b, err := parseBool(s)
		if err != nil {
			return nil, err
		}
		lf.val, lf.shown = b, s
	case mCodes:
		s, err := scalar(n)
		if err != nil {
			return nil, err
		}
		c, err := probe.ParseCodes(s)
		if err != nil {
			return nil, err
		}
		lf.val, lf.shown = c, s
	case mLabels:
		m, err := p.stringMap(n, lf, false, f.path)
		if err != nil {
			return nil, err
		}
		labels := make(map[string]string, len(m))
		for _, h := range m {
			if err := checkLabelName(h.Name); err != nil {
				return nil, err
			}
			labels[h.Name] = h.Value
		}
		lf.val = labels
	case mHeaders:
		m, err := p.stringMap(n, lf, true, f.path)
		if err != nil {
			return nil, err
		}
		for _, h := range m {
			if !validHeaderName(h.Name) {
				return nil, fmt.Errorf("%q is not a header name", h.Name)
			}
		}
		lf.val = m
	case mStrings:
		if n.Kind != yaml.SequenceNode {
			return nil, errors.New("want a list")
		}
		var out []string
		for _, item := range n.Content {
			s, err := scalar(item)
			if err != nil {
				return nil, err
			}
			v, _, err := p.substitute(s)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		lf.val = out
		if p.l.explain {
			lf.shown = "[" + strings.Join(quoteAll(out), ", ") + "]"
		}
	case mJSON:
		if n.Kind != yaml.MappingNode {
			return nil, errors.New("want a mapping of paths to expected values")
		}
		var out []probe.JSONExpect
		var shown []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			path := n.Content[i].Value
			want, err := p.jsonValue(n.Content[i+1], lf, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			je, err := p.jsonExpect(path, want)
			if err != nil {
				return nil, err
			}
			out = append(out, je)
			if p.l.explain {
				shown = append(shown, path+"="+jsonText(want))
			}
		}
		lf.val, lf.shown = out, strings.Join(shown, ", ")
	}
	return lf, nil
}

// stringMap reads a mapping of names to strings, in order, substituting
// ${NAME}; values are secrets when secret is set (headers).
func (p *monitorParser) stringMap(n *yaml.Node, lf *leaf, secret bool, field string) ([]probe.Header, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("want a mapping of names to values")
	}
	out := make([]probe.Header, 0, len(n.Content)/2)
	var shown []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		s, err := scalar(n.Content[i+1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		v, subs, err := p.substitute(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		show := s
		if secret {
			lf.secrets = append(lf.secrets, subs...)
			if len(subs) == 0 && !p.isRef(v) && secretHeader(name) {
				// A literal credential in the file: shown nowhere,
				// cut out of errors like the others.
				show = "(redacted)"
				lf.secrets = append(lf.secrets, credentialParts(v)...)
			}
		}
		out = append(out, probe.Header{Name: name, Value: v})
		if secret && p.isRef(v) {
			p.queueHeaderRef(lf, len(out)-1, v, field+": "+name)
		}
		if p.l.explain {
			shown = append(shown, name+": "+show)
		}
	}
	lf.shown = strings.Join(shown, ", ")
	return out, nil
}

// scalar returns a scalar node's text, refusing mappings and lists.
func scalar(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", errors.New("empty value")
		}
		return n.Value, nil
	case yaml.AliasNode:
		if n.Alias != nil {
			return scalar(n.Alias)
		}
	}
	return "", errors.New("want a single value, not a list or mapping")
}

// parseDuration reads a Go duration ("800ms", "1m30s"). A bare number
// is refused, 0 excepted: "800" could mean seconds or milliseconds, and a
// latency limit read as 800 seconds would never fire.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" || s == "+0" || s == "-0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "" && !strings.ContainsAny(s[len(s)-1:], "abcdefghijklmnopqrstuvwxyz") {
		return 0, fmt.Errorf("%q has no unit (write 800ms, 30s, 5m or 1h)", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write 800ms, 30s, 5m or 1h)", s)
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// fmtSeconds writes a bound as a duration without its zero tail: 8760h,
// not 8760h0m0s.
func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second)).String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

// regexpProblem drops the "error parsing regexp: " regexp adds.
func regexpProblem(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// validHeaderName reports whether s is an HTTP token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 126 || r <= 32 || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

// checkLabelName accepts Prometheus-style label names.
func checkLabelName(s string) error {
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("label name %q: want letters, digits and _, not starting with a digit", s)
		}
	}
	if s == "" {
		return errors.New("empty label name")
	}
	return nil
}

// secretHeader reports whether a header's literal value is a credential.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"authorization", "cookie", "token", "key", "secret", "password", "auth", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// jsonValue reads an expected JSON value: strings (with ${NAME}
// substituted, as secrets), numbers, booleans, null, lists and mappings.
// A date YAML would read as a timestamp stays the text written, and a
// mapping's keys are their text, as JSON has them.
func (p *monitorParser) jsonValue(n *yaml.Node, lf *leaf, depth int) (any, error) {
	n = deref(n)
	if depth > 32 {
		return nil, errors.New("nested more than 32 deep")
	}
	// Aliases can make a value expand without bound: every node read
	// counts against the file's budget.
	if p.visits++; p.visits > maxFieldVisits {
		return nil, fmt.Errorf("the file expands, through aliases, to more than %d values; write it out", maxFieldVisits)
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := p.jsonValue(c, lf, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := p.jsonValue(n.Content[i+1], lf, depth+1)
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, err
			}
			return normaliseJSON(v), nil
		}
		v, subs, err := p.substitute(n.Value)
		if err != nil {
			return nil, err
		}
		lf.secrets = append(lf.secrets, subs...)
		return v, nil
	}
	return nil, errors.New("want a value")
}

// normaliseJSON turns YAML's decoded numbers into encoding/json's float64.
func normaliseJSON(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}

// credentialParts are the parts of a literal header value to cut out of
// errors: the whole value, and the credential after a scheme word
// ("Bearer abc" -> "abc"), which a server may echo alone.
func credentialParts(v string) []string {
	parts := []string{v}
	if scheme, cred, ok := strings.Cut(v, " "); ok && cred != "" && !strings.ContainsAny(scheme, "=:") {
		parts = append(parts, strings.TrimSpace(cred))
	}
	return parts
}
