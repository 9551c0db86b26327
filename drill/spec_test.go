package drill

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/scenarios"
)

func TestFromSpec(t *testing.T) {
	t.Parallel()
	rto := 2 * time.Minute
	base := Options{AllowNamespaces: []string{"rebound-demo"}, Yes: true, Backup: "stale", Keep: true, ClusterName: "lab"}
	take := &scenarios.Drill{Name: "take", Backup: "take", ScratchNamespace: "copy", Timeout: time.Minute, Probes: 7, RTO: &rto,
		Target: &scenarios.Target{Namespace: "rebound-demo", Driver: "etcd",
			LabelSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "etcd"}}}}
	o, err := FromSpec(base, take)
	if err != nil {
		t.Fatal(err)
	}
	if o.Backup != "" || o.Take.Namespace != "rebound-demo" || o.Take.Driver != "etcd" || o.Take.Selector.String() != "app=etcd" {
		t.Errorf("backup: take = Backup %q Take %+v, want an empty Backup and the app to take", o.Backup, o.Take)
	}
	if o.Namespace != "copy" || o.Keep || o.Timeout != time.Minute || o.Probes != 7 || o.RTO == nil || *o.RTO != rto {
		t.Errorf("spec fields not carried: %+v", o)
	}
	if o.ClusterName != "lab" || !o.Yes || len(o.AllowNamespaces) != 1 {
		t.Errorf("base fields lost: %+v", o)
	}
	rto = time.Hour
	if *o.RTO != 2*time.Minute {
		t.Error("the options share the spec's RTO")
	}

	o, err = FromSpec(base, &scenarios.Drill{Name: "id", Backup: "1a2b3c4d", Timeout: time.Minute, Probes: 1})
	if err != nil || o.Backup != "1a2b3c4d" || o.Take.Namespace != "" || o.RTO != nil {
		t.Errorf("backup by id = %+v, %v", o, err)
	}
	if _, err := FromSpec(base, &scenarios.Drill{Name: "bad", Backup: "take"}); !errors.Is(err, ErrRefused) {
		t.Errorf("take without a target: %v, want ErrRefused", err)
	}
}
