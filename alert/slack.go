package alert

import (
	"context"
	"encoding/json"
	"strings"
)

// SlackOptions configures a Slack incoming webhook.
type SlackOptions struct {
	// Name is the channel's name; "" is "slack".
	Name string
	URL  string // https://hooks.slack.com/services/T…/B…/… (a secret)
	// Channel, Username and IconEmoji override the webhook's defaults when
	// set. Webhooks created for a Slack app ignore them.
	Channel   string
	Username  string
	IconEmoji string
	Client    HTTPDoer // nil: an http.Client with a 30 s timeout
}

// Slack posts to a Slack incoming webhook.
type Slack struct {
	opts   SlackOptions
	client HTTPDoer
}

var _ Notifier = (*Slack)(nil)

// NewSlack returns a Slack notifier.
func NewSlack(o SlackOptions) *Slack {
	return &Slack{opts: o, client: defaultClient(o.Client)}
}

// Name is the channel's name, "slack" by default.
func (s *Slack) Name() string {
	if s.opts.Name != "" {
		return s.opts.Name
	}
	return "slack"
}

type slackPayload struct {
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	IconEmoji   string            `json:"icon_emoji,omitempty"`
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback string `json:"fallback"`
	Color    string `json:"color"`
	Text     string `json:"text"`
	Footer   string `json:"footer"`
	Ts       int64  `json:"ts"`
}

// slackEscaper escapes the three characters Slack reserves for its own
// markup (<@user>, <url|label>), so that error texts and URLs show as
// written.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// buildRequestBody is the JSON Slack is sent for m: the title as text and
// one attachment coloured by severity carrying the body.
func (s *Slack) buildRequestBody(m Message) ([]byte, error) {
	return json.Marshal(slackPayload{
		Channel:   s.opts.Channel,
		Username:  s.opts.Username,
		IconEmoji: s.opts.IconEmoji,
		Text:      slackEscaper.Replace(m.Title),
		Attachments: []slackAttachment{{
			Fallback: slackEscaper.Replace(m.Title),
			Color:    string(m.Severity),
			Text:     slackEscaper.Replace(m.Text),
			Footer:   "PingPanda",
			Ts:       m.At.Unix(),
		}},
	})
}

// Send makes one attempt to post m. A 429's Retry-After header (seconds)
// is reported in the *SendError.
func (s *Slack) Send(ctx context.Context, m Message) error {
	body, err := s.buildRequestBody(m)
	if err != nil {
		return &SendError{Provider: s.Name(), Err: errEncode(err)}
	}
	return named(s.Name(), post(ctx, s.client, s.opts.URL, body))
}
