package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/probe"
)

// The monitors file (SPEC §9) is TARGETS_FILE as a mapping:
//
//	defaults: {timeout: 5s, labels: {team: web}}
//	groups:
//	  - name: shop
//	    labels: {severity: page}
//	    defaults: {alert_threshold: 2}
//	    monitors: [{name: shop-api, check: http, target: "https://shop.example.com/health"}]
//	monitors:
//	  - {name: login, check: http, target: https://example.com/login, http: {method: POST}}
//
// A list at the top is today's TARGETS_FILE, each entry a monitor of its
// own. Every problem is reported, "path:line: monitor NAME: field:
// problem".

// layer is one level of the file's settings: the defaults, a group's
// defaults, or a monitor's own fields.
type layer struct {
	// fields in the order read; a few dozen at most, so a slice is
	// searched faster than a map is built.
	fields []layerField
	// failed are the fields given whose values are wrong (said already).
	failed []string
}

type layerField struct {
	path string
	lf   *leaf
}

func (ly *layer) get(path string) *leaf {
	if ly == nil {
		return nil
	}
	for i := range ly.fields {
		if ly.fields[i].path == path {
			return ly.fields[i].lf
		}
	}
	return nil
}

// set adds a field, or replaces one a merge key gave.
func (ly *layer) set(path string, lf *leaf) {
	for i := range ly.fields {
		if ly.fields[i].path == path {
			ly.fields[i].lf = lf
			return
		}
	}
	ly.fields = append(ly.fields, layerField{path, lf})
}

func (ly *layer) hasFailed(path string) bool { return slices.Contains(ly.failed, path) }

type mgroup struct {
	name     string
	line     int
	labels   *leaf
	defaults *layer
}

// parsedMonitor is one monitor as read, before its settings are resolved.
type parsedMonitor struct {
	line  int
	where string // "monitor login"
	own   *layer
	group *mgroup
}

// pendingRef is a secret reference in a header value or body, resolved
// once the whole file is read.
type pendingRef struct {
	ref   string
	where string // "monitor login"
	field string // "http.headers.Authorization"
	line  int
	set   func(value string)
}

// problemAt says what is wrong with a reference, where it is.
func (r *pendingRef) problemAt(path, format string, args ...any) string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", path, r.line, r.where, r.field, fmt.Sprintf(format, args...))
}

// monitorParser reads one monitors file.
type monitorParser struct {
	l        *loader
	path     string
	getenv   func(string) (string, bool)
	defaults *layer
	groups   map[string]*mgroup
	monitors []*parsedMonitor
	refs     []*pendingRef
	problems []string
	warnings []string
	// ctx names what is being read, for problems: "monitor login".
	ctx string
	// visits counts the fields read, aliases expanded (maxFieldVisits).
	visits     int
	overBudget bool
	// leaves numbers the leaves read (leaf.id).
	leaves uint32
	// regexps and jq hold what was compiled, by its text: monitors often
	// repeat an assertion.
	regexps map[string]*regexp.Regexp
	jq      map[string]probe.JSONExpect
	// key is the buffer spec builds a monitor's settings' key in.
	key []byte
	// failedIDs are the monitors whose settings have problems, with
	// their IDs, for checkIDs.
	failedIDs []fileTarget
	// routing is what the file says of channels, routes and maintenance.
	routing fileRouting
}

// jsonExpect compiles a JSON assertion's path once per file.
func (p *monitorParser) jsonExpect(path string, want any) (probe.JSONExpect, error) {
	je, ok := p.jq[path]
	if !ok {
		var err error
		if je, err = probe.NewJSONExpect(path, nil); err != nil {
			return je, err
		}
		if p.jq == nil {
			p.jq = map[string]probe.JSONExpect{}
		}
		p.jq[path] = je
	}
	je.Want = want
	return je, nil
}

// maxFieldVisits bounds the fields a file may expand to: 100,000 monitors
// of 50 fields.
const maxFieldVisits = 5_000_000

// sortProblems orders the problems by line, those of the whole file
// first; problems of one line keep their order.
func (p *monitorParser) sortProblems() {
	lineOf := func(msg string) int {
		rest, ok := strings.CutPrefix(msg, p.path+":")
		if !ok {
			return 0
		}
		n, _, _ := strings.Cut(rest, ":")
		i, err := strconv.Atoi(n)
		if err != nil {
			return 0
		}
		return i
	}
	slices.SortStableFunc(p.problems, func(a, b string) int { return lineOf(a) - lineOf(b) })
}

