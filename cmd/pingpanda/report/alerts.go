package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
)

// Alerts is the report's account of alert delivery.
type Alerts struct {
	Delivered int `json:"delivered"`
	Pending   int `json:"pending"`
	Dropped   int `json:"dropped"`
	// Rejected counts the messages a provider refused for good (HTTP 400,
	// 413, 422), dropped from the outbox for that provider.
	Rejected int `json:"rejected"`
	// Held counts this sweep's alerts a silence or maintenance window
	// holds until it ends; Withheld those it never announces (an
	// incident that began and ended inside it, a reminder); Unrouted
	// those no route sends anywhere.
	Held     int `json:"held,omitempty"`
	Withheld int `json:"withheld,omitempty"`
	Unrouted int `json:"unrouted,omitempty"`
	// ChannelsBroken names, sorted, the providers whose webhook answered
	// that it is broken (HTTP 401, 403, 404, 410); their alerts stay in
	// the outbox. Providers[name].Broken says what to fix.
	ChannelsBroken []string                  `json:"channels_broken,omitempty"`
	Providers      map[string]*ProviderTally `json:"providers,omitempty"`
}

type ProviderTally struct {
	Delivered int `json:"delivered"`
	Pending   int `json:"pending"`
	Dropped   int `json:"dropped"`
	Rejected  int `json:"rejected"`
	// Broken is set when the channel is broken.
	Broken *BrokenChannel `json:"broken,omitempty"`
}

// BrokenChannel says why an alert channel is broken and what to fix. It
// never holds the webhook URL.
type BrokenChannel struct {
	// HTTPStatus is the webhook's answer; 0 for a URL that does not parse.
	HTTPStatus int `json:"http_status,omitempty"`
	// Reason is what the answer means: "the Slack webhook answered HTTP
	// 404: the webhook was deleted or its URL is wrong".
	Reason string `json:"reason"`
	// Fix names the setting to correct: "SLACK_WEBHOOK_URL".
	Fix string `json:"fix,omitempty"`
}

// NewBrokenChannel describes the failure that showed a channel broken
// (alert.ErrChannelBroken).
func NewBrokenChannel(se *alert.SendError) *BrokenChannel {
	return &BrokenChannel{HTTPStatus: se.Status, Reason: se.Diagnosis(), Fix: config.WebhookKey(se.Provider)}
}

// String is the reason and the fix in one sentence.
func (b *BrokenChannel) String() string {
	if b.Fix == "" {
		return b.Reason
	}
	return b.Reason + "; fix " + b.Fix
}

func (a *Alerts) Tally(provider string) *ProviderTally {
	if a.Providers == nil {
		a.Providers = map[string]*ProviderTally{}
	}
	if a.Providers[provider] == nil {
		a.Providers[provider] = &ProviderTally{}
	}
	return a.Providers[provider]
}

// Broke records that provider's channel is broken, as se shows.
func (a *Alerts) Broke(provider string, se *alert.SendError) {
	a.Tally(provider).Broken = NewBrokenChannel(se)
	if !slices.Contains(a.ChannelsBroken, provider) {
		a.ChannelsBroken = append(a.ChannelsBroken, provider)
		sort.Strings(a.ChannelsBroken)
	}
}

// writeProblems prints, for the table, a line per broken channel and per
// provider that rejected messages.
func (a *Alerts) writeProblems(w io.Writer) error {
	var errs []error
	for _, p := range a.ChannelsBroken {
		t := a.Tally(p)
		_, err := fmt.Fprintf(w, "\nALERT CHANNEL BROKEN: %s; %d %s %s in the outbox\n", t.Broken, t.Pending,
			Plural(t.Pending, "alert", "alerts"), Plural(t.Pending, "waits", "wait"))
		errs = append(errs, err)
	}
	names := make([]string, 0, len(a.Providers))
	for p := range a.Providers {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if n := a.Providers[p].Rejected; n > 0 {
			_, err := fmt.Fprintf(w, "\n%s refused %d %s for good (HTTP 400, 413 or 422): dropped, see the log\n",
				alert.ProviderTitle(p), n, Plural(n, "alert", "alerts"))
			errs = append(errs, err)
		}
	}
	var notes []string
	if a.Held > 0 {
		notes = append(notes, fmt.Sprintf("%d held by a silence or maintenance until it ends", a.Held))
	}
	if a.Withheld > 0 {
		notes = append(notes, fmt.Sprintf("%d withheld (inside a silence or maintenance)", a.Withheld))
	}
	if a.Unrouted > 0 {
		notes = append(notes, fmt.Sprintf("%d matched no route and went nowhere", a.Unrouted))
	}
	if len(notes) > 0 {
		_, err := fmt.Fprintf(w, "\nalerts: %s\n", strings.Join(notes, "; "))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
