package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pingpanda/pingpanda/alert"
	"github.com/pingpanda/pingpanda/alert/route"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/probe/secret"
	"github.com/pingpanda/pingpanda/state"
)

// The monitors file's channels:, routes: and maintenance: (SPEC §10):
//
//	channels:
//	  pager: {type: pagerduty, routing_key: "ssm:/pingpanda/pd-key"}
//	  web:   {type: slack, url: "${SLACK_WEB_URL}"}
//	routes:
//	  - match: {labels: {severity: page}}
//	    channels: [pager, web]
//	  - channels: [web]
//	maintenance:
//	  - {match: {group: shop}, schedule: "0 2 * * SUN", duration: 2h, timezone: Europe/Berlin}

// Channel is one channel: an instance of a provider with its settings.
// Secret fields (URL, URLs, RoutingKey, Secret, SMTP) hold resolved
// values; Shown has every field as written, for `pingpanda config`.
type Channel struct {
	Name string
	Type string // slack, teams, discord, pagerduty, alertmanager, webhook, email
	// Where is "monitors.yaml:12", or the environment key of the
	// channels slack, teams and discord.
	Where string

	URL  string
	URLs []string // alertmanager: every URL (URL included)

	// slack and discord
	SlackChannel, Username, IconEmoji, AvatarURL string
	// pagerduty
	RoutingKey, SeverityLabel string
	// webhook
	Secret string
	// email
	SMTP, From string
	To         []string

	// Shown is each field given as written (secrets as references or
	// ${NAME}, never resolved), in the order of channelFields.
	Shown []MonitorField
	// Secrets are the resolved secret values, to scrub from errors.
	Secrets []string
}

// Routing is where events go: the channels, the route table and the
// maintenance windows.
type Routing struct {
	Channels []Channel
	Table    route.Table
	// Routed: the monitors file has routes:; otherwise Table is the
	// default route, every event to every channel.
	Routed      bool
	Maintenance []route.Window
}

// Channel returns the channel named name, or nil.
func (r *Routing) Channel(name string) *Channel {
	for i := range r.Channels {
		if r.Channels[i].Name == name {
			return &r.Channels[i]
		}
	}
	return nil
}

// ChannelNames lists the channels' names, in order.
func (r *Routing) ChannelNames() []string {
	out := make([]string, len(r.Channels))
	for i, c := range r.Channels {
		out[i] = c.Name
	}
	return out
}

// channelTypes are the providers, and for each its fields: required ones
// first (marked), secrets marked.
var channelTypes = map[string][]channelField{
	"slack":        {{name: "url", required: true, secret: true}, {name: "channel"}, {name: "username"}, {name: "icon_emoji"}},
	"teams":        {{name: "url", required: true, secret: true}},
	"discord":      {{name: "url", required: true, secret: true}, {name: "username"}, {name: "avatar_url"}},
	"pagerduty":    {{name: "routing_key", required: true, secret: true}, {name: "url", secret: true}, {name: "severity_label"}},
	"alertmanager": {{name: "url", secret: true}, {name: "urls", list: true, secret: true}},
	"webhook":      {{name: "url", required: true, secret: true}, {name: "secret", secret: true}},
	"email":        {{name: "smtp", required: true, secret: true}, {name: "from", required: true}, {name: "to", required: true, list: true}},
}

type channelField struct {
	name             string
	required, secret bool
	list             bool
}

