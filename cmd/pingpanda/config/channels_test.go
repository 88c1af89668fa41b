package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

// routingEnv holds the secrets monitors-routing.yaml names.
var routingEnv = []string{"PD_KEY=pd-routing-key-0123456789abcdef", "SLACK_WEB_URL=https://hooks.slack.com/services/T0/B0/slack-secret",
	"HOOK_SECRET=hook-hmac-secret", "SMTP_PASSWORD=smtp-pass-secret"}

func TestRoutingFromTheMonitorsFile(t *testing.T) {
	path := filepath.Join(testdataDir, "config", "monitors-routing.yaml")
	cfg, warns, err := loadMonitors(path, false, append(routingEnv, "TEAMS_WEBHOOK_URL=https://contoso.webhook.office.com/webhookb2/x")...)
	if err != nil {
		t.Fatal(err)
	}
	r := &cfg.Routing
	if got := strings.Join(r.ChannelNames(), ","); got != "teams,pager,am,web,hook,mail" {
		t.Errorf("channels %s", got)
	}
	if c := r.Channel("pager"); c.RoutingKey != "pd-routing-key-0123456789abcdef" || c.URL != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("pager: %+v", c)
	}
	if c := r.Channel("am"); strings.Join(c.URLs, " ") != "http://127.0.0.1:9093 http://127.0.0.1:9094" {
		t.Errorf("am urls %v", c.URLs)
	}
	if c := r.Channel("mail"); c.SMTP != "smtp://pp:smtp-pass-secret@mail.example.com:587" || c.From != "pp@example.com" || strings.Join(c.To, ",") != "ops@example.com" {
		t.Errorf("mail: %+v", c)
	}
	if !strings.Contains(strings.Join(warns, "\n"), "channel teams: no route names it") {
		t.Errorf("no warning that the teams channel receives nothing: %q", warns)
	}
	if len(r.Maintenance) != 1 || r.Maintenance[0].Location.String() != "Europe/Berlin" {
		t.Fatalf("maintenance %+v", r.Maintenance)
	}
	byName := map[string]MonitorRoutes{}
	for _, m := range Routes(cfg, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)).Monitors {
		byName[m.Name] = m
	}
	where := func(name string, kind state.Kind) string {
		for _, kr := range byName[name].Routes {
			for _, k := range kr.Kinds {
				if k == string(kind) {
					return strings.Join(kr.Channels, ",")
				}
			}
		}
		return "?"
	}
	cases := []struct {
		monitor string
		kind    state.Kind
		want    string
	}{
		{"shop-api", state.KindDown, "pager,am,web"},
		{"shop-cert", state.KindCertWarning, "mail"},
		{"shop-cert", state.KindDown, "web,hook"},
		{"zone", state.KindDown, ""},
		{"blog", state.KindRecovered, "web,hook"},
	}
	for _, c := range cases {
		if got := where(c.monitor, c.kind); got != c.want {
			t.Errorf("%s %s → %q, want %q", c.monitor, c.kind, got, c.want)
		}
	}
	var out strings.Builder
	if err := PrintRoutes(&out, cfg, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pager", "pagerduty", "routing_key=${PD_KEY}", "→ pager, am, web", "next 2031-01-05T01:00:00Z", "→ nowhere"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config --routes lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"pd-routing-key", "slack-secret", "hook-hmac-secret", "smtp-pass-secret", "webhookb2"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("config --routes shows the secret %q:\n%s", secret, out.String())
		}
	}
}

