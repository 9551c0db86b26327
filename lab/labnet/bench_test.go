package labnet

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkPodNetwork times one pod's network set-up (namespace, veth pair,
// addresses, routes, neighbours) and its teardown, in a lab namespace of
// the benchmark's own (root only).
func BenchmarkPodNetwork(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	lab := fmt.Sprintf("b%d", os.Getpid())
	plan := DefaultPlan(218)
	if err := Up(Network{Lab: lab, Plan: plan}); err != nil {
		b.Fatal(err)
	}
	defer Down(lab)
	ip := plan.NodePodCIDR(1).Addr().Next().Next()
	for i := 0; b.Loop(); i++ {
		uid := types.UID(fmt.Sprintf("bench-%d", i))
		if _, err := SetupPod(lab, uid, ip); err != nil {
			b.Fatal(err)
		}
		if err := TeardownPod(lab, uid); err != nil {
			b.Fatal(err)
		}
	}
}
