package scenarios

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/reboundhq/rebound/scenarios/catalog"
	"github.com/reboundhq/rebound/scenarios/ladders"
)

// GameDayLabel groups scenarios into a game day: the scenarios whose label
// has the same value run together, smallest blast radius first.
const GameDayLabel = "rebound.dev/gameday"

// Built-in names.
const (
	// DefaultGameDayName is the game day against the lab's etcd demo app:
	// node, zone, disk and human-error scenarios.
	DefaultGameDayName = "default"
	// SmokeGameDayName is a short game day, pod-kill and pause, quick
	// enough for every CI run.
	SmokeGameDayName = "smoke"
	// DefaultLadderName is the ladder reports are judged against unless
	// another is given.
	DefaultLadderName = "default"
)

// The catalog is parsed on every call, so callers own what they get and may
// change it (say, the target namespace from a flag) without affecting anyone
// else. It is a handful of small files; TestCatalog keeps it valid.

// Catalog returns every built-in scenario, sorted by name.
func Catalog() ([]*Scenario, error) {
	objs, err := loadFS(catalog.FS, ".", func(p string) string { return "scenarios/catalog/" + p })
	if err != nil {
		return nil, fmt.Errorf("built-in catalog: %w", err)
	}
	out := objs.Scenarios
	slices.SortFunc(out, func(a, b *Scenario) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// CatalogScenario returns the built-in scenario named name; the error matches
// ErrNotFound when there is none.
func CatalogScenario(name string) (*Scenario, error) {
	all, err := Catalog()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(all))
	for i, s := range all {
		if s.Name == name {
			return s, nil
		}
		names[i] = s.Name
	}
	return nil, fmt.Errorf("scenario %q is not in the catalog%s: %w", name, didYouMean(name, names), ErrNotFound)
}

// GameDay returns the scenarios of the named game day from scenarios (all the
// ones labelled rebound.dev/gameday=name), in the order they run: smallest
// blast radius first (node, zone, disk, human-error, region), then by name.
func GameDay(scenarios []*Scenario, name string) []*Scenario {
	var out []*Scenario
	for _, s := range scenarios {
		if s.GameDay() == name {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b *Scenario) int {
		return cmp.Or(
			cmp.Compare(slices.Index(Disruptions, a.Disruption), slices.Index(Disruptions, b.Disruption)),
			cmp.Compare(a.Name, b.Name),
		)
	})
	return out
}

// CatalogGameDay returns the built-in game day named name, in running order;
// the error matches ErrNotFound when no built-in scenario belongs to it.
func CatalogGameDay(name string) ([]*Scenario, error) {
	all, err := Catalog()
	if err != nil {
		return nil, err
	}
	out := GameDay(all, name)
	if len(out) == 0 {
		var days []string
		for _, s := range all {
			if d := s.GameDay(); d != "" && !slices.Contains(days, d) {
				days = append(days, d)
			}
		}
		slices.Sort(days)
		return nil, fmt.Errorf("no built-in game day %q (there are %s)%s: %w", name, quoteList(days), didYouMean(name, days), ErrNotFound)
	}
	return out, nil
}

// DefaultGameDay returns the default game day against the lab's etcd demo
// app, in running order.
func DefaultGameDay() ([]*Scenario, error) { return CatalogGameDay(DefaultGameDayName) }

// DefaultLadder returns the built-in default ladder.
func DefaultLadder() (*Ladder, error) {
	objs, err := loadFS(ladders.FS, DefaultLadderName+".yaml", func(p string) string { return "scenarios/ladders/" + p })
	if err != nil {
		return nil, fmt.Errorf("built-in ladder: %w", err)
	}
	l := objs.Ladder(DefaultLadderName)
	if l == nil {
		return nil, fmt.Errorf("built-in ladder %q: %w", DefaultLadderName, ErrNotFound)
	}
	return l, nil
}
