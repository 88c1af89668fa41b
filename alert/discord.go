package alert

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"time"
)

// DiscordOptions configures a Discord webhook.
type DiscordOptions struct {
	// Name is the channel's name; "" is "discord".
	Name      string
	URL       string // https://discord.com/api/webhooks/<id>/<token> (a secret)
	Username  string // overrides the webhook's name when set
	AvatarURL string // overrides the webhook's avatar when set
	Client    HTTPDoer
}

// Discord posts one embed per message to a Discord webhook.
type Discord struct {
	opts    DiscordOptions
	client  HTTPDoer
	postURL string // opts.URL with wait=true, or "" if it does not parse
}

var _ Notifier = (*Discord)(nil)

// NewDiscord returns a Discord notifier. It asks Discord to wait for the
// message to be stored (?wait=true) so that a 2xx means delivered; other
// query parameters (thread_id) are kept.
func NewDiscord(o DiscordOptions) *Discord {
	d := &Discord{opts: o, client: defaultClient(o.Client)}
	if u, err := url.Parse(o.URL); err == nil && u.Scheme != "" && u.Host != "" {
		q := u.Query()
		q.Set("wait", "true")
		u.RawQuery = q.Encode()
		d.postURL = u.String()
	}
	return d
}

// Name is the channel's name, "discord" by default.
func (d *Discord) Name() string {
	if d.opts.Name != "" {
		return d.opts.Name
	}
	return "discord"
}

// Embed colours.
var discordColor = map[Severity]int{
	SeverityGood:    0x00FF00,
	SeverityDanger:  0xFF0000,
	SeverityWarning: 0xFFA500,
}

// Discord's limits on an embed's title and description, in characters.
const (
	discordTitleMax       = 256
	discordDescriptionMax = 4096
)

type discordPayload struct {
	Username  string         `json:"username,omitempty"`
	AvatarURL string         `json:"avatar_url,omitempty"`
	Embeds    []discordEmbed `json:"embeds"`
}

type discordEmbed struct {
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Color       int           `json:"color"`
	Timestamp   string        `json:"timestamp"`
	Footer      discordFooter `json:"footer"`
}

type discordFooter struct {
	Text string `json:"text"`
}

// buildRequestBody is the JSON Discord is sent for m: one embed coloured
// by severity.
func (d *Discord) buildRequestBody(m Message) ([]byte, error) {
	return json.Marshal(discordPayload{
		Username:  d.opts.Username,
		AvatarURL: d.opts.AvatarURL,
		Embeds: []discordEmbed{{
			Title:       truncate(m.Title, discordTitleMax),
			Description: truncate(m.Text, discordDescriptionMax),
			Color:       discordColor[m.Severity],
			Timestamp:   m.At.UTC().Format(time.RFC3339),
			Footer:      discordFooter{Text: "PingPanda"},
		}},
	})
}

// Send makes one attempt to post m. On 429 the JSON body's retry_after
// (seconds, fractional) is reported in the *SendError, or failing that the
// Retry-After header.
func (d *Discord) Send(ctx context.Context, m Message) error {
	if d.postURL == "" {
		return &SendError{Provider: d.Name(), Err: errInvalidURL}
	}
	body, err := d.buildRequestBody(m)
	if err != nil {
		return &SendError{Provider: d.Name(), Err: errEncode(err)}
	}
	err = named(d.Name(), post(ctx, d.client, d.postURL, body))
	var se *SendError
	if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
		var rl struct {
			RetryAfter *float64 `json:"retry_after"`
		}
		if json.Unmarshal([]byte(se.Body), &rl) == nil && rl.RetryAfter != nil &&
			!math.IsNaN(*rl.RetryAfter) && *rl.RetryAfter > 0 {
			se.RetryAfter = time.Duration(min(*rl.RetryAfter, 24*60*60) * float64(time.Second))
		}
	}
	return err
}