func channelTypeNames() []string {
	var out []string
	for t := range channelTypes {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// fileRouting is what the monitors file says of routing, before the
// environment's channels join it.
type fileRouting struct {
	channels    []*Channel
	routes      []route.Route
	routed      bool
	maintenance []route.Window
	// channelRefs are the channels each route names, with their lines,
	// checked once the environment's channels are known; groupRefs the
	// groups routes and windows name.
	channelRefs [][]nameAt
	groupRefs   []nameAt
}

type nameAt struct {
	name string
	line int
	ctx  string // "route 2", for a problem
}

// validChannelName: a channel's name is used in logs, metrics and the
// outbox.
func validChannelName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// channelList reads channels:, a mapping of names to channels.
func (p *monitorParser) channelList(n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.problem(n.Line, "channels", "want a mapping of channel names to channels")
		return
	}
	p.eachKey(n, func(k, v *yaml.Node) {
		name := k.Value
		p.ctx = "channel " + name
		defer func() { p.ctx = "" }()
		if !validChannelName(name) {
			p.problem(k.Line, "", "a channel's name is letters, digits, - and _ (at most 64)")
			return
		}
		v = deref(v)
		if v.Kind != yaml.MappingNode {
			p.problem(v.Line, "", "want a mapping with type and the provider's fields")
			return
		}
		c := &Channel{Name: name, Where: fmt.Sprintf("%s:%d", p.path, k.Line)}
		typeNode := lookup(v, "type")
		if typeNode == nil {
			p.problem(v.Line, "type", "required (one of %s)", strings.Join(channelTypeNames(), ", "))
			return
		}
		c.Type = typeNode.Value
		fields, ok := channelTypes[c.Type]
		if !ok {
			if s := closest(c.Type, channelTypeNames()); s != "" {
				p.problem(typeNode.Line, "type", "%q is not a provider; did you mean %s?", c.Type, s)
			} else {
				p.problem(typeNode.Line, "type", "%q is not a provider (want one of %s)", c.Type, strings.Join(channelTypeNames(), ", "))
			}
			return
		}
		given := map[string]bool{}
		p.eachKey(v, func(fk, fv *yaml.Node) {
			if fk.Value == "type" {
				return
			}
			i := slices.IndexFunc(fields, func(f channelField) bool { return f.name == fk.Value })
			if i < 0 {
				names := make([]string, len(fields))
				for j, f := range fields {
					names[j] = f.name
				}
				p.unknown(fk, "", names)
				return
			}
			given[fk.Value] = true
			p.channelField(c, fields[i], deref(fv))
		})
		for _, f := range fields {
			if f.required && !given[f.name] {
				p.problem(v.Line, f.name, "required for a %s channel", c.Type)
			}
		}
		if c.Type == "alertmanager" && !given["url"] && !given["urls"] {
			p.problem(v.Line, "url", "an alertmanager channel needs url or urls")
		}
		p.routing.channels = append(p.routing.channels, c)
	})
}

// channelField reads one field of a channel, with ${NAME} and, for a
// secret, file:, ssm: and secretsmanager: references.
func (p *monitorParser) channelField(c *Channel, f channelField, n *yaml.Node) {
	var raws []*yaml.Node
	if f.list {
		switch n.Kind {
		case yaml.SequenceNode:
			raws = n.Content
		case yaml.ScalarNode:
			raws = []*yaml.Node{n}
		}
		if len(raws) == 0 {
			p.problem(n.Line, f.name, "want a list of values")
			return
		}
	} else {
		raws = []*yaml.Node{n}
	}
	var shown []string
	for i, rn := range raws {
		s, err := scalar(deref(rn))
		if err != nil {
			p.problem(rn.Line, f.name, "%v", err)
			return
		}
		shown = append(shown, s)
		v, subs, err := p.substitute(s)
		if err != nil {
			p.problem(rn.Line, f.name, "%v", err)
			return
		}
		if f.secret {
			c.Secrets = append(c.Secrets, subs...)
		}
		set := func(v string) { c.set(f.name, i, v) }
		if f.secret && p.isRef(v) {
			p.refs = append(p.refs, &pendingRef{ref: strings.TrimSpace(v), where: p.ctx, field: f.name, line: rn.Line, set: func(v string) {
				c.Secrets = append(c.Secrets, v)
				set(v)
			}})
			set("")
			continue
		}
		set(v)
	}
	if f.secret {
		for i, v := range shown {
			if !strings.Contains(v, "${") && !p.isRef(v) {
				// A secret written out literally is still a secret:
				// scrubbed from errors, and never shown.
				c.Secrets = append(c.Secrets, v)
				shown[i] = literalSecretShown(c.Type, v)
			}
		}
	}
	c.Shown = append(c.Shown, MonitorField{Field: f.name, Value: strings.Join(shown, ", "), Source: fmt.Sprintf("%s:%d", p.path, n.Line)})
}

// literalSecretShown is how `pingpanda config` shows a secret written
// out in the file: an Alertmanager URL without its password (nothing else
// of it is secret), another URL by its scheme and host (webhooks carry
// their tokens in the path and query), anything else not at all.
func literalSecretShown(typ, v string) string {
	if typ == "alertmanager" {
		return secret.URL(v)
	}
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" && u.User == nil {
		return u.Scheme + "://" + u.Host + "/… (written in the file; not shown)"
	}
	return "(written in the file; not shown)"
}

