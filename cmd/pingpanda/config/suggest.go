package config

import (
	"slices"
	"strings"
)

// closestKey suggests the known key nearest to an unknown one, or "".
func closestKey(k string) string {
	best, bestD := "", 4 // suggest only close matches
	names := make([]string, 0, len(keys)+len(aliases))
	for _, s := range keys {
		names = append(names, s.name)
	}
	slices.Sort(names)
	up := strings.ToUpper(k)
	for _, n := range names {
		if d := EditDistance(up, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
