package journal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJournalOutstandingIsTheLastStateOfEachFault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := OpenJournal(dir, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	undo := []Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}, Describe: "uncordon node n1"}}
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

func TestAJournalIsHeldByOneOpener(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, "run-held")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJournal(dir, "run-held"); !errors.Is(err, ErrInUse) {
		t.Errorf("a second open of a held journal: %v, want ErrInUse", err)
	}
	j.Close()
	j2, err := OpenJournal(dir, "run-held")
	if err != nil {
		t.Fatalf("after Close the journal is free again: %v", err)
	}
	j2.Close()
}

// An entry whose later state was written into another run's file (a run
// that journals under a name other than its file's) is read at its latest
// state, wherever that is, with its undo from the first line.
func TestOutstandingMergesAnEntryAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a, _ := OpenJournal(dir, "a")
	a.Write(Entry{ID: "x", Run: "other", State: StateApplied, Undo: []Undo{{Kind: "uncordon"}}})
	a.Close()
	b, _ := OpenJournal(dir, "b")
	b.Write(Entry{ID: "x", Run: "other", State: StateFailed})
	b.Close()
	left, err := Outstanding(dir)
	if err != nil || len(left) != 1 || left[0].State != StateFailed || len(left[0].Undo) != 1 || filepath.Base(left[0].Source) != "b.jsonl" {
		t.Fatalf("outstanding %+v (%v), want x failed, its undo kept, from b.jsonl", left, err)
	}
	c, _ := OpenPath(left[0].Source)
	c.Write(Entry{ID: "x", Run: "other", State: StateRecovered})
	c.Close()
	if left, _ := Outstanding(dir); len(left) != 0 {
		t.Errorf("after x recovered: %+v, want nothing outstanding", left)
	}
}

// One run on two clusters (a region loss restored into a DR region)
// journals each change with the cluster it was made in; every state line
// keeps its entry's cluster, so cleanup reaches each where it lives.
func TestOutstandingKeepsEachEntrysCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := OpenJournal(dir, "run-dr")
	if err != nil {
		t.Fatal(err)
	}
	target := Cluster{Lab: "main", Namespace: "demo"}
	dr := Cluster{Lab: "dr", Namespace: "demo-dr"}
	for _, e := range []Entry{
		{ID: "run-dr/region", Run: "run-dr", Scenario: "region", State: StatePending, Cluster: target,
			Undo: []Undo{{Kind: "lab-node-power", Args: map[string]string{"node": "lab-1a-1", "action": "start"}}}},
		{ID: "run-dr/region", Run: "run-dr", Scenario: "region", State: StateApplied, Cluster: target},
		{ID: "run-dr/region/dr", Run: "run-dr", Scenario: "region", State: StatePending, Cluster: dr,
			Undo: []Undo{{Kind: "delete-object", Args: map[string]string{"version": "v1", "resource": "namespaces", "name": "demo-dr"}}}},
		{ID: "run-dr/region/dr", Run: "run-dr", Scenario: "region", State: StateApplied, Cluster: dr},
	} {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	left, err := Outstanding(dir)
	if err != nil || len(left) != 2 {
		t.Fatalf("outstanding %+v (%v), want the fault and the DR copy", left, err)
	}
	got := map[string]Entry{}
	for _, e := range left {
		got[e.ID] = e
	}
	if f := got["run-dr/region"]; f.Cluster != target || len(f.Undo) != 1 || f.Undo[0].Kind != "lab-node-power" {
		t.Errorf("the fault: cluster %+v undo %+v, want the target's lab and its node start", f.Cluster, f.Undo)
	}
	if c := got["run-dr/region/dr"]; c.Cluster != dr || len(c.Undo) != 1 || c.Undo[0].Args["name"] != "demo-dr" {
		t.Errorf("the DR copy: cluster %+v undo %+v, want the DR lab and its namespace's deletion", c.Cluster, c.Undo)
	}
}