func (p *monitorParser) problem(line int, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	prefix := fmt.Sprintf("%s:%d: ", p.path, line)
	if p.ctx != "" {
		prefix += p.ctx + ": "
	}
	if field != "" {
		prefix += field + ": "
	}
	p.problems = append(p.problems, prefix+msg)
}

// readMonitorsFile reads TARGETS_FILE from disk.
func readMonitorsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTargetsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxTargetsFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxTargetsFile>>20)
	}
	return data, nil
}

// parse reads the document's structure and every field's value.
func (p *monitorParser) parse(data []byte) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.problems = append(p.problems, p.yamlProblem(err))
		}
		return
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.problems = append(p.problems, p.yamlProblem(err))
	case len(more.Content) > 0 && !(more.Content[0].Kind == yaml.ScalarNode && more.Content[0].Tag == "!!null"):
		p.problem(more.Line, "", "a second YAML document (after ---): the monitors file is one document; join them")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
	case root.Kind == yaml.SequenceNode:
		p.monitorList(root, nil)
	case root.Kind == yaml.MappingNode:
		p.top(root)
	default:
		p.problem(root.Line, "", "want a mapping of defaults, groups and monitors, or a list of monitors")
	}
}

// yamlProblem writes a YAML syntax error as path:line: problem.
func (p *monitorParser) yamlProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return p.path + ":" + m[1] + ": " + msg[len(m[0]):]
	}
	return p.path + ": " + msg
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// top reads the file's top-level mapping.
func (p *monitorParser) top(root *yaml.Node) {
	var groups, monitors, channels, routes, maintenance *yaml.Node
	p.eachKey(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "channels":
			channels = v
		case "routes":
			routes = v
		case "maintenance":
			maintenance = v
		case "defaults":
			p.ctx = "defaults"
			p.defaults = p.layer(v, true)
			p.ctx = ""
		case "groups":
			groups = v
		case "monitors":
			monitors = v
		default:
			if strings.HasPrefix(k.Value, "x-") {
				return // a place for anchors, as in docker compose files
			}
			p.unknown(k, "", topLevelKeys)
		}
	})
	if groups != nil {
		p.groupList(groups)
	}
	if monitors != nil {
		p.monitorList(monitors, nil)
	}
	if channels != nil {
		p.channelList(channels)
	}
	if routes != nil {
		p.routeList(routes)
	}
	if maintenance != nil {
		p.maintenanceList(maintenance)
	}
	for _, g := range p.routing.groupRefs {
		if _, ok := p.groups[g.name]; !ok {
			p.ctx = g.ctx
			p.problem(g.line, "match.group", "no group is named %q%s", g.name, p.groupHint(g.name))
			p.ctx = ""
		}
	}
}

// topLevelKeys are the monitors file's top-level fields.
var topLevelKeys = []string{"defaults", "groups", "monitors", "channels", "routes", "maintenance"}

