package state

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/pingpanda/pingpanda/probe/secret"
)

// CheckRedisURL parses a REDIS_URL as the Redis store would, without
// connecting, so that a bad URL is reported with the rest of the
// configuration. Its error never shows a password.
func CheckRedisURL(raw string) error {
	_, err := parseRedisURL(raw)
	return err
}

// redisURL is a parsed REDIS_URL.
type redisURL struct {
	// shown is the URL with its passwords masked, for logs.
	shown string
	// scrub cuts the URL's passwords out of errors.
	scrub secret.Scrubber
	// connect makes the URL's client (it does not contact the server).
	connect func() redis.UniversalClient
}

// parseRedisURL reads a REDIS_URL: a Sentinel URL when it has a
// master_name option, a Cluster URL when it has addr options (more
// nodes), else a URL of one server, as go-redis' ParseFailoverURL,
// ParseClusterURL and ParseURL read them; every kind gets the options of
// tune. An error never quotes the URL: a malformed one may hold a password
// in any of its parts.
func parseRedisURL(raw string) (redisURL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.User == nil && strings.Contains(raw, "@")) {
		return redisURL{}, errors.New("redis url: not a valid URL (not shown, as it may hold a password); " +
			"percent-encode special characters in the user name and password")
	}
	shown, passwords := secret.Password(u)
	out := redisURL{shown: shown, scrub: secret.NewScrubber(passwords...)}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		var o *redis.FailoverOptions
		if o, err = redis.ParseFailoverURL(raw); err == nil {
			tune(&o.ContextTimeoutEnabled, &o.DisableIdentity, &o.PipelinePoolSize, nil)
			out.connect = func() redis.UniversalClient { return redis.NewFailoverClient(o) }
		}
	case q.Has("addr"):
		var o *redis.ClusterOptions
		if o, err = redis.ParseClusterURL(raw); err == nil {
			tune(&o.ContextTimeoutEnabled, &o.DisableIdentity, &o.PipelinePoolSize, &o.MaintNotificationsConfig)
			out.connect = func() redis.UniversalClient { return redis.NewClusterClient(o) }
		}
	default:
		var o *redis.Options
		if o, err = redis.ParseURL(raw); err == nil {
			tune(&o.ContextTimeoutEnabled, &o.DisableIdentity, &o.PipelinePoolSize, &o.MaintNotificationsConfig)
			out.connect = func() redis.UniversalClient { return redis.NewClient(o) }
		}
	}
	if err != nil {
		return redisURL{}, out.scrub.Error(fmt.Errorf("redis url %s: %w", shown, err))
	}
	return out, nil
}

// tune sets, in the options of any kind of client, what the store changes
// of go-redis' defaults. The context's deadline bounds every command. A
// connection opens with one round trip (HELLO, which also authenticates)
// rather than three: no CLIENT SETINFO, and no maintenance-notification
// handshake (maint is nil for Sentinel, whose clients never make it),
// which a one-sweep process has no use for. Unless the URL sets
// pipeline_pool_size, pipelines (Load) run on the client's one pool:
// go-redis' separate pipeline pool would open a second connection, with
// its own HELLO, in every sweep.
func tune(contextTimeout, disableIdentity *bool, pipelinePoolSize *int, maint **maintnotifications.Config) {
	*contextTimeout, *disableIdentity = true, true
	if *pipelinePoolSize == 0 {
		*pipelinePoolSize = -1
	}
	if maint != nil {
		*maint = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}
