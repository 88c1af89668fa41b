package config

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http/httpguts"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsref"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/probe/secret"
)

// Monitor is one monitor's resolved settings, kept for `pingpanda config
// --monitors`: every field, its effective value as shown (secrets as
// written, never resolved) and where it came from.
type Monitor struct {
	ID     string         `json:"id"`
	Name   string         `json:"name,omitempty"`
	Check  string         `json:"check"`
	Target string         `json:"target"`
	Group  string         `json:"group,omitempty"`
	Where  string         `json:"defined_at"`
	Fields []MonitorField `json:"fields"`
}

// MonitorField is one field of a Monitor.
type MonitorField struct {
	Field  string `json:"field"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// withURLForms adds to secrets the forms a URL gives them (path- and
// query-escaped, in upper and lower case hex): a server may redirect to
// a URL that carries one.
func withURLForms(secrets []string) []string {
	out := secrets
	for _, v := range secrets {
		for _, e := range []string{url.PathEscape(v), url.QueryEscape(v)} {
			if e != v {
				out = append(out, e, lowerHex(e))
			}
		}
	}
	return out
}

// lowerHex writes a percent-escaped text's hex digits in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if b[j] >= 'A' && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// checkHeaderValues refuses, once per place it is written, a header value
// no header may carry (a line break in a secret file, say): net/http
// would refuse every request, and the monitor would page for it.
func (p *monitorParser) checkHeaderValues() {
	check := func(ly *layer) {
		lf := ly.get("http.headers")
		if lf == nil {
			return
		}
		hs, _ := lf.val.([]probe.Header)
		for _, hd := range hs {
			if !httpguts.ValidHeaderFieldValue(hd.Value) {
				p.problems = append(p.problems, fmt.Sprintf("%s:%d: %s: http.headers: %s: the value holds a character no header may (a line break or a control character); value not shown",
					p.path, lf.line, lf.ctx, hd.Name))
			}
		}
	}
	check(p.defaults)
	for _, name := range slices.Sorted(maps.Keys(p.groups)) {
		check(p.groups[name].defaults)
	}
	for _, m := range p.monitors {
		check(m.own)
	}
}

// resolveRefs reads every secret reference of the file: file: here,
// ssm: and secretsmanager: through one AWS client, all at once.
func (p *monitorParser) resolveRefs(ctx context.Context) {
	var aws []*pendingRef
	for _, r := range p.refs {
		if path, ok := strings.CutPrefix(r.ref, "file:"); ok {
			b, err := readSmallFile(path, maxSecretFile)
			if err != nil {
				p.problems = append(p.problems, r.problemAt(p.path, "cannot read secret file %q: %v", path, err))
				continue
			}
			r.set(strings.TrimRight(string(b), "\r\n"))
			continue
		}
		aws = append(aws, r)
	}
	if len(aws) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	newStore := p.l.newAWS
	if newStore == nil {
		newStore = awsref.New
	}
	store, err := newStore(ctx, p.l.environ)
	if err != nil {
		for _, r := range aws {
			p.problems = append(p.problems, r.problemAt(p.path, "%s: %v", r.ref, err))
		}
		return
	}
	type job struct {
		r   *pendingRef
		ref awsref.Ref
		val []byte
		err error
	}
	var jobs []*job
	for _, r := range aws {
		ref, ok, err := awsref.Parse(r.ref, false)
		if !ok || err != nil {
			p.problems = append(p.problems, r.problemAt(p.path, "%q is not a reference: %v", r.ref, err))
			continue
		}
		jobs = append(jobs, &job{r: r, ref: ref})
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j.val, j.err = store.Fetch(ctx, j.ref, maxSecretFile) })
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			p.problems = append(p.problems, j.r.problemAt(p.path, "%s: %s", j.ref.Text, awsref.Explain(j.err, j.ref, store.Region())))
			p.l.transient = p.l.transient || awsref.Transient(j.err)
			continue
		}
		j.r.set(strings.TrimRight(string(j.val), "\r\n"))
	}
}

// settings answers, for one monitor, a field's leaf by precedence: the
// monitor's own, its group's defaults, the file's defaults.
type settings struct {
	p     *monitorParser
	m     *parsedMonitor
	check probe.Check
}

func (s *settings) leaf(path string) *leaf {
	if lf := s.m.own.get(path); lf != nil {
		return lf
	}
	if s.m.group != nil {
		if lf := s.m.group.defaults.get(path); lf != nil {
			return lf
		}
	}
	return s.p.defaults.get(path)
}

// envKey is the environment key a field defaults to for this check.
func (s *settings) envKey(f *mfield) string {
	if f.path == "timeout" {
		return timeoutKeys[s.check]
	}
	return f.env
}

// source says where a field's effective value comes from.
func (s *settings) source(f *mfield) (shown, src string) {
	if lf := s.leaf(f.path); lf != nil {
		return lf.shown, lf.src(s.p.path)
	}
	if k := s.envKey(f); k != "" {
		v := s.p.l.values[k]
		if v.source == "default" {
			return v.value, "default (" + k + ")"
		}
		return v.value, k + " (" + v.source + ")"
	}
	return f.def, "default"
}

// labels merges the labels: the file's defaults, the group's defaults,
// the group's, the monitor's, later ones winning. When one layer alone
// gives labels, its map is returned as it is (shared, never written).
func (s *settings) labels() map[string]string {
	var out map[string]string
	shared := false
	for _, lf := range s.labelLeaves() {
		m := lf.val.(map[string]string)
		switch {
		case out == nil:
			out, shared = m, true
		default:
			if shared {
				out, shared = maps.Clone(out), false
			}
			maps.Copy(out, m)
		}
	}
	return out
}

// labelLeaves are the layers' labels, in merge order.
func (s *settings) labelLeaves() []*leaf { return s.leaves("labels") }

// leaves are a merged field's leaves in merge order: the file's defaults,
// the group's defaults, the group's own (labels only), the monitor's.
func (s *settings) leaves(path string) []*leaf {
	var out []*leaf
	add := func(lf *leaf) {
		if lf != nil {
			out = append(out, lf)
		}
	}
	add(s.p.defaults.get(path))
	if g := s.m.group; g != nil {
		add(g.defaults.get(path))
		if path == "labels" {
			add(g.labels)
		}
	}
	add(s.m.own.get(path))
	return out
}

// headers merges the request headers of the layers by name (case does
// not matter), a later layer's value replacing an earlier one's in its
// place; a single layer's are returned as they are.
func (s *settings) headers() []probe.Header {
	lfs := s.leaves("http.headers")
	switch len(lfs) {
	case 0:
		return nil
	case 1:
		return lfs[0].val.([]probe.Header)
	}
	var out []probe.Header
	for _, lf := range lfs {
	next:
		for _, h := range lf.val.([]probe.Header) {
			for i := range out {
				if strings.EqualFold(out[i].Name, h.Name) {
					out[i] = h
					continue next
				}
			}
			out = append(out, h)
		}
	}
	return out
}

// buildMonitors turns the parsed monitors into targets with their specs.
// Monitors whose settings are equal share one Spec.
func (p *monitorParser) buildMonitors(cfg *Config, explain bool) ([]fileTarget, []Monitor) {
	var (
		out      = make([]fileTarget, 0, len(p.monitors))
		explains []Monitor
		interned = map[string]*probe.Spec{}
		s        settings
	)
	for i, m := range p.monitors {
		p.monitors[i] = nil // what follows is all that is kept of it
		p.ctx = m.where
		s = settings{p: p, m: m}
		checkLeaf, targetLeaf := m.own.get("check"), m.own.get("target")
		if m.own.hasFailed("check") || m.own.hasFailed("target") {
			continue // said already
		}
		if checkLeaf == nil || targetLeaf == nil {
			if checkLeaf == nil {
				p.problem(m.line, "check", "required (dns, ping, http, tls or tcp)")
			}
			if targetLeaf == nil {
				p.problem(m.line, "target", "required")
			}
			continue
		}
		s.check = checkLeaf.val.(probe.Check)
		t, err := probe.ParseTarget(s.check, targetLeaf.val.(string))
		if err != nil {
			p.problem(targetLeaf.line, "target", "%v", err)
			continue
		}
		if lf := m.own.get("name"); lf != nil {
			t.Name = lf.val.(string)
		}
		if lf := m.own.get("id"); lf != nil {
			id := lf.val.(string)
			if id == "" || strings.ContainsAny(id, " \t\n{}") {
				p.problem(lf.line, "id", "%q: want a non-empty ID without blanks or braces", id)
				continue
			}
			t.CustomID = id
		}
		p.warnSections(m, s.check)
		if lf := m.own.get("depends_on"); lf != nil {
			p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: %s: depends_on is checked, but dependencies are not part of this version yet: it changes no verdict",
				p.path, lf.line, m.where))
		}
		spec, key, ok := p.spec(&s, cfg)
		if !ok {
			// Said already; its ID still takes part in the check
			// for duplicates, so that all problems come at once.
			p.failedIDs = append(p.failedIDs, fileTarget{Target: t, line: m.line, failed: true})
			continue
		}
		if shared, ok := interned[string(key)]; ok {
			spec = shared
		} else {
			interned[string(key)] = spec
		}
		t.Spec = spec
		out = append(out, fileTarget{Target: t, line: m.line})
		if explain {
			explains = append(explains, p.explain(&s, t, m))
		}
	}
	p.ctx = ""
	return out, explains
}

// warnSections warns of a monitor's sections for another check.
func (p *monitorParser) warnSections(m *parsedMonitor, check probe.Check) {
	var other []string
	for _, fld := range m.own.fields {
		sec, _, ok := strings.Cut(fld.path, ".")
		if c, isSec := sections[sec]; ok && isSec && c != check && !slices.Contains(other, sec) {
			other = append(other, sec)
		}
	}
	slices.Sort(other)
	for _, sec := range other {
		p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: %s: %s: ignored: the monitor is %s %s check", p.path, m.line, m.where, sec, article(string(check)), check))
	}
}

// spec resolves a monitor's settings into a Spec, and a key equal for
// equal settings.
func (p *monitorParser) spec(s *settings, cfg *Config) (*probe.Spec, []byte, bool) {
	nProblems := len(p.problems)
	// key holds every setting taken from the file, as written (a
	// mapping's or a list's by its leaf): equal keys, equal settings.
	key := append(p.key[:0], s.check...)
	var secrets []string
	// get returns a field's value from the file, or ok false.
	get := func(path string) (any, bool) {
		lf := s.leaf(path)
		if lf == nil {
			return nil, false
		}
		secrets = append(secrets, lf.secrets...)
		// Length-prefixed, so that no value can pass for another's
		// end and the next field.
		key = append(key, 0)
		key = append(key, path...)
		if lf.shown != "" {
			key = strconv.AppendInt(append(key, '='), int64(len(lf.shown)), 10)
			key = append(append(key, ':'), lf.shown...)
		} else {
			key = strconv.AppendUint(append(key, '#'), uint64(lf.id), 10)
		}
		return lf.val, true
	}
	defer func() { p.key = key }()
	dur := func(path string, def time.Duration) time.Duration {
		if v, ok := get(path); ok {
			return v.(time.Duration)
		}
		return def
	}
	integer := func(path string, def int) int {
		if v, ok := get(path); ok {
			return v.(int)
		}
		return def
	}
	boolean := func(path string, def bool) bool {
		if v, ok := get(path); ok {
			return v.(bool)
		}
		return def
	}
	str := func(path, def string) string {
		if v, ok := get(path); ok {
			return v.(string)
		}
		return def
	}
	float := func(path string, def float64) float64 {
		if v, ok := get(path); ok {
			return v.(float64)
		}
		return def
	}
	line := func(path string) int {
		if lf := s.leaf(path); lf != nil {
			return lf.line
		}
		return s.m.line
	}

	defTimeout := cfg.Timeouts[s.check]
	if s.check == probe.Ping {
		defTimeout = 0 // ping bounds its attempts itself, from when its socket opens
	}
	sp := &probe.Spec{
		Timeout:  dur("timeout", defTimeout),
		Attempts: integer("retries", cfg.RetryCount),
		Every:    dur("every", 0),
		Alert: probe.AlertSpec{
			Threshold:      integer("alert_threshold", cfg.Policy.AlertThreshold),
			Realert:        dur("realert", cfg.Policy.RealertInterval),
			NotifyRecovery: boolean("notify_recovery", cfg.Policy.NotifyRecovery),
		},
	}
	if labels := s.labels(); len(labels) > 0 {
		sp.Labels = labels
		for _, lf := range s.labelLeaves() {
			key = strconv.AppendUint(append(key, "\x00labels#"...), uint64(lf.id), 10)
		}
	}
	if s.m.group != nil {
		sp.Group = s.m.group.name
		key = strconv.AppendInt(append(key, "\x00group="...), int64(len(sp.Group)), 10)
		key = append(append(key, ':'), sp.Group...)
	}
	switch s.check {
	case probe.HTTP:
		h := &probe.HTTPSpec{
			Method:      strings.ToUpper(str("http.method", http.MethodGet)),
			Body:        str("http.body", ""),
			NoRedirects: !boolean("http.follow_redirects", true),
			MaxLatency:  dur("http.max_latency", 0),
			WarnLatency: dur("http.warn_latency", 0),
		}
		if !validHeaderName(h.Method) {
			p.problem(line("http.method"), "http.method", "%q is not a method", h.Method)
		}
		h.Headers = s.headers()
		for _, lf := range s.leaves("http.headers") {
			secrets = append(secrets, lf.secrets...)
			key = strconv.AppendUint(append(key, "\x00headers#"...), uint64(lf.id), 10)
		}
		if v, ok := get("http.success_codes"); ok {
			h.Success = v.(probe.CodeSet)
		}
		if h.MaxLatency > 0 && h.WarnLatency >= h.MaxLatency {
			p.problem(line("http.warn_latency"), "http.warn_latency", "%s must be less than max_latency (%s)", h.WarnLatency, h.MaxLatency)
		}
		e := &h.Expect
		e.BodyContains = str("http.expect.body_contains", "")
		e.BodyNotContains = str("http.expect.body_not_contains", "")
		if v, ok := get("http.expect.body_regex"); ok {
			e.BodyRegex = v.(*regexp.Regexp)
		}
		if v, ok := get("http.expect.json"); ok {
			e.JSON = v.([]probe.JSONExpect)
		}
		if v, ok := get("http.expect.headers"); ok {
			e.Headers = v.([]probe.Header)
		}
		if h.Method == http.MethodGet && h.Body == "" && len(h.Headers) == 0 && h.Success.IsEmpty() && !h.NoRedirects &&
			h.MaxLatency == 0 && h.WarnLatency == 0 && !e.NeedsBody() && len(e.Headers) == 0 {
			h = nil // the prober's defaults exactly
		}
		sp.HTTP = h
	case probe.TLS:
		t := &probe.TLSSpec{
			WarnDays:     float("tls.warn_days", cfg.SSLWarnDays),
			CriticalDays: float("tls.critical_days", cfg.SSLCriticalDays),
			ServerName:   str("tls.server_name", ""),
		}
		if t.CriticalDays >= t.WarnDays && t.WarnDays > 0 {
			p.problem(line("tls.critical_days"), "tls.critical_days", "%s must be less than warn_days (%s)", fmtNum(t.CriticalDays), fmtNum(t.WarnDays))
		}
		sp.TLS = t
	case probe.DNS:
		d := &probe.DNSSpec{Rcode: -1}
		if v, ok := get("dns.server"); ok {
			srv, err := probe.NormaliseDNSServer(v.(string))
			if err != nil {
				p.problem(line("dns.server"), "dns.server", "%q: %v", v, err)
			}
			d.Server = srv
		}
		if v, ok := get("dns.type"); ok {
			rt, err := probe.ParseDNSType(v.(string))
			if err != nil {
				p.problem(line("dns.type"), "dns.type", "%v (A, AAAA, CNAME, MX, TXT, NS, …)", err)
			}
			d.Type = rt
		}
		if v, ok := get("dns.expect"); ok {
			d.Expect = v.([]string)
		}
		if v, ok := get("dns.rcode"); ok {
			rc, err := probe.ParseRcode(v.(string))
			if err != nil {
				p.problem(line("dns.rcode"), "dns.rcode", "%v", err)
			}
			if rc != dns.RcodeSuccess {
				d.Rcode = rc // NOERROR stays the default: it also needs an answer
			}
		}
		if d.Server != "" || d.Type != 0 || len(d.Expect) > 0 || d.Rcode >= 0 {
			sp.DNS = d
		}
	case probe.Ping:
		pg := &probe.PingSpec{Count: integer("ping.count", 0), MaxLoss: float("ping.max_loss", -1)}
		if pg.Count != 0 || pg.MaxLoss >= 0 {
			sp.Ping = pg
		}
	case probe.TCP:
		sp.TCP = &probe.TCPSpec{
			TLS:        boolean("tcp.tls", false),
			ServerName: str("tcp.server_name", ""),
			Send:       str("tcp.send", ""),
			Expect:     str("tcp.expect", ""),
		}
	}
	if len(secrets) > 0 {
		sp.Secrets = secret.NewScrubber(withURLForms(secrets)...)
	}
	return sp, key, len(p.problems) == nProblems
}

// explain lists a monitor's every field with its source.
func (p *monitorParser) explain(s *settings, t probe.Target, m *parsedMonitor) Monitor {
	mon := Monitor{ID: t.ID(), Name: t.Name, Check: string(t.Check), Target: t.Shown(),
		Where: fmt.Sprintf("%s:%d", p.path, m.line)}
	if m.group != nil {
		mon.Group = m.group.name
	}
	for i := range monitorFields {
		f := &monitorFields[i]
		if f.monitorOnly {
			continue
		}
		if sec, _, ok := strings.Cut(f.path, "."); ok && sections[sec] != s.check {
			continue
		}
		var shown, src string
		if f.path == "labels" {
			labels := s.labels()
			if len(labels) == 0 {
				continue
			}
			var srcs []string
			for _, lf := range s.labelLeaves() {
				srcs = append(srcs, lf.src(p.path))
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(labels)) {
				parts = append(parts, k+"="+labels[k])
			}
			shown, src = strings.Join(parts, ","), strings.Join(srcs, " < ")
		} else if lfs := s.leaves(f.path); f.path == "http.headers" && len(lfs) > 1 {
			var shownParts, srcs []string
			for _, lf := range lfs {
				shownParts = append(shownParts, lf.shown)
				srcs = append(srcs, lf.src(p.path))
			}
			shown, src = strings.Join(shownParts, " < "), strings.Join(srcs, " < ")
		} else {
			shown, src = s.source(f)
		}
		if shown == "" && src == "default" {
			continue
		}
		mon.Fields = append(mon.Fields, MonitorField{Field: f.path, Value: shown, Source: src})
	}
	return mon
}

// jsonText writes an expected JSON value for display.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return strconv.Quote(fmt.Sprint(v))
	}
	return string(b)
}

// article is "an" before a check whose name is read starting with a vowel
// sound (http, tls), else "a".
func article(check string) string {
	if check == "http" {
		return "an"
	}
	return "a"
}
