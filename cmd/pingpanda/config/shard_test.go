package config

import (
	"fmt"
	"testing"

	"github.com/pingpanda/pingpanda/probe"
)

// shardTestTargets are n targets of every check, named as users name them.
func shardTestTargets(n int) []probe.Target {
	ts := make([]probe.Target, n)
	for i := range ts {
		switch i % 4 {
		case 0:
			ts[i] = probe.Target{Check: probe.HTTP, Address: fmt.Sprintf("https://service-%d.example.com/health", i)}
		case 1:
			ts[i] = probe.Target{Check: probe.DNS, Address: fmt.Sprintf("host%d.example.org", i)}
		case 2:
			ts[i] = probe.Target{Check: probe.Ping, Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
		default:
			ts[i] = probe.Target{Check: probe.TLS, Address: fmt.Sprintf("api%d.example.net:443", i)}
		}
	}
	return ts
}

// TestEveryTargetHasExactlyOneShard: for 10,000 targets and every shard
// count from 1 to 16, each target is probed by exactly one shard, and
// every shard's share is within 10 % of an even one.
func TestEveryTargetHasExactlyOneShard(t *testing.T) {
	all := shardTestTargets(10000)
	worst := 0.0
	for count := 1; count <= 16; count++ {
		seen := make(map[string]int, len(all))
		for i := range count {
			part := shardTargets(all, i, count)
			even := float64(len(all)) / float64(count)
			dev := (float64(len(part)) - even) / even
			worst = max(worst, dev, -dev)
			if dev > 0.10 || dev < -0.10 {
				t.Errorf("%d shards: shard %d has %d targets, %+.1f%% from an even %.0f", count, i, len(part), 100*dev, even)
			}
			for _, tg := range part {
				seen[tg.ID()]++
			}
		}
		for _, tg := range all {
			if seen[tg.ID()] != 1 {
				t.Fatalf("%d shards: %s is probed by %d shards", count, tg.ID(), seen[tg.ID()])
			}
		}
	}
	t.Logf("largest deviation from an even share: %.1f%%", 100*worst)
}

// TestAddingAShardMovesOnlyTheTargetsItTakes: going from 4 to 5 shards
// moves about a fifth of the targets (at most ~25 %), all of them to the
// new shard; the rest stay where they were.
func TestAddingAShardMovesOnlyTheTargetsItTakes(t *testing.T) {
	all := shardTestTargets(10000)
	moved := 0
	for _, tg := range all {
		before, after := shardOf(tg.ID(), 4), shardOf(tg.ID(), 5)
		if before != after {
			moved++
			if after != 4 {
				t.Fatalf("%s moved from shard %d to %d; only moves to the new shard 4 are needed", tg.ID(), before, after)
			}
		}
	}
	share := float64(moved) / float64(len(all))
	t.Logf("4 -> 5 shards moved %d of %d targets (%.1f%%)", moved, len(all), 100*share)
	if share > 0.25 || share < 0.15 {
		t.Errorf("%d of %d targets moved (%.1f%%), want about a fifth and at most a quarter", moved, len(all), 100*share)
	}
}
