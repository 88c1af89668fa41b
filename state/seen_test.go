package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func TestSeenScoreIsNeverBeforeTheSave(t *testing.T) {
	const hour = int64(time.Hour / time.Millisecond)
	week := 7 * 24 * hour
	g := week / 64
	tests := []struct {
		name             string
		now, retention   int64
		seen, cutoffWant int64
	}{
		{"on a boundary, the save's own time", 10 * g, week, 10 * g, 10*g - week},
		{"just past a boundary, the next one", 10*g + 1, week, 11 * g, 10*g + 1 - week},
		{"just before a boundary, that one", 11*g - 1, week, 11 * g, 11*g - 1 - week},
		{"no retention: to the hour", 5*hour + 1, 0, 6 * hour, 5*hour + 1},
		{"a short retention: to the second", 61_500, 60_000, 62_000, 1_500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen, cutoff := seenScore(tt.now, tt.retention)
			if seen != tt.seen || cutoff != tt.cutoffWant {
				t.Errorf("seenScore(%d, %d) = %d, %d; want %d, %d", tt.now, tt.retention, seen, cutoff, tt.seen, tt.cutoffWant)
			}
		})
	}
}

// A record's seen score is rounded to a 64th of the retention of the save
// that wrote it, and the save that prunes may have another retention (a
// changed STATE_RETENTION_SECONDS, or another shard of the namespace,
// since shards share the records): the record must be kept until the
// pruning save's retention has passed since it was saved, and go once the
// rounding has passed too.
func TestRedisRetentionKeepsRecordsWhateverTheRetentionThatWroteThem(t *testing.T) {
	addr, _ := startRedis(t)
	mr := miniredis.RunT(t)
	const week = 7 * 24 * time.Hour
	g := week / 64 // 2 h 37.5 min: the rounding of b's score
	for _, server := range []struct{ name, addr string }{{"miniredis", mr.Addr()}, {"redis-server", addr}} {
		// b is saved just past a boundary of g (its score rounded up by
		// nearly all of g) or just before one (by a second).
		for _, offset := range []time.Duration{time.Second, g - time.Second} {
			t.Run(fmt.Sprintf("%s, saved %v past a boundary", server.name, offset), func(t *testing.T) {
				ms, gms := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli(), g.Milliseconds()
				start := time.UnixMilli(ms - ms%gms).Add(offset)
				rounding := g - offset
				at := start
				clock := func() time.Time { return at }
				url := "redis://" + server.addr
				ns := fmt.Sprintf("seen-%d", offset/time.Second)
				shard0 := openRedisStore(t, RedisOptions{URL: url, Namespace: ns, Shard: "0-of-2", Now: clock})
				shard1 := openRedisStore(t, RedisOptions{URL: url, Namespace: ns, Shard: "1-of-2", Now: clock})

				b := plainState("dns:b.example")
				saveOK(t, shard1, SaveRequest{States: []TargetState{b}, Retention: week})
				for _, step := range []struct {
					after time.Duration // since b's save, of a save by shard 0 with a retention of an hour
					kept  bool
				}{
					{time.Minute, true},
					{time.Hour, true}, // exactly the pruning save's retention: never before
					{time.Hour + rounding, true},
					{time.Hour + rounding + time.Millisecond, false}, // the retention and b's rounding have passed
				} {
					at = start.Add(step.after)
					saveOK(t, shard0, SaveRequest{States: []TargetState{plainState("dns:a.example")}, Retention: time.Hour})
					if _, ok := loadAll(t, shard0)[b.ID]; ok != step.kept {
						t.Fatalf("%v after %s was saved (retention 7 days), a save with a retention of 1 hour: kept %v, want %v", step.after, b.ID, ok, step.kept)
					}
				}
			})
		}
	}
}
