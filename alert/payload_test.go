package alert

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/alert")

// goldenDir holds the expected payloads, one file per provider and kind.
const goldenDir = "../testdata/alert"

// payloadBuilders are the payload formats, by golden-file prefix.
var payloadBuilders = []struct {
	name  string
	build func(Message) ([]byte, error)
}{
	{"slack", NewSlack(SlackOptions{
		URL: "https://hooks.slack.com/services/T000/B000/XXXX", Channel: "#alerts", Username: "PingPanda", IconEmoji: ":panda_face:",
	}).buildRequestBody},
	{"teams-workflows", NewTeams(TeamsOptions{
		URL: "https://prod-00.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=XXXX",
	}).buildRequestBody},
	{"teams-legacy", NewTeams(TeamsOptions{
		URL: "https://contoso.webhook.office.com/webhookb2/aaaa@bbbb/IncomingWebhook/cccc/dddd",
	}).buildRequestBody},
	{"discord", NewDiscord(DiscordOptions{
		URL: "https://discord.com/api/webhooks/123/XXXX", Username: "PingPanda", AvatarURL: "https://example.com/pingpanda.png",
	}).buildRequestBody},
	{"pagerduty", routed(NewPagerDuty(PagerDutyOptions{RoutingKey: "R0UT1NGKEY0000000000000000000000"}).buildRequestBody)},
	{"webhook", routed(NewWebhook(WebhookOptions{URL: "https://hooks.example.com/pp", Secret: "XXXX"}).buildRequestBody)},
	{"alertmanager", func(m Message) ([]byte, error) {
		// The monitor's group and labels, one of them trying to replace
		// a label of PingPanda's and two that are no label names.
		m.Event.Group = "shop"
		m.Event.Labels = map[string]string{"severity": "page", "team-name": "web", "target": "not this", "9lives": "cat", "empty": ""}
		return NewAlertmanager(AlertmanagerOptions{URLs: []string{"http://alertmanager:9093"}}).buildRequestBody([]Message{m})
	}},
}

// routed gives the message, before build sees it, the group and labels
// the sweep sets on an event before routing it, which the structured
// payloads carry.
func routed(build func(Message) ([]byte, error)) func(Message) ([]byte, error) {
	return func(m Message) ([]byte, error) {
		m.Event.Group = "shop"
		m.Event.Labels = map[string]string{"team": "web", "env": "prod"}
		return build(m)
	}
}

func TestPayloadsMatchGoldenFiles(t *testing.T) {
	for _, p := range payloadBuilders {
		for _, kind := range alertKinds {
			name := p.name + "-" + string(kind)
			t.Run(p.name+" formats "+string(kind)+" as in "+name+".json", func(t *testing.T) {
				body, err := p.build(NewMessage(testEvent(kind), "prober-1"))
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := json.Indent(&got, body, "", "  "); err != nil {
					t.Fatalf("payload is not JSON: %v\n%s", err, body)
				}
				got.WriteByte('\n')
				path := filepath.Join(goldenDir, name+".json")
				if *update {
					if err := os.MkdirAll(goldenDir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./alert -run Golden -update to create it)", err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("payload differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got.Bytes(), want)
				}
			})
		}
	}
}
