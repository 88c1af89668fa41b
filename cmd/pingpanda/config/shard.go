package config

import (
	"hash/fnv"
	"strconv"

	"github.com/pingpanda/pingpanda/probe"
)

// shardOf is the shard that owns a target: rendezvous (highest random
// weight) hashing of its ID, so every target has exactly one owner, and
// changing the shard count moves only the targets the new or removed shard
// must take or give up. The hash is FNV-1a, stable across processes and
// builds.
func shardOf(id string, count int) int {
	best, bestW := 0, uint64(0)
	for i := range count {
		h := fnv.New64a()
		h.Write([]byte(id))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(i)))
		w := mix(h.Sum64())
		if i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

// mix spreads FNV's output (splitmix64's finaliser), whose high bits vary
// little between inputs that differ only at the end.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// shardTargets keeps the targets shard index of count owns, in order.
func shardTargets(all []probe.Target, index, count int) []probe.Target {
	if count <= 1 {
		return all
	}
	var out []probe.Target
	for _, t := range all {
		if shardOf(t.ID(), count) == index {
			out = append(out, t)
		}
	}
	return out
}
