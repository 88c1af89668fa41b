package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pingpanda/pingpanda/alert/route"
)

// SchemaID is where the monitors file's JSON Schema is published: the
// file monitors.schema.json at the repository's root. Editors find it
// through a first line `# yaml-language-server: $schema=<SchemaID>`.
const SchemaID = "https://raw.githubusercontent.com/pingpanda/pingpanda/main/monitors.schema.json"

// checkAliases are the other names probe.ParseCheck accepts for a check
// (the original's "website" and "ssl" among them); a test keeps them
// accepted.
var checkAliases = []string{"icmp", "https", "website", "ssl"}

// MonitorsSchema returns the JSON Schema (draft 2020-12) of the monitors
// file, generated from the field table (monitorFields, sections), so
// that it says what the parser reads: every field, its type, its range
// and its help.
//
// The schema accepts each value in every form the parser does (a
// duration as "800ms" or as a number of seconds, a number or a boolean
// quoted or not, a boolean as yes/no/on/off). What it cannot check is
// left to `pingpanda config`: targets, regular expressions, jq paths,
// DNS types and codes, ranges of values written as strings, and rules
// between fields (warn_latency below max_latency, critical_days below
// warn_days, unique IDs, ${NAME} being set). YAML merge keys (<<), which
// a validator sees merged, are refused by the parser.
func MonitorsSchema() ([]byte, error) {
	s := &schemaGen{defs: obj{}}
	monitor := s.object("", false, "one monitor: a check of a target, with settings of its own",
		"check", "target")
	defaults := s.object("", true, "settings for every monitor of the file (or of a group); a monitor's own fields win")
	s.def("monitor", monitor)
	s.def("defaults", defaults)
	s.def("group", obj{
		{"type", "object"},
		{"description", "monitors that share labels and defaults"},
		{"properties", obj{
			{"name", obj{{"$ref", "#/$defs/text"}, {"minLength", 1}, {"description", "the group's name (required)"}}},
			{"labels", s.leaf(fieldIndex["labels"], "labels merged into each of the group's monitors")},
			{"defaults", obj{{"$ref", "#/$defs/defaults"}, {"description", "settings for the group's monitors; they win over the file's defaults"}}},
			{"monitors", obj{{"description", "the group's monitors"}, {"type", "array"}, {"items", obj{{"$ref", "#/$defs/monitor"}}}}},
		}},
		{"required", []any{"name"}},
		{"additionalProperties", false},
	})
	s.def("text", obj{
		{"description", "a single value; numbers and booleans are read as text"},
		{"type", []any{"string", "number", "boolean"}},
	})
	// minimum and maximum, next to a reference to these, bound the
	// numbers alone: values written as text are checked by the parser.
	s.def("duration", obj{
		{"description", "a duration with its unit: 800ms, 30s, 5m, 1h30m (or 0)"},
		{"anyOf", []any{
			obj{{"const", 0}},
			obj{{"type", "string"}, {"pattern", durationPattern}},
		}},
	})
	s.def("integer", obj{
		{"description", "a whole number"},
		{"anyOf", []any{
			obj{{"type", "integer"}},
			obj{{"type", "string"}, {"pattern", intPattern}},
		}},
	})
	s.def("number", obj{
		{"description", "a number"},
		{"anyOf", []any{
			obj{{"type", "number"}},
			obj{{"type", "string"}, {"pattern", floatPattern}},
		}},
	})
	s.def("codes", obj{
		{"description", "HTTP status codes from 100 to 599: 200, or a list with ranges: \"200-299,301\""},
		{"anyOf", []any{
			obj{{"type", "integer"}, {"minimum", 100}, {"maximum", 599}},
			obj{{"type", "string"}, {"pattern", codesPattern}},
		}},
	})
	s.def("bool", obj{
		{"description", "true or false (also yes or no, on or off, 1 or 0)"},
		{"anyOf", []any{
			obj{{"type", "boolean"}},
			obj{{"type", "string"}, {"pattern", anyCase("true", "false", "yes", "no", "on", "off", "1", "0")}},
			obj{{"enum", []any{0, 1}}},
		}},
	})
	s.routingDefs()
	if s.err != nil {
		return nil, s.err
	}
	s.sortDefs()
	root := obj{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", SchemaID},
		{"title", "pingpanda monitors file"},
		{"description", "TARGETS_FILE: a list of monitors, or a mapping of defaults, groups and monitors. " +
			"Precedence: built-in default < environment key < defaults < group defaults < the monitor's own field. " +
			"${NAME} in a value is the environment's NAME ($${ is a literal ${)."},
		{"oneOf", []any{
			obj{
				{"type", "object"},
				{"properties", obj{
					{"defaults", obj{{"$ref", "#/$defs/defaults"}}},
					{"groups", obj{{"description", "groups of monitors, each with a name, labels and defaults of its own"},
						{"type", "array"}, {"items", obj{{"$ref", "#/$defs/group"}}}}},
					{"monitors", obj{{"description", "the monitors outside any group"},
						{"type", "array"}, {"items", obj{{"$ref", "#/$defs/monitor"}}}}},
					{"channels", obj{{"description", "named channels: an instance of a provider each, with its settings"},
						{"type", "object"}, {"propertyNames", obj{{"pattern", "^[A-Za-z0-9_-]{1,64}$"}}},
						{"additionalProperties", obj{{"$ref", "#/$defs/channel"}}}}},
					{"routes", obj{{"description", "where events go: the first route that matches, and those after it while continue is true"},
						{"type", "array"}, {"items", obj{{"$ref", "#/$defs/route"}}}}},
					{"maintenance", obj{{"description", "maintenance windows: the monitors matched are probed, their alerts held"},
						{"type", "array"}, {"items", obj{{"$ref", "#/$defs/window"}}}}},
				}},
				{"patternProperties", obj{{"^x-", obj{{"description", "ignored: a place for YAML anchors (x-common: &common {...})"}}}}},
				{"additionalProperties", false},
			},
			obj{
				{"description", "a list of monitors (the TARGETS_FILE of earlier versions)"},
				{"type", "array"},
				{"items", obj{{"$ref", "#/$defs/monitor"}}},
			},
			obj{{"description", "an empty file"}, {"type", "null"}},
		}},
		{"$defs", s.defs},
	}
	var b bytes.Buffer
	writeJSON(&b, root, "")
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// schemaGen builds the schema's parts; the sections become $defs.
type schemaGen struct {
	defs obj
	err  error
}

func (s *schemaGen) def(name string, v obj) {
	for _, kv := range s.defs {
		if kv.k == name {
			return
		}
	}
	s.defs = append(s.defs, kv{name, v})
}

// sortDefs puts the $defs in reading order: the monitor, the defaults
// and a group first, then the sections in the field table's order, then
// the shared value types.
func (s *schemaGen) sortDefs() {
	rank := func(name string) int {
		switch name {
		case "monitor":
			return 0
		case "defaults":
			return 1
		case "group":
			return 2
		}
		for i, f := range monitorFields {
			if strings.HasPrefix(f.path, name+".") {
				return 10 + i
			}
		}
		return 1000
	}
	slices.SortStableFunc(s.defs, func(a, b kv) int { return rank(a.k) - rank(b.k) })
}

// object is the schema of the mapping of fields under prefix ("" for a
// monitor or defaults), in the field table's order.
func (s *schemaGen) object(prefix string, inDefaults bool, description string, required ...string) obj {
	props := obj{}
	for _, name := range fieldsUnder(prefix, inDefaults) {
		path := prefix + name
		if _, ok := sections[path]; ok {
			props = append(props, kv{name, s.section(path, inDefaults)})
			continue
		}
		f := fieldIndex[path]
		if f == nil {
			s.err = fmt.Errorf("schema: field %q is neither a field nor a section", path)
			continue
		}
		props = append(props, kv{name, s.leaf(f, "")})
	}
	o := obj{{"type", "object"}}
	if description != "" {
		o = append(o, kv{"description", description})
	}
	o = append(o, kv{"properties", props})
	if len(required) > 0 {
		o = append(o, kv{"required", toAny(required)})
	}
	return append(o, kv{"additionalProperties", false})
}

// section is a reference to a section's $defs entry, which is shared by
// monitors and defaults while both allow the same fields in it.
func (s *schemaGen) section(path string, inDefaults bool) obj {
	desc := fmt.Sprintf("%s settings; used by %s monitors", path, sections[path])
	if inDefaults && !slices.Equal(fieldsUnder(path+".", true), fieldsUnder(path+".", false)) {
		return s.object(path+".", true, desc)
	}
	s.def(path, s.object(path+".", false, desc))
	return obj{{"$ref", "#/$defs/" + path}}
}

// Patterns of the forms the parser reads as text.
const (
	numPattern      = `(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)`
	unitPattern     = `(?:ns|us|µs|μs|ms|s|m|h)`
	durationPattern = `^(?:[+-]?0|(?:` + numPattern + unitPattern + `)+)$`
	intPattern      = `^\+?[0-9]+$`
	floatPattern    = `^[+-]?` + numPattern + `(?:[eE][+-]?[0-9]+)?$`
	codePattern     = `[1-5][0-9][0-9]`
	codeItem        = `\s*` + codePattern + `(?:\s*-\s*` + codePattern + `)?\s*`
	codesPattern    = `^` + codeItem + `(?:,` + codeItem + `)*$`
	// labelPattern is checkLabelName's; headerPattern an HTTP token,
	// validHeaderName's.
	labelPattern  = `^[A-Za-z_][A-Za-z0-9_]*$`
	headerPattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
	// idPattern is what an id may hold (see buildMonitors).
	idPattern = `^[^ \t\n{}]+$`
)

// leaf is the schema of one field's value.
func (s *schemaGen) leaf(f *mfield, description string) obj {
	if description == "" {
		description = f.help
		switch {
		case f.env != "":
			description += "; default: the environment's " + f.env
		case f.def != "":
			description += "; default: " + f.def
		}
	}
	o := obj{{"description", description}}
	text := kv{"$ref", "#/$defs/text"}
	switch f.kind {
	case mString, mSecret, mRegex:
		o = append(o, text)
		if f.path == "id" {
			o = append(o, kv{"pattern", idPattern})
		}
		if f.path == "http.method" {
			o = append(o, kv{"pattern", headerPattern})
		}
	case mCheck:
		names := append(slices.Clone(f.enum), checkAliases...)
		o = append(o, kv{"type", "string"}, kv{"anyOf", []any{
			obj{{"enum", toAny(names)}},
			obj{{"pattern", anyCase(names...)}},
		}})
	case mDuration:
		o = append(o, kv{"$ref", "#/$defs/duration"}, kv{"minimum", f.min}, kv{"maximum", f.max})
	case mInt:
		o = append(o, kv{"$ref", "#/$defs/integer"}, kv{"minimum", f.min}, kv{"maximum", f.max})
	case mFloat:
		o = append(o, kv{"$ref", "#/$defs/number"}, kv{"minimum", f.min}, kv{"maximum", f.max})
	case mBool:
		o = append(o, kv{"$ref", "#/$defs/bool"})
	case mCodes:
		o = append(o, kv{"$ref", "#/$defs/codes"})
	case mLabels:
		o = append(o, kv{"type", "object"}, kv{"propertyNames", obj{{"pattern", labelPattern}}},
			kv{"additionalProperties", obj{text}})
	case mHeaders:
		o = append(o, kv{"type", "object"}, kv{"propertyNames", obj{{"pattern", headerPattern}}},
			kv{"additionalProperties", obj{text}})
	case mStrings:
		o = append(o, kv{"type", "array"}, kv{"items", obj{text}})
	case mJSON:
		o = append(o, kv{"type", "object"}, kv{"additionalProperties", true})
	default:
		s.err = fmt.Errorf("schema: field %q has a kind the schema does not know", f.path)
	}
	if f.def != "" {
		switch f.kind {
		case mBool:
			o = append(o, kv{"default", f.def == "true"})
		default:
			o = append(o, kv{"default", f.def})
		}
	}
	return o
}

// anyCase is a pattern matching any of words in any letter case, as the
// parser reads them (ECMA-262 patterns have no case-insensitive flag).
func anyCase(words ...string) string {
	alts := make([]string, len(words))
	for i, w := range words {
		var b strings.Builder
		for _, r := range w {
			lo, up := strings.ToLower(string(r)), strings.ToUpper(string(r))
			if lo == up {
				b.WriteString(regexp.QuoteMeta(string(r)))
				continue
			}
			b.WriteString("[" + lo + up + "]")
		}
		alts[i] = b.String()
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// obj is a JSON object that keeps its keys' order, so the schema reads
// in the field table's order and its text is stable.
type obj []kv

type kv struct {
	k string
	v any
}

// writeJSON writes v indented by two spaces, without HTML escaping
// (descriptions hold <check>).
func writeJSON(b *bytes.Buffer, v any, indent string) {
	inner := indent + "  "
	switch x := v.(type) {
	case obj:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, e := range x {
			b.WriteString(inner)
			writeScalar(b, e.k)
			b.WriteString(": ")
			writeJSON(b, e.v, inner)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		simple := true
		for _, e := range x {
			if _, ok := e.(obj); ok {
				simple = false
			}
		}
		if simple { // a list of words or numbers on one line
			b.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					b.WriteString(", ")
				}
				writeScalar(b, e)
			}
			b.WriteByte(']')
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(inner)
			writeJSON(b, e, inner)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		writeScalar(b, v)
	}
}

func writeScalar(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // strings, numbers and booleans only
	}
	b.Truncate(b.Len() - 1) // Encode's newline
}

// routingDefs adds the definitions of channels, routes and maintenance
// windows (SPEC §10), the channels' from channelTypes.
func (s *schemaGen) routingDefs() {
	var variants []any
	for _, typ := range channelTypeNames() {
		props := obj{{"type", obj{{"const", typ}}}}
		required := []any{"type"}
		for _, f := range channelTypes[typ] {
			desc := "a value; ${NAME} is the environment's NAME"
			if f.secret {
				desc = "a secret: the value, ${NAME}, or a file:, ssm: or secretsmanager: reference"
			}
			if f.list {
				props = append(props, kv{f.name, obj{{"description", desc + " (a list, or one)"},
					{"anyOf", []any{obj{{"$ref", "#/$defs/text"}}, obj{{"type", "array"}, {"minItems", 1}, {"items", obj{{"$ref", "#/$defs/text"}}}}}}}})
			} else {
				props = append(props, kv{f.name, obj{{"$ref", "#/$defs/text"}, {"description", desc}}})
			}
			if f.required {
				required = append(required, f.name)
			}
		}
		v := obj{{"type", "object"}, {"properties", props}, {"required", required}, {"additionalProperties", false}}
		if typ == "alertmanager" {
			v = append(v, kv{"anyOf", []any{obj{{"required", []any{"url"}}}, obj{{"required", []any{"urls"}}}}})
		}
		variants = append(variants, v)
	}
	s.def("channel", obj{{"description", "a channel: type, and the provider's fields"}, {"oneOf", variants}})
	kinds := make([]any, len(route.AlertKinds))
	for i, k := range route.AlertKinds {
		kinds[i] = string(k)
	}
	matchProps := func(withKinds bool) obj {
		o := obj{
			{"labels", s.leaf(fieldIndex["labels"], "every one of these labels, with these values")},
			{"group", obj{{"$ref", "#/$defs/text"}, {"description", "the monitor's group"}}},
			{"check", obj{{"enum", []any{"dns", "ping", "http", "tls", "tcp"}}}},
			{"target", obj{{"$ref", "#/$defs/text"}, {"description", "a glob (* and ?) on the target's ID, address or name"}}},
		}
		if withKinds {
			o = append(o, kv{"kinds", obj{{"description", "event kinds"}, {"anyOf", []any{
				obj{{"enum", kinds}}, obj{{"type", "array"}, {"items", obj{{"enum", kinds}}}}}}}})
		}
		return obj{{"type", "object"}, {"properties", o}, {"additionalProperties", false}}
	}
	s.def("route", obj{{"type", "object"},
		{"properties", obj{
			{"match", matchProps(true)},
			{"channels", obj{{"description", "the channels it sends to; [] sends its events nowhere"},
				{"anyOf", []any{obj{{"$ref", "#/$defs/text"}}, obj{{"type", "array"}, {"items", obj{{"$ref", "#/$defs/text"}}}}}}}},
			{"continue", obj{{"$ref", "#/$defs/bool"}, {"description", "go on to the next routes after this one matched"}}},
		}},
		{"required", []any{"channels"}}, {"additionalProperties", false}})
	s.def("window", obj{{"type", "object"},
		{"properties", obj{
			{"match", matchProps(false)},
			{"schedule", obj{{"type", "string"}, {"description", "when it opens: 5 cron fields (minute hour day-of-month month day-of-week) or @daily, @weekly…"}}},
			{"duration", obj{{"$ref", "#/$defs/duration"}, {"description", "how long it stays open, from 1m to 31 days"}}},
			{"timezone", obj{{"type", "string"}, {"description", "an IANA time zone (Europe/Berlin); UTC when not given"}}},
		}},
		{"required", []any{"schedule", "duration"}}, {"additionalProperties", false}})
}
