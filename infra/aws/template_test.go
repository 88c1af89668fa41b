// Package aws tests template.yaml, the AWS SAM template that deploys
// pingpanda as a scheduled Lambda function: it parses the template (short
// tags and all), evaluates it for several sets of parameter values, and
// checks the function, its schedule, its logs and every IAM statement.
package aws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/infra/internal/pingpandatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pingpandatest.Cleanup()
	os.Exit(code)
}

// parse reads a template.
func parse(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	v, err := fromYAML(&n)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatal("template.yaml is not a mapping")
	}
	return m
}

func template(t *testing.T) map[string]any {
	t.Helper()
	return parse(t, pingpandatest.ReadFile(t, "template.yaml"))
}

// resource evaluates one resource of tmpl with the given parameters.
func resource(t *testing.T, tmpl map[string]any, params map[string]string, name, typ string) map[string]any {
	t.Helper()
	s, err := newStack(tmpl, params)
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := s.resources[name].(map[string]any)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	if raw["Type"] != typ {
		t.Fatalf("resource %s is a %v, want %s", name, raw["Type"], typ)
	}
	if _, conditional := raw["Condition"]; conditional {
		t.Fatalf("resource %s has a condition", name)
	}
	r, err := s.eval(raw["Properties"])
	if err != nil {
		t.Fatalf("resource %s: %v", name, err)
	}
	return r.(map[string]any)
}

// get follows a path of keys through nested maps.
func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func TestTheFunction(t *testing.T) {
	tmpl := template(t)
	if tmpl["Transform"] != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform %v, want the SAM transform", tmpl["Transform"])
	}
	fn := resource(t, tmpl, nil, "Function", "AWS::Serverless::Function")
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"Runtime"}, "provided.al2023"},
		{[]string{"Handler"}, "bootstrap"},
		{[]string{"Architectures"}, []any{"arm64"}},
		{[]string{"CodeUri"}, "dist/lambda/"},
		{[]string{"ReservedConcurrentExecutions"}, 1},
		{[]string{"Role"}, "getatt:Role.Arn"},
		{[]string{"LoggingConfig", "LogGroup"}, "ref:LogGroup"},
		{[]string{"EventInvokeConfig", "MaximumRetryAttempts"}, 0},
		{[]string{"Environment", "Variables", "PING_MODE"}, "tcp"},
	} {
		if got := get(fn, c.path...); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if _, ok := fn["VpcConfig"]; ok {
		t.Error("VpcConfig without SubnetIds")
	}
	mem, err := strconv.Atoi(fmt.Sprint(fn["MemorySize"]))
	if err != nil || mem < 128 {
		t.Errorf("MemorySize %v", fn["MemorySize"])
	}

	// Timeout above the sweep's deadline, at most the schedule's period.
	timeout, err1 := strconv.Atoi(fmt.Sprint(fn["Timeout"]))
	sweep, err2 := strconv.Atoi(fmt.Sprint(get(fn, "Environment", "Variables", "SWEEP_TIMEOUT_SECONDS")))
	if err1 != nil || err2 != nil || timeout < sweep+10 {
		t.Errorf("Timeout %v and SWEEP_TIMEOUT_SECONDS %v: want the timeout at least 10 s above the sweep's deadline", fn["Timeout"], sweep)
	}
	period := ratePeriod(t, fmt.Sprint(get(fn, "Events", "Sweep", "Properties", "Schedule")))
	if timeout > period {
		t.Errorf("Timeout %d s is above the schedule's period %d s", timeout, period)
	}
}

