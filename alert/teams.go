package alert

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
)

// TeamsOptions configures a Microsoft Teams webhook.
type TeamsOptions struct {
	// Name is the channel's name; "" is "teams".
	Name string
	// URL is a Power Automate Workflows webhook (an Adaptive Card is sent)
	// or a legacy Office 365 connector URL, *.webhook.office.com or
	// outlook.office.com/webhook/… (a MessageCard is sent). It is a secret.
	URL    string
	Client HTTPDoer // nil: an http.Client with a 30 s timeout
}

// Teams posts to a Microsoft Teams webhook, in the card format its URL
// calls for.
type Teams struct {
	opts   TeamsOptions
	client HTTPDoer
	legacy bool
}

var _ Notifier = (*Teams)(nil)

// NewTeams returns a Teams notifier.
func NewTeams(o TeamsOptions) *Teams {
	return &Teams{opts: o, client: defaultClient(o.Client), legacy: isLegacyTeamsURL(o.URL)}
}

// Name is the channel's name, "teams" by default.
func (t *Teams) Name() string {
	if t.opts.Name != "" {
		return t.opts.Name
	}
	return "teams"
}

// isLegacyTeamsURL reports whether rawURL is an Office 365 connector
// webhook, which takes MessageCards; Workflows webhooks (Power Automate,
// Logic Apps) take Adaptive Cards.
func isLegacyTeamsURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case strings.HasSuffix(host, ".webhook.office.com"):
		return true
	case host == "outlook.office.com" || host == "outlook.office365.com":
		return strings.Contains(u.Path, "/webhook/") || strings.HasPrefix(u.Path, "/webhookb2/")
	}
	return false
}

// Colours, as hex RGB without '#', for MessageCard themeColor; the same as
// Discord's.
var teamsThemeColor = map[Severity]string{
	SeverityGood:    "00FF00",
	SeverityDanger:  "FF0000",
	SeverityWarning: "FFA500",
}

// Adaptive Card TextBlock colours.
var adaptiveColor = map[Severity]string{
	SeverityGood:    "Good",
	SeverityDanger:  "Attention",
	SeverityWarning: "Warning",
}

type teamsNameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type messageCard struct {
	Type       string               `json:"@type"`
	Context    string               `json:"@context"`
	ThemeColor string               `json:"themeColor"`
	Summary    string               `json:"summary"`
	Title      string               `json:"title"`
	Sections   []messageCardSection `json:"sections"`
}

type messageCardSection struct {
	ActivityTitle string           `json:"activityTitle"`
	Facts         []teamsNameValue `json:"facts"`
	Markdown      bool             `json:"markdown"`
}

type adaptiveEnvelope struct {
	Type        string               `json:"type"`
	Attachments []adaptiveAttachment `json:"attachments"`
}

type adaptiveAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema  string          `json:"$schema"`
	Type    string          `json:"type"`
	Version string          `json:"version"`
	MSTeams *adaptiveTeams  `json:"msteams,omitempty"`
	Body    []adaptiveBlock `json:"body"`
}

type adaptiveTeams struct {
	Width string `json:"width"`
}

// adaptiveBlock is a TextBlock or a FactSet.
type adaptiveBlock struct {
	Type   string         `json:"type"`
	Text   string         `json:"text,omitempty"`
	Weight string         `json:"weight,omitempty"`
	Size   string         `json:"size,omitempty"`
	Color  string         `json:"color,omitempty"`
	Wrap   bool           `json:"wrap,omitempty"`
	Facts  []adaptiveFact `json:"facts,omitempty"`
}

type adaptiveFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// buildRequestBody is the JSON Teams is sent for m: a MessageCard for a
// legacy connector URL, an Adaptive Card in a message envelope otherwise.
func (t *Teams) buildRequestBody(m Message) ([]byte, error) {
	if t.legacy {
		return buildMessageCard(m)
	}
	return buildAdaptiveCard(m)
}

func buildMessageCard(m Message) ([]byte, error) {
	facts := make([]teamsNameValue, len(m.Facts))
	for i, f := range m.Facts {
		facts[i] = teamsNameValue(f)
	}
	return json.Marshal(messageCard{
		Type:       "MessageCard",
		Context:    "https://schema.org/extensions",
		ThemeColor: teamsThemeColor[m.Severity],
		Summary:    m.Title,
		Title:      m.Title,
		Sections:   []messageCardSection{{ActivityTitle: m.Status, Facts: facts}},
	})
}

func buildAdaptiveCard(m Message) ([]byte, error) {
	facts := make([]adaptiveFact, len(m.Facts))
	for i, f := range m.Facts {
		facts[i] = adaptiveFact{f.Name, f.Value}
	}
	return json.Marshal(adaptiveEnvelope{
		Type: "message",
		Attachments: []adaptiveAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: adaptiveCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				MSTeams: &adaptiveTeams{Width: "Full"},
				Body: []adaptiveBlock{
					{Type: "TextBlock", Text: m.Title, Weight: "Bolder", Size: "Medium", Color: adaptiveColor[m.Severity], Wrap: true},
					{Type: "FactSet", Facts: facts},
				},
			},
		}},
	})
}

// Send makes one attempt to post m.
func (t *Teams) Send(ctx context.Context, m Message) error {
	body, err := t.buildRequestBody(m)
	if err != nil {
		return &SendError{Provider: t.Name(), Err: errEncode(err)}
	}
	return named(t.Name(), post(ctx, t.client, t.opts.URL, body))
}
