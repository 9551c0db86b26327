package faults

import (
	"context"
	"slices"
	"testing"

	"github.com/reboundhq/rebound/scenarios"
)

// A follower is a member that is not the leader (etcd-1 in env): the first
// other pod by name, its node or its volume.
func TestFollowerSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  scenarios.Fault
		leader string
		want   string
	}{
		{"pod-kill picks the first non-leader pod", scenarios.Fault{Kind: scenarios.FaultPodKill, Follower: true}, "etcd-1", "etcd-0"},
		{"pod-kill skips a leader that sorts first", scenarios.Fault{Kind: scenarios.FaultPodKill, Follower: true}, "etcd-0", "etcd-1"},
		{"node-drain picks the follower's node", scenarios.Fault{Kind: scenarios.FaultNodeDrain, Follower: true}, "etcd-1", "n-a1"},
		{"pvc-delete picks the follower's volume", scenarios.Fault{Kind: scenarios.FaultPVCDelete, Follower: true}, "etcd-1", "pvc data-etcd-0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, d := env(t)
			d.leader = tc.leader
			inj, err := For(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			p, err := inj.Plan(context.Background(), e)
			if err != nil {
				t.Fatalf("plan %s: %v", tc.fault.Kind, err)
			}
			if !slices.Contains(p.Targets, tc.want) {
				t.Errorf("targets %v, want %s (leader %s)", p.Targets, tc.want, tc.leader)
			}
			if slices.Contains(p.Targets, tc.leader) {
				t.Errorf("targets %v include the leader %s", p.Targets, tc.leader)
			}
		})
	}
}

// app-delete records: the run's probe records, as the runner names them.
func TestAppDeleteRecords(t *testing.T) {
	t.Parallel()
	e, d := env(t)
	e.Records = "rebound_r1_s"
	if err := Apply(context.Background(), plan(t, e, scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Records: true}})); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.deleted, []string{"rebound_r1_s"}) {
		t.Errorf("deleted %v, want the probe's records [rebound_r1_s]", d.deleted)
	}
	e.Records = ""
	inj, _ := For(scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Records: true}})
	if _, err := inj.Plan(context.Background(), e); err == nil {
		t.Error("a run that names no records planned an app-delete of them")
	}
}
