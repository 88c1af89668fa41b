package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
)

// Trigger kinds: which kind of event started an invocation.
const (
	TriggerRule      = "eventbridge-rule" // an EventBridge rule's Scheduled Event
	TriggerScheduler = "scheduler"        // EventBridge Scheduler, with context attributes
	TriggerInput     = "input"            // a custom Input JSON with pingpanda's overrides only
	TriggerEmpty     = "empty"            // no payload, {} or null
	TriggerOther     = "other"            // any other JSON event: swept as a scheduled one
)

// invocation is what one Lambda event asks of the sweep.
type invocation struct {
	Trigger string
	// Schedule is the rule's or the schedule's ARN, when the event names
	// it; Scheduled is when the schedule fired (zero when not given).
	Schedule  string
	Scheduled time.Time
	// Attempt is EventBridge Scheduler's attempt number (0 when unknown).
	Attempt int
	// DryRun, when set, overrides the configured dry-run.
	DryRun *bool
	// Targets selects a subset of the configured targets: each entry is a
	// target ID ("http:https://example.com/"), a check name ("dns"), or
	// either with * standing for any run of characters.
	Targets []string
	// Warnings say what in the event was not understood and ignored.
	Warnings []string
}

// Override fields: pingpanda's own, decoded strictly.
const (
	fieldDryRun  = "dry_run"
	fieldTargets = "targets"
)

// Fields of the scheduled-event shapes pingpanda reads.
var (
	ruleFields      = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
	schedulerFields = []string{"scheduleArn", "scheduledTime", "executionId", "attemptNumber"}
)

// maxTargetSelectors bounds the targets override.
const maxTargetSelectors = 1000

// parseLambdaEvent decodes an invocation's payload. Any JSON event is a
// sweep (SPEC §1): an EventBridge rule's Scheduled Event, EventBridge
// Scheduler's context attributes, a custom Input, or anything else, whose
// fields are ignored with a warning. Only pingpanda's overrides are
// strict: a wrong type, or a field that looks like a misspelt override
// ("dryRun"), is an error, since guessing could send real alerts from what
// was meant as a dry run. Errors name the field at fault and never quote
// more of the payload than that field.
func parseLambdaEvent(payload []byte) (invocation, error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || string(payload) == "null" || string(payload) == "{}" {
		return invocation{Trigger: TriggerEmpty}, nil
	}
	if !json.Valid(payload) {
		var v any
		err := json.Unmarshal(payload, &v)
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return invocation{}, fmt.Errorf("lambda event: not valid JSON (at byte %d): %w", syntaxErr.Offset, err)
		}
		return invocation{}, errors.New("lambda event: not valid JSON")
	}
	if payload[0] != '{' {
		return invocation{Trigger: TriggerOther, Warnings: []string{
			"the event is not a JSON object; it is ignored and every target is swept"}}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return invocation{}, fmt.Errorf("lambda event: %w", err)
	}

	inv := invocation{}
	if err := inv.overrides(fields); err != nil {
		return invocation{}, err
	}
	str := func(name string) string {
		var v string
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, &v) != nil {
			inv.warn("%s is not a string; ignored", name)
		}
		return v
	}
	has := func(names []string) bool {
		for _, n := range names {
			if _, ok := fields[n]; ok {
				return true
			}
		}
		return false
	}
	known := map[string]bool{fieldDryRun: true, fieldTargets: true}
	switch {
	case str("source") == "aws.events" && str("detail-type") == "Scheduled Event":
		inv.Trigger = TriggerRule
		var resources []string
		if json.Unmarshal(fields["resources"], &resources) == nil && len(resources) > 0 {
			inv.Schedule = resources[0]
		}
		inv.Scheduled = inv.time("time", str("time"))
		for _, f := range ruleFields {
			known[f] = true
		}
	case has(schedulerFields):
		inv.Trigger = TriggerScheduler
		inv.Schedule = str("scheduleArn")
		if strings.HasPrefix(inv.Schedule, "<aws.") {
			inv.warn("scheduleArn is the unreplaced placeholder %s (a test event?); ignored", quoteField(inv.Schedule))
			inv.Schedule = ""
		}
		inv.Scheduled = inv.time("scheduledTime", str("scheduledTime"))
		if raw, ok := fields["attemptNumber"]; ok {
			inv.Attempt = inv.attempt(raw)
		}
		for _, f := range schedulerFields {
			known[f] = true
		}
	}
	var ignored []string
	for name := range fields {
		if !known[name] {
			ignored = append(ignored, name)
		}
	}
	switch {
	case inv.Trigger != "":
	case len(ignored) == 0:
		inv.Trigger = TriggerInput
	default:
		inv.Trigger = TriggerOther
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		shown := ignored
		if len(shown) > 10 {
			shown = append(shown[:10:10], fmt.Sprintf("and %d more", len(ignored)-10))
		}
		for i, n := range shown {
			shown[i] = quoteField(n)
		}
		inv.warn("fields pingpanda does not use were ignored: %s; every target is swept unless %q says otherwise",
			strings.Join(shown, ", "), fieldTargets)
	}
	return inv, nil
}