// groupHint suggests the group meant by a name no group has.
func (p *monitorParser) groupHint(name string) string {
	names := make([]string, 0, len(p.groups))
	for n := range p.groups {
		names = append(names, n)
	}
	if s := closest(name, names); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

// eachKey calls fn for each key of a mapping, refusing a key given twice.
func (p *monitorParser) eachKey(n *yaml.Node, fn func(k, v *yaml.Node)) {
	var seen map[string]int // only for large mappings
	if len(n.Content) > 64 {
		seen = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		first := -1
		if seen != nil {
			if line, dup := seen[k.Value]; dup {
				first = line
			} else {
				seen[k.Value] = k.Line
			}
		} else {
			for j := 0; j < i; j += 2 {
				if n.Content[j].Value == k.Value {
					first = n.Content[j].Line
					break
				}
			}
		}
		if first >= 0 {
			p.problem(k.Line, k.Value, "given twice (first at line %d)", first)
			continue
		}
		fn(k, v)
	}
}

// unknown reports a field that is not one, suggesting the closest.
func (p *monitorParser) unknown(k *yaml.Node, prefix string, names []string) {
	field := prefix + k.Value
	if k.Value == "<<" && k.Tag == "!!merge" {
		p.problem(k.Line, field, "YAML merge keys are read only among a monitor's or a defaults' fields; put shared settings in defaults: or a group's defaults:")
		return
	}
	if s := closest(k.Value, names); s != "" {
		p.problem(k.Line, field, "unknown field; did you mean %s?", prefix+s)
		return
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	p.problem(k.Line, field, "unknown field (want one of %s)", strings.Join(sorted, ", "))
}

// closest returns the name nearest to s, if near enough to be a typo.
func closest(s string, names []string) string {
	best, bestD := "", max(2, len(s)/3)+1
	for _, n := range names {
		if d := EditDistance(strings.ToLower(s), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// layer reads a mapping of settings: the defaults' (inDefaults) or a
// monitor's.
func (p *monitorParser) layer(n *yaml.Node, inDefaults bool) *layer {
	ly := &layer{fields: make([]layerField, 0, len(n.Content)/2)}
	if n.Kind != yaml.MappingNode {
		p.problem(n.Line, "", "want a mapping of fields")
		return ly
	}
	p.fill(ly, n, "", inDefaults)
	return ly
}

func (p *monitorParser) fill(ly *layer, n *yaml.Node, prefix string, inDefaults bool) {
	// Aliases and merge keys can make a small file expand without
	// bound ("billion laughs"): stop at a budget of fields read.
	p.visits += len(n.Content) / 2
	if p.visits > maxFieldVisits {
		if !p.overBudget {
			p.overBudget = true
			p.problem(n.Line, "", "the file expands, through aliases, to more than %d fields; write it out", maxFieldVisits)
		}
		return
	}
	// YAML merge keys (<<: *common) first, so that the mapping's own
	// fields override them, as YAML says.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "<<" && k.Tag == "!!merge" {
			for _, m := range mergeSources(n.Content[i+1]) {
				if m.Kind != yaml.MappingNode {
					p.problem(k.Line, "<<", "want an alias of a mapping")
					continue
				}
				p.fill(ly, m, prefix, inDefaults)
			}
		}
	}
	p.eachKey(n, func(k, v *yaml.Node) {
		if k.Value == "<<" && k.Tag == "!!merge" {
			return
		}
		v = deref(v)
		full := prefix + k.Value
		if _, ok := sections[full]; ok {
			if v.Kind != yaml.MappingNode {
				p.problem(v.Line, full, "want a mapping of fields")
				return
			}
			p.fill(ly, v, full+".", inDefaults)
			return
		}
		f := fieldIndex[full]
		if f == nil {
			p.unknown(k, prefix, fieldsUnder(prefix, inDefaults))
			return
		}
		if inDefaults && f.monitorOnly {
			p.problem(k.Line, full, "belongs to a monitor, not to defaults")
			return
		}
		lf, err := p.parseLeaf(f, v)
		if err != nil {
			p.problem(v.Line, full, "%v", err)
			ly.failed = append(ly.failed, full)
			return
		}
		ly.set(full, lf)
	})
}

func (p *monitorParser) ctxOr(def string) string {
	if p.ctx == "" {
		return def
	}
	return p.ctx
}

// groupList reads groups:, each with a name, labels, defaults and monitors.
func (p *monitorParser) groupList(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.problem(n.Line, "groups", "want a list of groups")
		return
	}
	p.groups = map[string]*mgroup{}
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			p.problem(item.Line, "groups", "want a mapping with name and monitors")
			continue
		}
		g := &mgroup{line: item.Line}
		if nameNode := lookup(item, "name"); nameNode != nil {
			g.name = nameNode.Value
		}
		if g.name == "" {
			p.problem(item.Line, "groups", "a group needs a name")
			g.name = fmt.Sprintf("#%d", len(p.groups)+1)
		}
		if prev, dup := p.groups[g.name]; dup {
			p.problem(item.Line, "groups", "group %q is defined twice (first at line %d)", g.name, prev.line)
		}
		p.groups[g.name] = g
		var monitors *yaml.Node
		p.ctx = "group " + g.name
		p.eachKey(item, func(k, v *yaml.Node) {
			switch k.Value {
			case "name":
			case "labels":
				lf, err := p.parseLeaf(fieldIndex["labels"], v)
				if err != nil {
					p.problem(v.Line, "labels", "%v", err)
					return
				}
				g.labels = lf
			case "defaults":
				p.ctx = "group " + g.name + " defaults"
				g.defaults = p.layer(v, true)
				p.ctx = "group " + g.name
			case "monitors":
				monitors = v
			default:
				p.unknown(k, "", []string{"name", "labels", "defaults", "monitors"})
			}
		})
		p.ctx = ""
		if monitors == nil {
			p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: group %s has no monitors", p.path, item.Line, g.name))
			continue
		}
		p.monitorList(monitors, g)
	}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// mergeSources returns the mappings a merge key names: one alias, or a
// list of them.
func mergeSources(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		out := make([]*yaml.Node, 0, len(v.Content))
		for _, c := range v.Content {
			out = append(out, deref(c))
		}
		return out
	}
	return []*yaml.Node{v}
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// monitorList reads a list of monitors, of group g or of none.
func (p *monitorParser) monitorList(n *yaml.Node, g *mgroup) {
	n = deref(n)
	// A list with an anchor may be read again through an alias: keep it.
	clear := n.Anchor == ""
	if n.Kind != yaml.SequenceNode {
		p.problem(n.Line, "monitors", "want a list of monitors")
		return
	}
	for i, item := range n.Content {
		// Once read, a monitor's nodes are garbage: the tree of a large
		// file (20 times its size) shrinks as it is read.
		if clear {
			n.Content[i] = nil
		}
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			p.problem(item.Line, "", "want a monitor: a mapping with check and target")
			continue
		}
		m := &parsedMonitor{line: item.Line, group: g}
		m.where = "monitor " + monitorName(item, len(p.monitors)+1)
		p.ctx = m.where
		m.own = p.layer(item, false)
		p.ctx = ""
		p.monitors = append(p.monitors, m)
	}
}

