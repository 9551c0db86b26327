package measure

import (
	"fmt"
	"slices"
	"strings"
)

// DisruptionType is what kind of fault a scenario injects: node, zone, disk,
// human-error, region. The spec owns the list; here it is only a key.
type DisruptionType string

// Rung is one step of a ladder: targets per disruption type.
type Rung struct {
	Name    string
	Targets map[DisruptionType]Targets
}

// ScenarioResult is one scenario's result, tagged by what it disrupted.
type ScenarioResult struct {
	Name       string
	Disruption DisruptionType
	Result     Result
	// Failed says why the scenario meets no rung whatever its numbers: it
	// could not run, or its recovery path could not bring the app back (a
	// restore with no backup). Empty when it ran and recovered.
	Failed string
}

// Achievement is the rung a disruption type reached.
type Achievement struct {
	Disruption DisruptionType `json:"disruption"`
	// Covered is false when no scenario of this type ran: nothing was
	// shown, which is not the same as failing.
	Covered   bool `json:"covered"`
	Scenarios int  `json:"scenarios"`
	// Rung is the achieved rung's name and Level its 1-based position in
	// the ladder; "" and 0 when even the lowest rung was not met.
	Rung  string `json:"rung"`
	Level int    `json:"level"`
	// Blocked says why the next rung up was not achieved, one line per
	// breach; empty at the top of the ladder.
	Blocked []string `json:"blocked"`
}

// AchievedRung climbs rungs (lowest first) for one disruption type: a rung is
// achieved when every scenario of that type meets its targets for that type,
// and climbing stops at the first rung that is not. A rung that sets no
// targets for the type stops the climb too, so a ladder never hands out a
// rung nobody defined for that disruption.
func AchievedRung(rungs []Rung, scenarios []ScenarioResult, d DisruptionType) Achievement {
	a := Achievement{Disruption: d, Blocked: []string{}}
	var ofType []ScenarioResult
	for _, s := range scenarios {
		if s.Disruption == d {
			ofType = append(ofType, s)
		}
	}
	a.Scenarios = len(ofType)
	a.Covered = len(ofType) > 0
	if !a.Covered {
		return a
	}
	for i, rung := range rungs {
		targets, ok := rung.Targets[d]
		if !ok {
			a.Blocked = append(a.Blocked, fmt.Sprintf("rung %q sets no targets for %s", rung.Name, d))
			return a
		}
		for _, s := range ofType {
			if s.Failed != "" {
				a.Blocked = append(a.Blocked, fmt.Sprintf("rung %q: scenario %q: %s", rung.Name, s.Name, s.Failed))
				continue
			}
			if v := Judge(s.Result, targets); !v.Pass {
				a.Blocked = append(a.Blocked, fmt.Sprintf("rung %q: scenario %q: %s", rung.Name, s.Name, strings.Join(v.Breaches, "; ")))
			}
		}
		if len(a.Blocked) > 0 {
			return a
		}
		a.Rung, a.Level = rung.Name, i+1
	}
	return a
}

// AchievedRungs is AchievedRung for every disruption type that a rung sets
// targets for or a scenario ran, sorted by type.
func AchievedRungs(rungs []Rung, scenarios []ScenarioResult) []Achievement {
	var types []DisruptionType
	for _, r := range rungs {
		for d := range r.Targets {
			types = append(types, d)
		}
	}
	for _, s := range scenarios {
		types = append(types, s.Disruption)
	}
	slices.Sort(types)
	types = slices.Compact(types)
	out := make([]Achievement, 0, len(types))
	for _, d := range types {
		out = append(out, AchievedRung(rungs, scenarios, d))
	}
	return out
}
