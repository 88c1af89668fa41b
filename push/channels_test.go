package push

import (
	"bytes"
	"strings"
	"testing"
)

func TestAlertChannelMetrics(t *testing.T) {
	t.Run("every configured alert provider gets its rejected count and whether it is broken, zeros included, by name", func(t *testing.T) {
		s := Sweep{At: sweepAt, Channels: []Channel{
			{Provider: "teams"}, {Provider: "slack", Broken: true}, {Provider: "discord", Rejected: 3}, {Provider: "slack", Rejected: 9},
		}}
		want := `# HELP pingpanda_alert_channel_broken Whether the provider's webhook answered in the last sweep that it is broken (1: HTTP 401, 403, 404 or 410; fix its *_WEBHOOK_URL) or not (0); its alerts wait in the outbox.
# TYPE pingpanda_alert_channel_broken gauge
pingpanda_alert_channel_broken{provider="discord"} 0
pingpanda_alert_channel_broken{provider="slack"} 1
pingpanda_alert_channel_broken{provider="teams"} 0
# HELP pingpanda_alerts_rejected Alert messages the provider refused for good in the last sweep (HTTP 400, 413 or 422), dropped from the outbox; see the sweep's error log.
# TYPE pingpanda_alerts_rejected gauge
pingpanda_alerts_rejected{provider="discord"} 3
pingpanda_alerts_rejected{provider="slack"} 0
pingpanda_alerts_rejected{provider="teams"} 0
`
		if got := channelLines(t, s); got != want {
			t.Errorf("WriteText wrote\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("no alert provider, no alert channel series", func(t *testing.T) {
		if got := channelLines(t, Sweep{At: sweepAt}); got != "" {
			t.Errorf("WriteText wrote\n%s\nwant nothing of the alert channels", got)
		}
	})
}

// channelLines are the lines WriteText writes for s's alert channel
// families.
func channelLines(t *testing.T, s Sweep) string {
	t.Helper()
	var text bytes.Buffer
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(text.String(), "\n") {
		if strings.Contains(line, AlertChannelBroken) || strings.Contains(line, AlertsRejected) {
			b.WriteString(line)
		}
	}
	return b.String()
}
