package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

func TestStatusChannelsReadTheOutbox(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	entry := func(id string, minute int, lastError string, pending ...string) state.OutboxEntry {
		return state.OutboxEntry{Event: state.Event{ID: id}, Pending: pending, LastError: lastError, QueuedAt: t0.Add(time.Duration(minute) * time.Minute)}
	}
	slackBroken := &BrokenChannel{HTTPStatus: 404, Reason: "the Slack webhook answered HTTP 404: the webhook was deleted or its URL is wrong", Fix: "SLACK_WEBHOOK_URL"}
	tests := []struct {
		name       string
		configured []string
		outbox     []state.OutboxEntry
		want       []StatusChannel
	}{
		{"an empty outbox lists the configured providers with nothing pending", []string{"slack", "discord"}, nil,
			[]StatusChannel{{Provider: "slack", Configured: true}, {Provider: "discord", Configured: true}}},
		{"a 404 on the oldest alert is a broken channel, whatever the later ones say", []string{"slack"}, []state.OutboxEntry{
			entry("e1", 0, "slack: webhook answered HTTP 404 Not Found: \"no_service\"", "slack"),
			entry("e2", 1, "", "slack"),
		}, []StatusChannel{{Provider: "slack", Configured: true, Pending: 2, OldestQueuedAt: "2026-11-24T03:00:00Z",
			LastError: "slack: webhook answered HTTP 404 Not Found: \"no_service\"", Broken: slackBroken}}},
		{"each provider reads its own part of a joined error", []string{"slack", "discord"}, []state.OutboxEntry{
			entry("e1", 0, "slack: webhook answered HTTP 404 Not Found; after 3 attempts: discord: webhook answered HTTP 503 Service Unavailable", "discord", "slack"),
		}, []StatusChannel{
			{Provider: "slack", Configured: true, Pending: 1, OldestQueuedAt: "2026-11-24T03:00:00Z", LastError: "slack: webhook answered HTTP 404 Not Found", Broken: slackBroken},
			{Provider: "discord", Configured: true, Pending: 1, OldestQueuedAt: "2026-11-24T03:00:00Z", LastError: "after 3 attempts: discord: webhook answered HTTP 503 Service Unavailable"},
		}},
		{"a provider no longer configured comes last", []string{"teams"}, []state.OutboxEntry{
			entry("e1", 0, "", "slack"),
		}, []StatusChannel{{Provider: "teams", Configured: true}, {Provider: "slack", Pending: 1, OldestQueuedAt: "2026-11-24T03:00:00Z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StatusChannels(tt.configured, tt.outbox); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("StatusChannels =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