// ratePeriod reads rate(N unit) in seconds.
func ratePeriod(t *testing.T, expr string) int {
	t.Helper()
	m := regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours)\)$`).FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("schedule %q is not a rate() this test reads", expr)
	}
	n, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(m[2], "hour") {
		return n * 3600
	}
	return n * 60
}

// TestTheMakefileBuildsWhatTheTemplateDeploys ties CodeUri to the Makefile's
// lambda target and its build flags.
func TestTheMakefileBuildsWhatTheTemplateDeploys(t *testing.T) {
	mk := string(pingpandatest.ReadFile(t, "Makefile"))
	i := strings.Index(mk, "\nlambda:")
	if i < 0 {
		t.Fatal("the Makefile has no lambda target")
	}
	recipe := mk[i:]
	if j := strings.Index(recipe[1:], "\n\n"); j > 0 {
		recipe = recipe[:j+1]
	}
	if m := regexp.MustCompile(`(?m)^LDFLAGS\s*:?=\s*(.*)$`).FindStringSubmatch(mk); m != nil {
		recipe = strings.ReplaceAll(recipe, "$(LDFLAGS)", m[1])
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "-tags lambda.norpc", "-trimpath", "-s -w", "-o dist/lambda/bootstrap"} {
		if !strings.Contains(recipe, want) {
			t.Errorf("the lambda target lacks %q:\n%s", want, recipe)
		}
	}
	fn := resource(t, template(t), nil, "Function", "AWS::Serverless::Function")
	if fn["CodeUri"] != "dist/lambda/" || fn["Handler"] != "bootstrap" {
		t.Errorf("CodeUri %v and Handler %v: want dist/lambda/ and bootstrap, which make lambda builds", fn["CodeUri"], fn["Handler"])
	}
}

func TestTheSchedule(t *testing.T) {
	tmpl := template(t)
	for _, tc := range []struct {
		name   string
		params map[string]string
		rule   string // State of the EventBridge rule
		input  bool
	}{
		{"by default an EventBridge rule", nil, "ENABLED", false},
		{"with ScheduleType=Scheduler, EventBridge Scheduler", map[string]string{"ScheduleType": "Scheduler"}, "DISABLED", false},
		{"with EventInput, that input", map[string]string{"EventInput": `{"dry_run":true}`}, "ENABLED", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := resource(t, tmpl, tc.params, "Function", "AWS::Serverless::Function")
			events, _ := fn["Events"].(map[string]any)
			if len(events) != 2 {
				t.Fatalf("events %v, want the rule and the scheduler", events)
			}
			rule, sched := get(events, "Sweep"), get(events, "SweepScheduler")
			if get(rule, "Type") != "Schedule" || get(sched, "Type") != "ScheduleV2" {
				t.Fatalf("event types %v and %v, want Schedule and ScheduleV2", get(rule, "Type"), get(sched, "Type"))
			}
			ratePeriod(t, fmt.Sprint(get(rule, "Properties", "Schedule")))
			if get(rule, "Properties", "Schedule") != get(sched, "Properties", "ScheduleExpression") {
				t.Error("the rule and the scheduler have different schedules")
			}
			other := map[string]string{"ENABLED": "DISABLED", "DISABLED": "ENABLED"}[tc.rule]
			if get(rule, "Properties", "State") != tc.rule || get(sched, "Properties", "State") != other {
				t.Errorf("rule %v, scheduler %v; want %s and %s", get(rule, "Properties", "State"), get(sched, "Properties", "State"), tc.rule, other)
			}
			for i, ev := range []any{rule, sched} {
				isRule := i == 0
				input, has := get(ev, "Properties").(map[string]any)["Input"]
				switch {
				case tc.input && input != tc.params["EventInput"]:
					t.Errorf("Input %v, want EventInput", input)
				case !tc.input && isRule && has:
					t.Errorf("the rule has Input %v; want the rule's own event", input)
				case !tc.input && !isRule:
					// Scheduler sends nothing of its own: the context
					// attributes pingpanda reads are its default Input.
					var attrs map[string]string
					if err := json.Unmarshal([]byte(fmt.Sprint(input)), &attrs); err != nil {
						t.Fatalf("the scheduler's Input %v: %v", input, err)
					}
					for k, v := range map[string]string{"scheduleArn": "schedule-arn", "scheduledTime": "scheduled-time",
						"executionId": "execution-id", "attemptNumber": "attempt-number"} {
						if attrs[k] != "<aws.scheduler."+v+">" {
							t.Errorf("the scheduler's Input has %s = %q", k, attrs[k])
						}
					}
				}
				if get(ev, "Properties", "RetryPolicy", "MaximumRetryAttempts") != 0 {
					t.Error("a failed sweep is retried: the next schedule is the retry")
				}
			}
		})
	}
}

func TestTheLogGroup(t *testing.T) {
	tmpl := template(t)
	lg := resource(t, tmpl, nil, "LogGroup", "AWS::Logs::LogGroup")
	if lg["RetentionInDays"] != "14" {
		t.Errorf("RetentionInDays %v, want the parameter's default 14", lg["RetentionInDays"])
	}
	lg = resource(t, tmpl, map[string]string{"LogRetentionDays": "90"}, "LogGroup", "AWS::Logs::LogGroup")
	if lg["RetentionInDays"] != "90" {
		t.Errorf("RetentionInDays %v, want LogRetentionDays", lg["RetentionInDays"])
	}
	if _, err := newStack(tmpl, map[string]string{"LogRetentionDays": "10"}); err == nil {
		t.Error("LogRetentionDays 10 accepted; CloudWatch has no such retention")
	}
}

func TestTheVPC(t *testing.T) {
	tmpl := template(t)
	params := map[string]string{"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"}
	fn := resource(t, tmpl, params, "Function", "AWS::Serverless::Function")
	if got := fmt.Sprint(get(fn, "VpcConfig", "SubnetIds"), get(fn, "VpcConfig", "SecurityGroupIds")); got != "[subnet-1 subnet-2] [sg-1]" {
		t.Errorf("VpcConfig %v", fn["VpcConfig"])
	}
	role := resource(t, tmpl, params, "Role", "AWS::IAM::Role")
	if got := fmt.Sprint(role["ManagedPolicyArns"]); got != "[arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess]" {
		t.Errorf("ManagedPolicyArns %s, want only the ENI policy", got)
	}
	role = resource(t, tmpl, nil, "Role", "AWS::IAM::Role")
	if _, ok := role["ManagedPolicyArns"]; ok {
		t.Errorf("ManagedPolicyArns %v without a VPC", role["ManagedPolicyArns"])
	}
}

// TestTheEnvironment requires every variable to be a pingpanda key and the
// whole environment, with the parameters' defaults, to be a configuration
// pingpanda accepts.
func TestTheEnvironment(t *testing.T) {
	fn := resource(t, template(t), nil, "Function", "AWS::Serverless::Function")
	vars, _ := get(fn, "Environment", "Variables").(map[string]any)
	if len(vars) == 0 {
		t.Fatal("no environment")
	}
	keys := pingpandatest.Keys(t)
	var env []string
	for k, v := range vars {
		if !keys[k] {
			t.Errorf("environment variable %s is not a pingpanda key", k)
		}
		env = append(env, k+"="+fmt.Sprint(v))
	}
	sort.Strings(env)
	settings, err := pingpandatest.Config(t, env)
	if err != nil {
		t.Fatalf("pingpanda rejects the function's default environment: %v", err)
	}
	if !strings.HasPrefix(settings["STATE_FILE"], "/tmp/") {
		t.Errorf("STATE_FILE %q: /tmp is the only writable directory in Lambda", settings["STATE_FILE"])
	}
}

// statement is one IAM policy statement, evaluated.
type statement struct {
	Policy    string
	Actions   []string
	Resources []string
	Condition any
}

// statements lists the role's statements, failing on any the checks below
// cannot read.
func statements(t *testing.T, tmpl map[string]any, params map[string]string) []statement {
	t.Helper()
	role := resource(t, tmpl, params, "Role", "AWS::IAM::Role")
	var out []statement
	policies, _ := role["Policies"].([]any)
	for _, p := range policies {
		name := fmt.Sprint(get(p, "PolicyName"))
		sts, _ := get(p, "PolicyDocument", "Statement").([]any)
		for _, s := range sts {
			if get(s, "Effect") != "Allow" {
				t.Fatalf("policy %s: a statement that is not Allow: %v", name, s)
			}
			out = append(out, statement{
				Policy:    name,
				Actions:   strs(get(s, "Action")),
				Resources: strs(get(s, "Resource")),
				Condition: get(s, "Condition"),
			})
		}
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

// allowed is every action the function may be given, and what it is for.
var allowed = map[string]string{
	"logs:CreateLogStream":          "its own log group",
	"logs:PutLogEvents":             "its own log group",
	"ssm:GetParameter":              "ssm: references",
	"secretsmanager:GetSecretValue": "secretsmanager: references",
	"s3:GetObject":                  "TARGETS_FILE=s3://…",
	"kms:Decrypt":                   "customer-managed keys of those",
}

// leastPrivilege returns every statement that grants an action not in
// allowed, an action or resource with a wildcard for everything, or a
// resource that is empty.
func leastPrivilege(sts []statement) []string {
	var problems []string
	for _, s := range sts {
		for _, a := range s.Actions {
			if _, ok := allowed[a]; !ok {
				problems = append(problems, fmt.Sprintf("policy %s grants %s", s.Policy, a))
			}
		}
		if len(s.Resources) == 0 {
			problems = append(problems, fmt.Sprintf("policy %s names no resource", s.Policy))
		}
		for _, r := range s.Resources {
			if r == "*" || r == "" || strings.HasSuffix(r, ":*:*") || strings.HasSuffix(r, ":parameter") || strings.HasSuffix(r, ":::") {
				problems = append(problems, fmt.Sprintf("policy %s: resource %q is not one named thing", s.Policy, r))
			}
		}
	}
	return problems
}

func TestTheRoleHasLeastPrivilege(t *testing.T) {
	tmpl := template(t)
	all := map[string]string{
		"SSMParameterNames": "/pingpanda/redis-url,/pingpanda/slack",
		"SecretArns":        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pingpanda-AbCdEf",
		"KmsKeyArn":         "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"TargetsFile":       "s3://pingpanda-config/targets.yaml",
	}
	logs := statement{"logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{"getatt:LogGroup.Arn"}, nil}
	ssm := statement{"ssm-parameters", []string{"ssm:GetParameter"}, []string{
		"arn:aws:ssm:eu-west-1:123456789012:parameter/pingpanda/redis-url",
		"arn:aws:ssm:eu-west-1:123456789012:parameter/pingpanda/slack",
	}, nil}
	secrets := statement{"secrets", []string{"secretsmanager:GetSecretValue"}, []string{all["SecretArns"]}, nil}
	s3 := statement{"targets-object", []string{"s3:GetObject"}, []string{"arn:aws:s3:::pingpanda-config/targets.yaml"}, nil}
	kms := statement{"kms-decrypt", []string{"kms:Decrypt"}, []string{all["KmsKeyArn"]}, map[string]any{
		"StringEquals": map[string]any{"kms:ViaService": []any{
			"ssm.eu-west-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com",
		}},
	}}
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   []statement
	}{
		{"with every parameter empty, only the log group", nil, []statement{logs}},
		{"with SSM parameters named, only those", map[string]string{"SSMParameterNames": all["SSMParameterNames"]}, []statement{logs, ssm}},
		{"with a secret named, only that", map[string]string{"SecretArns": all["SecretArns"]}, []statement{logs, secrets}},
		{"with an s3:// targets file, only that object", map[string]string{"TargetsFile": all["TargetsFile"]}, []statement{logs, s3}},
		{"with an ssm: targets file, no S3 at all", map[string]string{"TargetsFile": "ssm:/pingpanda/targets"}, []statement{logs}},
		{"with a local targets file, no S3 at all", map[string]string{"TargetsFile": "/var/task/targets.yaml"}, []statement{logs}},
		{"with a KMS key, decrypting through those services only", map[string]string{"KmsKeyArn": all["KmsKeyArn"]}, []statement{logs, kms}},
		{"with everything", all, []statement{logs, ssm, secrets, s3, kms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := statements(t, tmpl, tc.params)
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Errorf("statements\n got %+v\nwant %+v", got, tc.want)
			}
			for _, p := range leastPrivilege(got) {
				t.Error(p)
			}
		})
	}
}

// TestTheLeastPrivilegeCheckCanFail breaks the template's policies and
// requires the check to notice.
func TestTheLeastPrivilegeCheckCanFail(t *testing.T) {
	orig := pingpandatest.ReadFile(t, "template.yaml")
	params := map[string]string{"SecretArns": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"}
	for _, tc := range []struct{ name, old, new string }{
		{"any resource", "Resource: !Ref SecretArns", `Resource: "*"`},
		{"a wildcard action", "Action: secretsmanager:GetSecretValue", `Action: "secretsmanager:*"`},
		{"another action", "- logs:PutLogEvents", "- logs:PutLogEvents\n                  - logs:DeleteLogGroup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(tc.old)) {
				t.Fatalf("template.yaml no longer contains %q; update this case", tc.old)
			}
			tmpl := parse(t, bytes.Replace(orig, []byte(tc.old), []byte(tc.new), 1))
			if p := leastPrivilege(statements(t, tmpl, params)); len(p) == 0 {
				t.Error("the check found nothing wrong")
			}
		})
	}
}

func TestEveryParameterIsUsed(t *testing.T) {
	raw := string(pingpandatest.ReadFile(t, "template.yaml"))
	tmpl := template(t)
	params, _ := tmpl["Parameters"].(map[string]any)
	var names []string
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		uses := strings.Count(raw, "!Ref "+name) + strings.Count(raw, "${"+name+"}")
		if uses == 0 {
			t.Errorf("parameter %s is never used", name)
		}
	}
	for _, name := range []string{"Schedule", "Domains", "PingTargets", "Websites", "SSLDomains", "RedisURL", "TimeoutSeconds"} {
		if _, ok := params[name]; !ok {
			t.Errorf("parameter %s is gone: an existing stack's parameters must keep working", name)
		}
	}
	for _, name := range []string{"RedisURL", "PushgatewayURL", "SlackWebhookURL", "TeamsWebhookURL", "DiscordWebhookURL"} {
		if get(params, name, "NoEcho") != true {
			t.Errorf("parameter %s is a secret but not NoEcho", name)
		}
	}
}

// TestTheREADMEListsEveryParameter keeps the README's parameter table of the
// Lambda deployment complete.
func TestTheREADMEListsEveryParameter(t *testing.T) {
	readme := string(pingpandatest.ReadFile(t, "README.md"))
	params, _ := template(t)["Parameters"].(map[string]any)
	for name := range params {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("the README does not describe template.yaml's parameter %s", name)
		}
	}
}