// monitorName is how problems name a monitor: its name, else its target,
// else its place in the file.
func monitorName(n *yaml.Node, i int) string {
	for _, k := range []string{"name", "id", "target"} {
		if v := lookup(n, k); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
			return v.Value
		}
	}
	return fmt.Sprintf("#%d", i)
}

// envRef matches ${NAME}; $${ is a literal "${".
var envRef = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`)

// substitute replaces ${NAME} in s by the environment's NAME, and returns
// the values it put in. An unset or malformed NAME is an error.
func (p *monitorParser) substitute(s string) (string, []string, error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var (
		subs []string
		bad  error
	)
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$${" {
			return "${"
		}
		name := m[2 : len(m)-1]
		if !validEnvName(name) {
			bad = errors.Join(bad, fmt.Errorf("${%s} is not a variable name", name))
			return ""
		}
		v, ok := p.getenv(name)
		if !ok {
			bad = errors.Join(bad, fmt.Errorf("${%s}: %s is not set in the environment", name, name))
			return ""
		}
		subs = append(subs, v)
		return v
	})
	if bad != nil {
		return "", nil, bad
	}
	return out, subs, nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// isRef reports whether a secret value is a reference to read.
func (p *monitorParser) isRef(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "file:") || strings.HasPrefix(v, "ssm:") || strings.HasPrefix(v, "secretsmanager:")
}

// queueRef queues a scalar secret's reference; the leaf's value is set
// when it is resolved.
func (p *monitorParser) queueRef(lf *leaf, ref, field string) string {
	p.refs = append(p.refs, &pendingRef{ref: strings.TrimSpace(ref), where: p.ctxOr("monitor"), field: field, line: lf.line, set: func(v string) {
		lf.val = v
		lf.secrets = append(lf.secrets, v)
	}})
	return ""
}

// queueHeaderRef queues a header value's reference.
func (p *monitorParser) queueHeaderRef(lf *leaf, i int, ref, field string) {
	p.refs = append(p.refs, &pendingRef{ref: strings.TrimSpace(ref), where: p.ctxOr("monitor"), field: field, line: lf.line, set: func(v string) {
		if hs, ok := lf.val.([]probe.Header); ok && i < len(hs) {
			hs[i].Value = v
		}
		lf.secrets = append(lf.secrets, v)
	}})
}
