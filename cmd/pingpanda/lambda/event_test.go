package lambda

import (
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

func TestParseLambdaEvent(t *testing.T) {
	at := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	yes := true
	tests := []struct {
		name    string
		payload string
		want    invocation
		warning string // a substring of the only warning, if any
	}{
		{"no payload", ``, invocation{Trigger: TriggerEmpty}, ""},
		{"null", `null`, invocation{Trigger: TriggerEmpty}, ""},
		{"an empty object", ` {} `, invocation{Trigger: TriggerEmpty}, ""},
		{"an EventBridge rule's Scheduled Event", `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
			"detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-24T05:00:00Z",
			"region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/pingpanda"],"detail":{}}`,
			invocation{Trigger: TriggerRule, Schedule: "arn:aws:events:eu-west-1:123456789012:rule/pingpanda", Scheduled: at}, ""},
		{"a rule event with overrides in a transformed Input", `{"source":"aws.events","detail-type":"Scheduled Event","time":"2026-11-24T05:00:00Z","dry_run":true}`,
			invocation{Trigger: TriggerRule, Scheduled: at, DryRun: &yes}, ""},
		{"EventBridge Scheduler context attributes", `{"scheduleArn":"arn:aws:scheduler:eu-west-1:123456789012:schedule/default/pingpanda",
			"scheduledTime":"2026-11-24T05:00:00Z","executionId":"d32c5kddcf5bb8c3","attemptNumber":"2"}`,
			invocation{Trigger: TriggerScheduler, Schedule: "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/pingpanda", Scheduled: at, Attempt: 2}, ""},
		{"Scheduler attributes with overrides", `{"scheduledTime":"2026-11-24T05:00:00Z","attemptNumber":1,"dry_run":true,"targets":["dns"]}`,
			invocation{Trigger: TriggerScheduler, Scheduled: at, Attempt: 1, DryRun: &yes, Targets: []string{"dns"}}, ""},
		{"a custom Input", `{"dry_run":true,"targets":["http:https://example.com/","ping:*"]}`,
			invocation{Trigger: TriggerInput, DryRun: &yes, Targets: []string{"http:https://example.com/", "ping:*"}}, ""},
		{"dry_run null is no override", `{"dry_run":null}`, invocation{Trigger: TriggerInput}, ""},
		{"unreplaced Scheduler placeholders (a console test event)", `{"scheduleArn":"<aws.scheduler.schedule-arn>","scheduledTime":"<aws.scheduler.scheduled-time>","attemptNumber":"<aws.scheduler.attempt-number>"}`,
			invocation{Trigger: TriggerScheduler}, "unreplaced placeholder"},
		{"a rule event with a time that does not parse", `{"source":"aws.events","detail-type":"Scheduled Event","time":"yesterday"}`,
			invocation{Trigger: TriggerRule}, `time "yesterday" is not an RFC 3339 time`},
		{"a bad attempt number", `{"scheduledTime":"2026-11-24T05:00:00Z","attemptNumber":"two"}`,
			invocation{Trigger: TriggerScheduler, Scheduled: at}, `attemptNumber "two" is not a whole number`},
		{"another EventBridge event", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`,
			invocation{Trigger: TriggerOther}, `fields pingpanda does not use were ignored: "detail", "detail-type", "source"`},
		{"any other object", `{"hello":"world","dry_run":false}`, invocation{Trigger: TriggerOther, DryRun: new(bool)}, `"hello"`},
		{"a list", `["dns"]`, invocation{Trigger: TriggerOther}, "not a JSON object"},
		{"a string", `"sweep"`, invocation{Trigger: TriggerOther}, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLambdaEvent([]byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if got.Trigger != tt.want.Trigger || got.Schedule != tt.want.Schedule || !got.Scheduled.Equal(tt.want.Scheduled) ||
				got.Attempt != tt.want.Attempt || strings.Join(got.Targets, "|") != strings.Join(tt.want.Targets, "|") ||
				(got.DryRun == nil) != (tt.want.DryRun == nil) || (got.DryRun != nil && *got.DryRun != *tt.want.DryRun) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			switch {
			case tt.warning == "" && len(got.Warnings) > 0:
				t.Fatalf("unexpected warnings %q", got.Warnings)
			case tt.warning != "" && !strings.Contains(strings.Join(got.Warnings, "\n"), tt.warning):
				t.Fatalf("warnings %q, want one containing %q", got.Warnings, tt.warning)
			}
		})
	}
}

func TestParseLambdaEventRefuses(t *testing.T) {
	tests := []struct {
		name, payload, want string
	}{
		{"a misspelt dry_run", `{"dryRun":true}`, `lambda event: unknown field "dryRun"; did you mean "dry_run"?`},
		{"another misspelling", `{"dry-run":true}`, `lambda event: unknown field "dry-run"; did you mean "dry_run"?`},
		{"a misspelt targets", `{"target":["dns"]}`, `lambda event: unknown field "target"; did you mean "targets"?`},
		{"a string for dry_run", `{"dry_run":"yes"}`, "lambda event: dry_run must be true or false, not a string"},
		{"a string for targets", `{"targets":"dns"}`, `lambda event: targets must be a list of strings, such as ["dns", "http:https://example.com/"], not a string`},
		{"numbers for targets", `{"targets":[1]}`, `lambda event: targets must be a list of strings, such as ["dns", "http:https://example.com/"], not a list of other things`},
		{"an empty selector", `{"targets":["dns"," "]}`, "lambda event: targets[1] is empty"},
		{"an empty list", `{"targets":[]}`, "lambda event: targets is an empty list; leave it out to sweep every target"},
		{"broken JSON", `{"dry_run":tru}`, "lambda event: not valid JSON (at byte"},
		{"a cut-short object", `{"dry_run":true`, "lambda event: not valid JSON"},
		{"two objects", `{} {}`, "lambda event: not valid JSON"},
		{"too many selectors", `{"targets":[` + strings.Repeat(`"dns",`, maxTargetSelectors) + `"dns"]}`, "lambda event: targets has 1001 entries; at most 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseLambdaEvent([]byte(tt.payload))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant prefix %q", err, tt.want)
			}
		})
	}
}

func TestSelectTargets(t *testing.T) {
	mk := func(specs ...string) []probe.Target {
		var out []probe.Target
		for _, s := range specs {
			c, a, _ := strings.Cut(s, ":")
			out = append(out, probe.Target{Check: probe.Check(c), Address: a})
		}
		return out
	}
	all := mk("dns:example.com", "ping:10.0.0.1", "http:https://example.com/health", "http:https://api.example.org/", "tls:example.com:443")
	shard := all[:4] // tls lives in another shard
	tests := []struct {
		name      string
		selectors []string
		want      []string
		err       string
	}{
		{"a check name", []string{"http"}, []string{"http:https://example.com/health", "http:https://api.example.org/"}, ""},
		{"the original's check name", []string{"website"}, []string{"http:https://example.com/health", "http:https://api.example.org/"}, ""},
		{"an exact ID", []string{"dns:example.com"}, []string{"dns:example.com"}, ""},
		{"a pattern across slashes", []string{"*example.com*"}, []string{"dns:example.com", "http:https://example.com/health"}, ""},
		{"two selectors, one target each", []string{"ping:*", "http:*.org/"}, []string{"ping:10.0.0.1", "http:https://api.example.org/"}, ""},
		{"a target in another shard", []string{"ssl"}, nil, ""},
		{"a typo", []string{"dns", "dns:exampel.com"}, nil, `lambda event: targets[1] "dns:exampel.com" matches none of the 5 configured targets`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectTargets(tt.selectors, shard, all)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error = %v, want prefix %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, t := range got {
				ids = append(ids, t.ID())
			}
			if strings.Join(ids, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("selected %q, want %q", ids, tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*", "", true},
		{"a*", "a/b/c", true},
		{"*c", "abc", true},
		{"*c", "cb", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, // the prefix and suffix may not overlap
		{"**", "x", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// FuzzParseLambdaEvent: no payload makes the decoder panic, and whatever
// it accepts has a trigger kind and well-formed selectors.
func FuzzParseLambdaEvent(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"dry_run":true,"targets":["dns","http:*"]}`,
		`{"source":"aws.events","detail-type":"Scheduled Event","time":"2026-11-24T05:00:00Z","resources":["arn"],"detail":{}}`,
		`{"scheduleArn":"arn","scheduledTime":"2026-11-24T05:00:00Z","attemptNumber":"1"}`, `{"targets":null}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		inv, err := parseLambdaEvent(payload)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "lambda event: ") {
				t.Fatalf("error without its prefix: %v", err)
			}
			return
		}
		if inv.Trigger == "" {
			t.Fatal("accepted with no trigger kind")
		}
		if len(inv.Targets) > maxTargetSelectors {
			t.Fatalf("accepted %d selectors", len(inv.Targets))
		}
		for _, sel := range inv.Targets {
			if strings.TrimSpace(sel) == "" {
				t.Fatal("accepted an empty selector")
			}
		}
	})
}
