package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

// Trigger kinds: which of the scheduled-event shapes started an
// invocation.
const (
	triggerRule      = "eventbridge-rule" // an EventBridge rule's Scheduled Event
	triggerScheduler = "scheduler"        // EventBridge Scheduler, with context attributes
	triggerInput     = "input"            // a custom Input JSON (rule or schedule)
	triggerEmpty     = "empty"            // no payload, {} or null
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
}

// lambdaEvent is every field pingpanda accepts in an event: those of an
// EventBridge rule's Scheduled Event, the context attributes README
// suggests for an EventBridge Scheduler Input, and pingpanda's own
// overrides. Any other field is refused, so a misspelt override is not
// silently ignored.
type lambdaEvent struct {
	// EventBridge rule ("detail-type": "Scheduled Event").
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`

	// EventBridge Scheduler context attributes, as placed in its Input:
	// {"scheduleArn": "<aws.scheduler.schedule-arn>", ...}.
	ScheduleArn   string          `json:"scheduleArn"`
	ScheduledTime string          `json:"scheduledTime"`
	ExecutionID   string          `json:"executionId"`
	AttemptNumber json.RawMessage `json:"attemptNumber"`

	// pingpanda's overrides.
	DryRun  *bool    `json:"dry_run"`
	Targets []string `json:"targets"`
}

// eventFields lists the accepted fields, for the error that refuses others.
var eventFields = []string{"dry_run", "targets", "scheduleArn", "scheduledTime", "executionId", "attemptNumber",
	"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

// maxTargetSelectors bounds the targets override.
const maxTargetSelectors = 1000

// parseLambdaEvent decodes an invocation's payload. Errors name the field
// at fault and never quote more of the payload than that field.
func parseLambdaEvent(payload []byte) (invocation, error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || string(payload) == "null" || string(payload) == "{}" || string(payload) == `""` {
		return invocation{Trigger: triggerEmpty}, nil
	}
	if payload[0] != '{' {
		return invocation{}, errors.New(`lambda event: the payload must be a JSON object, such as {} or {"dry_run": true}`)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var ev lambdaEvent
	if err := dec.Decode(&ev); err != nil {
		return invocation{}, eventDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invocation{}, errors.New("lambda event: unexpected data after the JSON object")
	}

	inv := invocation{DryRun: ev.DryRun}
	switch {
	case ev.Source == "aws.events" || ev.DetailType == "Scheduled Event":
		inv.Trigger = triggerRule
		if len(ev.Resources) > 0 {
			inv.Schedule = ev.Resources[0]
		}
		if ev.Time != "" {
			t, err := parseEventTime("time", ev.Time)
			if err != nil {
				return invocation{}, err
			}
			inv.Scheduled = t
		}
	case ev.ScheduleArn != "" || ev.ScheduledTime != "" || ev.ExecutionID != "" || len(ev.AttemptNumber) > 0:
		inv.Trigger = triggerScheduler
		inv.Schedule = ev.ScheduleArn
		if ev.ScheduledTime != "" {
			t, err := parseEventTime("scheduledTime", ev.ScheduledTime)
			if err != nil {
				return invocation{}, err
			}
			inv.Scheduled = t
		}
		if len(ev.AttemptNumber) > 0 {
			n, err := parseAttempt(ev.AttemptNumber)
			if err != nil {
				return invocation{}, err
			}
			inv.Attempt = n
		}
	default:
		inv.Trigger = triggerInput
	}
	if strings.HasPrefix(inv.Schedule, "<aws.") {
		return invocation{}, fmt.Errorf("lambda event: scheduleArn is the unreplaced placeholder %s; "+
			"EventBridge Scheduler replaces it only in a schedule's Input, not in a test event", quoteField(inv.Schedule))
	}
	if len(ev.Targets) > maxTargetSelectors {
		return invocation{}, fmt.Errorf("lambda event: targets has %d entries; at most %d are accepted", len(ev.Targets), maxTargetSelectors)
	}
	for i, sel := range ev.Targets {
		if strings.TrimSpace(sel) == "" {
			return invocation{}, fmt.Errorf("lambda event: targets[%d] is empty", i)
		}
	}
	inv.Targets = ev.Targets
	return inv, nil
}

// eventDecodeError rewords encoding/json's errors: which field, what was
// expected.
func eventDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		want := map[string]string{
			"dry_run": "true or false", "targets": `a list of strings, such as ["dns", "http:https://example.com/"]`,
			"resources": "a list of strings",
		}[typeErr.Field]
		if want == "" {
			want = "a " + typeErr.Type.String()
		}
		return fmt.Errorf("lambda event: %s must be %s, not a JSON %s", typeErr.Field, want, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("lambda event: not valid JSON (at byte %d): %w", syntaxErr.Offset, err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		fields := append([]string(nil), eventFields...)
		sort.Strings(fields)
		return fmt.Errorf("lambda event: unknown field %s; the fields accepted are %s", quoteField(strings.Trim(name, `"`)), strings.Join(fields, ", "))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("lambda event: the JSON object is cut short")
	}
	return fmt.Errorf("lambda event: %w", err)
}

func parseEventTime(field, s string) (time.Time, error) {
	if strings.HasPrefix(s, "<aws.") {
		return time.Time{}, fmt.Errorf("lambda event: %s is the unreplaced placeholder %s; "+
			"EventBridge Scheduler replaces it only in a schedule's Input, not in a test event", field, quoteField(s))
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("lambda event: %s %s is not an RFC 3339 time such as 2026-11-24T05:00:00Z", field, quoteField(s))
	}
	return t, nil
}

// parseAttempt accepts Scheduler's attempt number as a number or, as the
// placeholder is usually written inside quotes, a string.
func parseAttempt(raw json.RawMessage) (int, error) {
	s := strings.Trim(string(raw), `"`)
	if strings.HasPrefix(s, "<aws.") {
		return 0, nil // a console test event; not worth refusing the sweep
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("lambda event: attemptNumber %s is not a whole number", quoteField(s))
	}
	return n, nil
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
