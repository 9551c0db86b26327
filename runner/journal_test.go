package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/reboundhq/rebound/faults"
)

func TestJournalOutstandingIsTheLastStateOfEachFault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := OpenJournal(dir, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	undo := []faults.Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}, Describe: "uncordon node n1"}}
	for _, e := range []Entry{
		{ID: "run-1/a", Run: "run-1", Scenario: "a", State: StatePending, Undo: undo},
		{ID: "run-1/a", Run: "run-1", Scenario: "a", State: StateApplied},
		{ID: "run-1/b", Run: "run-1", Scenario: "b", State: StatePending, Undo: undo},
		{ID: "run-1/b", Run: "run-1", Scenario: "b", State: StateApplied},
		{ID: "run-1/b", Run: "run-1", Scenario: "b", State: StateRecovered},
	} {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A crash mid-write leaves a torn last line; it must not hide the rest.
	f, _ := os.OpenFile(filepath.Join(JournalDir(dir), "run-1.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"run-1/c","state":"pend`)
	f.Close()

	left, err := Outstanding(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Scenario != "a" || left[0].State != StateApplied {
		t.Fatalf("outstanding = %+v, want only scenario a, applied", left)
	}
	if len(left[0].Undo) != 1 || left[0].Undo[0].Args["node"] != "n1" {
		t.Errorf("the undo written with the pending entry is lost: %+v", left[0].Undo)
	}
}

func TestCleanupRunsUndoAndRecordsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _ := OpenJournal(dir, "run-2")
	j.Write(Entry{ID: "run-2/x", Run: "run-2", Scenario: "x", Description: "cordon n1", State: StateApplied,
		Undo: []faults.Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}, Describe: "uncordon node n1"}}})
	j.Write(Entry{ID: "run-2/y", Run: "run-2", Scenario: "y", Description: "bogus", State: StateApplied,
		Undo: []faults.Undo{{Kind: "no-such-undo", Describe: "something from the future"}}})
	j.Close()
	// A fake API server stands in for the cluster; n1 does not exist, which
	// uncordon treats as nothing to do.
	env := &faults.Env{Kube: fake.NewClientset()}
	res, err := Cleanup(context.Background(), dir, func(Cluster) (*faults.Env, error) { return env, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recovered) != 1 || !strings.Contains(res.Recovered[0], "cordon n1") {
		t.Errorf("recovered = %v", res.Recovered)
	}
	if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "no-such-undo") {
		t.Errorf("failed = %v, want the unknown undo named", res.Failed)
	}
	left, _ := Outstanding(dir)
	if len(left) != 1 || left[0].Scenario != "y" || left[0].State != StateFailed {
		t.Errorf("after cleanup outstanding = %+v, want only y, failed", left)
	}
	// Cleanup cannot reach a cluster: nothing is marked recovered.
	res, _ = Cleanup(context.Background(), dir, func(Cluster) (*faults.Env, error) { return nil, errors.New("unreachable") })
	if len(res.Failed) != 1 || len(res.Recovered) != 0 {
		t.Errorf("unreachable cluster: %+v", res)
	}
}
