package config

// Providers names the alert providers that are configured (their webhook
// URL is set), in the order notifiers are built: slack, teams, discord.
func (a Alerts) Providers() []string {
	var out []string
	for _, p := range []struct{ name, url string }{{"slack", a.SlackURL}, {"teams", a.TeamsURL}, {"discord", a.DiscordURL}} {
		if p.url != "" {
			out = append(out, p.name)
		}
	}
	return out
}

// WebhookKey is the setting that holds a provider's webhook URL,
// "SLACK_WEBHOOK_URL", for messages that say what to fix; "" for a
// provider it does not know.
func WebhookKey(provider string) string {
	switch provider {
	case "slack":
		return "SLACK_WEBHOOK_URL"
	case "teams":
		return "TEAMS_WEBHOOK_URL"
	case "discord":
		return "DISCORD_WEBHOOK_URL"
	}
	return ""
}
