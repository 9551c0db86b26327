package scenarios

import (
	"fmt"
	"strings"
)

// suggest returns the candidate that s is most likely a typo of: the same
// word in another case, or one a few edits away. It returns "" when nothing
// is close enough to be worth saying "did you mean".
func suggest(s string, candidates []string) string {
	ls := strings.ToLower(s)
	limit := min(max(len([]rune(s))/3, 1), 3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := editDistance(ls, strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean returns ", did you mean "x"?" for a close candidate, or "".
func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