// overrides reads pingpanda's own fields, strictly, and refuses a field
// that looks like a misspelling of one.
func (inv *invocation) overrides(fields map[string]json.RawMessage) error {
	for name := range fields {
		if name == fieldDryRun || name == fieldTargets {
			continue
		}
		n := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(name))
		for _, o := range []string{fieldDryRun, fieldTargets} {
			if d := config.EditDistance(n, strings.ReplaceAll(o, "_", "")); d <= 2 {
				return fmt.Errorf("lambda event: unknown field %s; did you mean %q? (the overrides are %q and %q)",
					quoteField(name), o, fieldDryRun, fieldTargets)
			}
		}
	}
	if raw, ok := fields[fieldDryRun]; ok {
		var v *bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("lambda event: %s must be true or false, not %s", fieldDryRun, jsonKind(raw))
		}
		inv.DryRun = v
	}
	if raw, ok := fields[fieldTargets]; ok {
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf(`lambda event: %s must be a list of strings, such as ["dns", "http:https://example.com/"], not %s`,
				fieldTargets, jsonKind(raw))
		}
		if v != nil && len(v) == 0 {
			return fmt.Errorf("lambda event: %s is an empty list; leave it out to sweep every target", fieldTargets)
		}
		if len(v) > maxTargetSelectors {
			return fmt.Errorf("lambda event: %s has %d entries; at most %d are accepted", fieldTargets, len(v), maxTargetSelectors)
		}
		for i, sel := range v {
			if strings.TrimSpace(sel) == "" {
				return fmt.Errorf("lambda event: %s[%d] is empty", fieldTargets, i)
			}
		}
		inv.Targets = v
	}
	return nil
}

// jsonKind names the kind of a JSON value, for an error message.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list of other things"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func (inv *invocation) warn(format string, args ...any) {
	inv.Warnings = append(inv.Warnings, fmt.Sprintf(format, args...))
}

// time reads a scheduled time; one that is missing, a placeholder or
// malformed leaves it unknown, with a warning for the last two.
func (inv *invocation) time(field, s string) time.Time {
	switch {
	case s == "":
		return time.Time{}
	case strings.HasPrefix(s, "<aws."):
		inv.warn("%s is the unreplaced placeholder %s (a test event?); ignored", field, quoteField(s))
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		inv.warn("%s %s is not an RFC 3339 time such as 2026-11-24T05:00:00Z; ignored", field, quoteField(s))
		return time.Time{}
	}
	return t
}

// attempt reads Scheduler's attempt number, a number or (as the placeholder
// is usually written inside quotes) a string.
func (inv *invocation) attempt(raw json.RawMessage) int {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if strings.HasPrefix(s, "<aws.") {
		return 0 // a console test event
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		inv.warn("attemptNumber %s is not a whole number; ignored", quoteField(s))
		return 0
	}
	return n
}

// quoteField quotes a value from the event for an error message, cut to a
// readable length.
func quoteField(s string) string {
	const limit = 80
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strconv.Quote(s)
}

// selectTargets returns the targets of this shard that the selectors name.
// A selector that names none of the configured targets (in any shard) is an
// error, so a typo does not quietly probe nothing.
func selectTargets(selectors []string, shard, all []probe.Target) ([]probe.Target, error) {
	var problems []string
	for i, sel := range selectors {
		found := false
		for _, t := range all {
			if selectorMatches(sel, t) {
				found = true
				break
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("targets[%d] %s matches none of the %d configured targets", i, quoteField(sel), len(all)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("lambda event: %s (a selector is a target ID such as dns:example.com, a check name such as dns, or either with * for any characters)",
			strings.Join(problems, "; "))
	}
	var out []probe.Target
	for _, t := range shard {
		for _, sel := range selectors {
			if selectorMatches(sel, t) {
				out = append(out, t)
				break
			}
		}
	}
	return out, nil
}

// selectorMatches reports whether sel names t: its check (by any of the
// check's names), its ID, or a pattern over its ID.
func selectorMatches(sel string, t probe.Target) bool {
	sel = strings.TrimSpace(sel)
	if c, err := probe.ParseCheck(sel); err == nil {
		return c == t.Check
	}
	return globMatch(sel, t.ID())
}

// globMatch matches s against pattern, where * stands for any run of
// characters (including /, unlike path.Match) and nothing else is special.
// It runs in O(len(pattern)·len(s)) at worst.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