// set stores the i-th value of a field.
func (c *Channel) set(field string, i int, v string) {
	switch field {
	case "url":
		c.URL = v
	case "urls":
		for len(c.URLs) <= i {
			c.URLs = append(c.URLs, "")
		}
		c.URLs[i] = v
	case "channel":
		c.SlackChannel = v
	case "username":
		c.Username = v
	case "icon_emoji":
		c.IconEmoji = v
	case "avatar_url":
		c.AvatarURL = v
	case "routing_key":
		c.RoutingKey = v
	case "severity_label":
		c.SeverityLabel = v
	case "secret":
		c.Secret = v
	case "smtp":
		c.SMTP = v
	case "from":
		c.From = v
	case "to":
		for len(c.To) <= i {
			c.To = append(c.To, "")
		}
		c.To[i] = v
	}
}

// matchFields are the fields of a route's match:.
var matchFields = []string{"labels", "group", "check", "target", "kinds"}

// readMatch reads a match: mapping; kinds are allowed in routes only.
func (p *monitorParser) readMatch(n *yaml.Node, withKinds bool) route.Match {
	var m route.Match
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.problem(n.Line, "match", "want a mapping of %s", strings.Join(matchFields, ", "))
		return m
	}
	p.eachKey(n, func(k, v *yaml.Node) {
		v = deref(v)
		field := "match." + k.Value
		switch k.Value {
		case "labels":
			lf, err := p.parseLeaf(fieldIndex["labels"], v)
			if err != nil {
				p.problem(v.Line, field, "%v", err)
				return
			}
			m.Labels = lf.val.(map[string]string)
		case "group":
			s, err := scalar(v)
			if err != nil {
				p.problem(v.Line, field, "%v", err)
				return
			}
			m.Group = s
			p.routing.groupRefs = append(p.routing.groupRefs, nameAt{s, v.Line, p.ctx})
		case "check":
			s, err := scalar(v)
			if err != nil {
				p.problem(v.Line, field, "%v", err)
				return
			}
			if _, err := probe.ParseCheck(s); err != nil {
				p.problem(v.Line, field, "%q is not a check (dns, ping, http, tls or tcp)", s)
				return
			}
			m.Check = strings.ToLower(s)
		case "target":
			s, err := scalar(v)
			if err != nil {
				p.problem(v.Line, field, "%v", err)
				return
			}
			m.Target = s
		case "kinds":
			if !withKinds {
				p.problem(k.Line, field, "a maintenance window holds every kind of event; kinds belong to routes")
				return
			}
			items := v.Content
			if v.Kind == yaml.ScalarNode {
				items = []*yaml.Node{v}
			}
			for _, it := range items {
				s, err := scalar(deref(it))
				if err != nil || !route.ValidKind(s) {
					p.problem(it.Line, field, "%q is not an event kind (want %s)", it.Value, route.KindNames())
					continue
				}
				m.Kinds = append(m.Kinds, state.Kind(s))
			}
		default:
			p.unknown(k, "match.", matchFields)
		}
	})
	return m
}