func TestEnvironmentWebhooksAreTheDefaultRoute(t *testing.T) {
	cfg, _, err := loadConfig(Sources{Environ: []string{"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/x",
		"DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/1/x"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &cfg.Routing
	if got := strings.Join(r.ChannelNames(), ","); got != "slack,discord" {
		t.Errorf("channels %q", got)
	}
	if r.Routed || len(r.Table.Routes) != 1 || strings.Join(r.Table.Routes[0].Channels, ",") != "slack,discord" || !r.Table.Routes[0].Match.Empty() {
		t.Errorf("table %+v", r.Table)
	}
}

func TestRoutingProblemsNameTheLineAndField(t *testing.T) {
	const mon = "monitors: [{check: dns, target: x.test}]\n"
	cases := []struct {
		name, in string
		env      []string
		want     []string
	}{
		{"an unknown provider", "channels: {p: {type: pagerdutty, routing_key: k}}\n" + mon,
			nil, []string{"m.yaml:1: channel p: type: \"pagerdutty\" is not a provider; did you mean pagerduty?"}},
		{"a missing required field", "channels:\n  p: {type: pagerduty}\n" + mon,
			nil, []string{"m.yaml:2: channel p: routing_key: required for a pagerduty channel"}},
		{"a field of another provider", "channels:\n  s: {type: slack, url: \"https://hooks.slack.com/x\", routing_key: k}\n" + mon,
			nil, []string{"m.yaml:2: channel s: routing_key: unknown field"}},
		{"an alertmanager without url", "channels:\n  a: {type: alertmanager}\n" + mon,
			nil, []string{"channel a: url: an alertmanager channel needs url or urls"}},
		{"cleartext to another host", "channels:\n  h: {type: webhook, url: \"http://hooks.example.com/x?token=abc\"}\n" + mon,
			nil, []string{"m.yaml:2: channel h: url: http:// to a host other than loopback"}},
		{"a bad mail address", "channels:\n  m: {type: email, smtp: \"smtp://mail.test:587\", from: nobody, to: [ops@example.com]}\n" + mon,
			nil, []string{"channel m: from: \"nobody\": not a mail address"}},
		{"tls=none to another host", "channels:\n  m: {type: email, smtp: \"smtp://u:hunter2@mail.test?tls=none\", from: a@b.c, to: a@b.c}\n" + mon,
			nil, []string{"channel m: smtp:", "tls=none is only for a relay on this machine"}},
		{"a bad smtp scheme", "channels:\n  m: {type: email, smtp: \"imap://mail.test\", from: a@b.c, to: a@b.c}\n" + mon,
			nil, []string{"channel m: smtp: \"imap://mail.test\": the scheme is smtp:// (STARTTLS) or smtps://"}},
		{"an unset variable", "channels:\n  s: {type: slack, url: \"${NOPE}\"}\n" + mon,
			nil, []string{"m.yaml:2: channel s: url: ${NOPE}: NOPE is not set in the environment"}},
		{"a route to no channel", "channels: {web: {type: webhook, url: \"https://h.test/x\"}}\nroutes:\n  - channels: [wbe]\n" + mon,
			nil, []string{"m.yaml:3: route 1: channels: no channel is named \"wbe\"; did you mean web?"}},
		{"a route to an env channel not set", "channels: {web: {type: webhook, url: \"https://h.test/x\"}}\nroutes:\n  - channels: [web, slack]\n" + mon,
			nil, []string{"no channel is named \"slack\" (SLACK_WEBHOOK_URL is not set)"}},
		{"a route without channels", "routes:\n  - match: {check: dns}\n" + mon,
			nil, []string{"m.yaml:2: route 1: channels: required"}},
		{"an unknown kind", "routes:\n  - {match: {kinds: [dwon]}, channels: []}\n" + mon,
			nil, []string{"m.yaml:2: route 1: match.kinds: \"dwon\" is not an event kind"}},
		{"an unknown group", "groups: [{name: shop, monitors: [{check: dns, target: y.test}]}]\nroutes:\n  - {match: {group: shpo}, channels: []}\n" + mon,
			nil, []string{"m.yaml:3: route 1: match.group: no group is named \"shpo\"; did you mean shop?"}},
		{"an unknown match field", "routes:\n  - {match: {lables: {a: b}}, channels: []}\n" + mon,
			nil, []string{"m.yaml:2: route 1: match.lables: unknown field; did you mean match.labels?"}},
		{"a channel named like an env one", "channels: {slack: {type: webhook, url: \"https://h.test/x\"}}\n" + mon,
			[]string{"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/x"}, []string{"channel slack: the name is the channel of SLACK_WEBHOOK_URL"}},
		{"a bad schedule", "maintenance:\n  - {schedule: \"0 2 * *\", duration: 2h}\n" + mon,
			nil, []string{"m.yaml:2: maintenance 1: schedule \"0 2 * *\""}},
		{"a duration without unit", "maintenance:\n  - {schedule: \"0 2 * * SUN\", duration: 2}\n" + mon,
			nil, []string{"m.yaml:2: maintenance 1: duration:"}},
		{"a bad time zone", "maintenance:\n  - {schedule: \"0 2 * * SUN\", duration: 2h, timezone: Europe/Berln}\n" + mon,
			nil, []string{"maintenance 1: timezone \"Europe/Berln\": not an IANA time zone"}},
		{"kinds in a window", "maintenance:\n  - {match: {kinds: [down]}, schedule: \"@daily\", duration: 1h}\n" + mon,
			nil, []string{"m.yaml:2: maintenance 1: match.kinds: a maintenance window holds every kind of event"}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "m.yaml")
			if err := os.WriteFile(path, []byte(c.in), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := loadMonitors(path, false, c.env...)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := strings.ReplaceAll(err.Error(), path, "m.yaml")
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("problems lack %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "token=abc") || strings.Contains(msg, "hunter2") {
				t.Errorf("a problem quotes the URL's token:\n%s", msg)
			}
		})
	}
}
