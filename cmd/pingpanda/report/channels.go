package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/state"
)

// StatusChannel is one alert provider's line of `pingpanda status`: what
// the outbox holds for it.
type StatusChannel struct {
	Provider string `json:"provider"`
	// Configured is false for a provider the outbox still names but the
	// configuration no longer has (the next sweep drops its alerts).
	Configured bool `json:"configured"`
	Pending    int  `json:"pending"`
	// OldestQueuedAt is when the oldest alert pending for it was queued.
	OldestQueuedAt string `json:"oldest_queued_at,omitempty"`
	// LastError is the provider's last failure to deliver that alert.
	LastError string `json:"last_error,omitempty"`
	// Broken is set when that failure said the channel itself is broken
	// (HTTP 401, 403, 404, 410): no alert gets through until it is fixed.
	Broken *BrokenChannel `json:"broken,omitempty"`
}

// StatusChannels are the configured providers, in the order given, then
// any other the outbox names, sorted, each with what the outbox (oldest
// first) holds for it. A channel is broken when the last failure of its
// oldest pending alert, the one each sweep tries first, said so.
func StatusChannels(configured []string, outbox []state.OutboxEntry) []StatusChannel {
	byName := map[string]*StatusChannel{}
	order := slices.Clone(configured)
	for _, p := range configured {
		byName[p] = &StatusChannel{Provider: p, Configured: true}
	}
	var others []string
	for _, e := range outbox {
		for _, p := range e.Pending {
			row := byName[p]
			if row == nil {
				row = &StatusChannel{Provider: p}
				byName[p] = row
				others = append(others, p)
			}
			row.Pending++
			if row.Pending == 1 {
				row.OldestQueuedAt = e.QueuedAt.UTC().Format(time.RFC3339)
				row.LastError, row.Broken = providerFailure(e.LastError, p)
			}
		}
	}
	slices.Sort(others)
	rows := make([]StatusChannel, 0, len(order)+len(others))
	for _, p := range append(order, others...) {
		rows = append(rows, *byName[p])
	}
	return rows
}

// failureProvider is the provider a failure names: "slack" of "after 2
// attempts: slack: post: dial tcp ...: connection refused".
func failureProvider(part string) string {
	if _, rest, ok := strings.Cut(part, " attempts: "); ok && strings.HasPrefix(part, "after ") {
		part = rest
	}
	name, _, _ := strings.Cut(part, ": ")
	return name
}

// providerFailure is provider's part of an outbox entry's last error (the
// sweep joins each provider's failure with "; "), and whether it says the
// channel is broken.
func providerFailure(lastError, provider string) (string, *BrokenChannel) {
	for _, part := range strings.Split(lastError, "; ") {
		se := alert.ParseSendError(part)
		if se == nil {
			// Not an HTTP answer (a refused connection, a mail server's
			// 451): the provider's failure all the same.
			if failureProvider(part) == provider {
				return part, nil
			}
			continue
		}
		if se.Provider != provider {
			continue
		}
		if errors.Is(se, alert.ErrChannelBroken) {
			return part, NewBrokenChannel(se)
		}
		return part, nil
	}
	return "", nil
}

// writeChannels prints the alert channels below the status table.
func writeChannels(w io.Writer, channels []StatusChannel) error {
	var errs []error
	for _, c := range channels {
		line := fmt.Sprintf("alerts %s: nothing pending", c.Provider)
		if c.Pending > 0 {
			line = fmt.Sprintf("alerts %s: %d pending since %s", c.Provider, c.Pending, c.OldestQueuedAt)
		}
		switch {
		case c.Broken != nil:
			line += "; CHANNEL BROKEN: " + c.Broken.String()
		case c.LastError != "":
			line += "; last error: " + Truncate(OneLine(c.LastError), 120)
		}
		if !c.Configured {
			line += " [not configured: the next sweep drops them]"
		}
		_, err := fmt.Fprintln(w, line)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
