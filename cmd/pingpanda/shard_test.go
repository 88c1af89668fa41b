package main

import (
	"fmt"
	"testing"

	"github.com/pingpanda/pingpanda/probe"
)

func shardTestTargets(n int) []probe.Target {
	ts := make([]probe.Target, n)
	for i := range ts {
		ts[i] = probe.Target{Check: probe.HTTP, Address: fmt.Sprintf("https://t%d.example/", i)}
	}
	return ts
}

func TestEveryTargetHasExactlyOneShard(t *testing.T) {
	all := shardTestTargets(3000)
	for _, count := range []int{1, 2, 3, 7} {
		seen := map[string]int{}
		for i := range count {
			part := shardTargets(all, i, count)
			// An even share, within a generous margin.
			if want := len(all) / count; len(part) < want*7/10 || len(part) > want*13/10 {
				t.Errorf("%d shards: shard %d has %d targets, want about %d", count, i, len(part), want)
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
}

func TestAddingAShardMovesOnlyTheTargetsItTakes(t *testing.T) {
	all := shardTestTargets(3000)
	moved := 0
	for _, tg := range all {
		before, after := shardOf(tg.ID(), 3), shardOf(tg.ID(), 4)
		if before != after {
			moved++
			if after != 3 {
				t.Fatalf("%s moved from shard %d to %d; only moves to the new shard 3 are needed", tg.ID(), before, after)
			}
		}
	}
	if moved < len(all)/4*7/10 || moved > len(all)/4*13/10 {
		t.Errorf("%d of %d targets moved, want about a quarter", moved, len(all))
	}
}