// routeList reads routes:, in order.
func (p *monitorParser) routeList(n *yaml.Node) {
	n = deref(n)
	p.routing.routed = true
	if n.Kind != yaml.SequenceNode {
		p.problem(n.Line, "routes", "want a list of routes")
		return
	}
	for i, item := range n.Content {
		item = deref(item)
		p.ctx = fmt.Sprintf("route %d", i+1)
		if item.Kind != yaml.MappingNode {
			p.problem(item.Line, "", "want a mapping with match, channels and continue")
			continue
		}
		r := route.Route{Where: fmt.Sprintf("%s:%d", p.path, item.Line)}
		var names []nameAt
		hasChannels := false
		p.eachKey(item, func(k, v *yaml.Node) {
			v = deref(v)
			switch k.Value {
			case "match":
				r.Match = p.readMatch(v, true)
			case "channels":
				hasChannels = true
				items := v.Content
				if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
					items = []*yaml.Node{v}
				}
				for _, it := range items {
					s, err := scalar(deref(it))
					if err != nil {
						p.problem(it.Line, "channels", "%v", err)
						continue
					}
					r.Channels = append(r.Channels, s)
					names = append(names, nameAt{s, it.Line, p.ctx})
				}
			case "continue":
				b, err := parseBool(v.Value)
				if err != nil || v.Kind != yaml.ScalarNode {
					p.problem(v.Line, "continue", "want true or false")
					return
				}
				r.Continue = b
			default:
				p.unknown(k, "", []string{"match", "channels", "continue"})
			}
		})
		if !hasChannels {
			p.problem(item.Line, "channels", "required: the channels this route sends to ([] sends its events nowhere)")
		}
		p.routing.routes = append(p.routing.routes, r)
		p.routing.channelRefs = append(p.routing.channelRefs, names)
	}
	p.ctx = ""
}

// maintenanceList reads maintenance:, its windows.
func (p *monitorParser) maintenanceList(n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.problem(n.Line, "maintenance", "want a list of windows")
		return
	}
	for i, item := range n.Content {
		item = deref(item)
		p.ctx = fmt.Sprintf("maintenance %d", i+1)
		if item.Kind != yaml.MappingNode {
			p.problem(item.Line, "", "want a mapping with match, schedule, duration and timezone")
			continue
		}
		var (
			m                  route.Match
			sched, tz          string
			dur                time.Duration
			schedLine, durLine int
			bad                bool
		)
		p.eachKey(item, func(k, v *yaml.Node) {
			v = deref(v)
			switch k.Value {
			case "match":
				m = p.readMatch(v, false)
			case "schedule", "timezone", "duration":
				s, err := scalar(v)
				if err != nil {
					p.problem(v.Line, k.Value, "%v", err)
					bad = true
					return
				}
				switch k.Value {
				case "schedule":
					sched, schedLine = s, v.Line
				case "timezone":
					tz = s
				case "duration":
					d, err := parseDuration(s)
					if err != nil {
						p.problem(v.Line, "duration", "%v", err)
						bad = true
						return
					}
					dur, durLine = d, v.Line
				}
			default:
				p.unknown(k, "", []string{"match", "schedule", "duration", "timezone"})
			}
		})
		switch {
		case bad:
			continue
		case sched == "":
			p.problem(item.Line, "schedule", "required: 5 cron fields, e.g. \"0 2 * * SUN\"")
			continue
		case durLine == 0:
			p.problem(item.Line, "duration", "required, e.g. 2h")
			continue
		}
		w, err := route.NewWindow(m, sched, dur, tz)
		if err != nil {
			line := schedLine
			if strings.HasPrefix(err.Error(), "duration") {
				line = durLine
			}
			p.problem(line, "", "%v", err)
			continue
		}
		w.Where = fmt.Sprintf("%s:%d", p.path, item.Line)
		p.routing.maintenance = append(p.routing.maintenance, w)
	}
	p.ctx = ""
}

// checkChannelValues checks the channels' values, references resolved:
// URLs without ever quoting them (they hold tokens), addresses.
func (p *monitorParser) checkChannelValues(l *loader) {
	for _, c := range p.routing.channels {
		at := func(field string) string {
			for _, f := range c.Shown {
				if f.Field == field {
					return f.Source
				}
			}
			return c.Where
		}
		bad := func(field, format string, args ...any) {
			p.problems = append(p.problems, fmt.Sprintf("%s: channel %s: %s: %s", at(field), c.Name, field, fmt.Sprintf(format, args...)))
		}
		checkURL := func(field, v string, schemes ...string) {
			if v == "" {
				return
			}
			u, err := url.Parse(v)
			switch {
			case err != nil:
				bad(field, "not a URL (value not shown: it may hold a token)")
			case !slices.Contains(schemes, u.Scheme):
				bad(field, "the scheme is not %s", strings.Join(schemes, " or "))
			case u.Host == "":
				bad(field, "no host in the URL")
			case !l.cleartextAllowed(u):
				bad(field, "http:// to a host other than loopback would send alerts and tokens unencrypted; use https://, or set ALLOW_INSECURE_URLS=true")
			}
		}
		switch c.Type {
		case "slack", "teams", "discord", "webhook":
			checkURL("url", c.URL, "https", "http")
		case "pagerduty":
			checkURL("url", c.URL, "https", "http")
		case "alertmanager":
			checkURL("url", c.URL, "https", "http")
			for _, u := range c.URLs {
				checkURL("urls", u, "https", "http")
			}
			if c.URL != "" {
				c.URLs = append([]string{c.URL}, c.URLs...)
			}
		case "email":
			if c.SMTP == "" || c.From == "" || len(c.To) == 0 {
				break // required, said already
			}
			// The provider's own check: what it refuses here, it would
			// refuse at every sweep. Its errors name the field and show
			// the URL without its password.
			if _, err := alert.NewEmail(alert.EmailOptions{Name: c.Name, SMTP: c.SMTP, From: c.From, To: c.To}); err != nil {
				field, _, _ := strings.Cut(err.Error(), " ")
				field = strings.TrimSuffix(field, ":")
				bad(field, "%s", strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(err.Error(), field), ":")))
			}
		}
	}
}

// buildRouting joins the environment's channels (slack, teams, discord:
// SLACK_WEBHOOK_URL and the others) to the monitors file's, and checks
// that every route names a channel there is.
func (l *loader) buildRouting(cfg *Config) {
	r := &cfg.Routing
	a := cfg.Alerts
	for _, c := range []Channel{
		{Name: "slack", Type: "slack", Where: "SLACK_WEBHOOK_URL", URL: a.SlackURL, SlackChannel: a.SlackChannel, Username: a.SlackUsername, IconEmoji: a.SlackIcon},
		{Name: "teams", Type: "teams", Where: "TEAMS_WEBHOOK_URL", URL: a.TeamsURL},
		{Name: "discord", Type: "discord", Where: "DISCORD_WEBHOOK_URL", URL: a.DiscordURL, Username: a.DiscordUsername, AvatarURL: a.DiscordAvatar},
	} {
		if c.URL != "" {
			c.Secrets = []string{c.URL}
			c.Shown = []MonitorField{{Field: "url", Value: "(set)", Source: c.Where}}
			r.Channels = append(r.Channels, c)
		}
	}
	fr := l.fileRouting
	if fr == nil {
		r.Table = route.Default(r.ChannelNames())
		return
	}
	for _, c := range fr.channels {
		if prev := r.Channel(c.Name); prev != nil {
			l.problem("%s: channel %s: the name is the channel of %s; name this one otherwise, or unset %s", c.Where, c.Name, prev.Where, prev.Where)
			continue
		}
		if c.Type == "pagerduty" && c.URL == "" {
			c.URL = l.raw("PAGERDUTY_EVENTS_URL")
		}
		r.Channels = append(r.Channels, *c)
	}
	r.Maintenance = fr.maintenance
	r.Routed = fr.routed
	if !fr.routed {
		r.Table = route.Default(r.ChannelNames())
		return
	}
	names := r.ChannelNames()
	named := map[string]bool{}
	for i, rt := range fr.routes {
		for _, ref := range fr.channelRefs[i] {
			named[ref.name] = true
			if r.Channel(ref.name) != nil {
				continue
			}
			hint := ""
			if s := closest(ref.name, names); s != "" {
				hint = "; did you mean " + s + "?"
			} else if len(names) > 0 {
				hint = " (the channels are " + strings.Join(names, ", ") + ")"
			}
			if k := WebhookKey(ref.name); k != "" {
				hint = " (" + k + " is not set)"
			}
			l.problem("%s: route %d: channels: no channel is named %q%s", rt.Where, i+1, ref.name, hint)
		}
	}
	r.Table = route.Table{Routes: fr.routes}
	for _, c := range r.Channels {
		if !named[c.Name] {
			l.warn("%s: channel %s: no route names it, so it receives no alerts", c.Where, c.Name)
		}
	}
}
