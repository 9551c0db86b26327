package apps

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestVariantObjects(t *testing.T) {
	tests := []struct {
		app, variant string
		wantSync     string // the Patroni config's synchronous_mode line; "" for no ConfigMap expected
		wantErr      string
	}{
		{app: "postgres", wantSync: "synchronous_mode: false"},
		{app: "postgres", variant: "sync", wantSync: "synchronous_mode: true"},
		{app: "postgres", variant: "nope", wantErr: `no variant "nope"`},
		{app: "etcd", variant: "sync", wantErr: `no variant "sync"`},
		{app: "etcd"},
	}
	for _, tc := range tests {
		t.Run(tc.app+"/"+tc.variant, func(t *testing.T) {
			objs, err := VariantObjects(tc.app, tc.variant)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var configs []string
			for _, o := range objs {
				if cm, ok := o.(*corev1.ConfigMap); ok {
					configs = append(configs, cm.Data["patroni.yml"])
				}
			}
			if tc.wantSync == "" {
				if len(configs) != 0 {
					t.Fatalf("%d Patroni ConfigMaps, want none", len(configs))
				}
				return
			}
			if len(configs) != 1 {
				t.Fatalf("%d Patroni ConfigMaps, want exactly one (the variant's file stands in for the default's)", len(configs))
			}
			if !strings.Contains(configs[0], tc.wantSync) {
				t.Errorf("patroni.yml lacks %q", tc.wantSync)
			}
		})
	}
	if v := Variants("postgres"); len(v) != 1 || v[0] != "sync" {
		t.Errorf("Variants(postgres) = %v, want [sync]", v)
	}
}

func TestDeployedVariant(t *testing.T) {
	for _, variant := range []string{"", "sync"} {
		t.Run("deployed "+variant, func(t *testing.T) {
			cs := fake.NewClientset()
			if err := DeployVariant(context.Background(), cs, "postgres", variant, "demo"); err != nil {
				t.Fatal(err)
			}
			got, err := DeployedVariant(context.Background(), cs, "postgres", "demo")
			if err != nil || got != variant {
				t.Errorf("DeployedVariant = %q, %v; want %q", got, err, variant)
			}
		})
	}
	got, err := DeployedVariant(context.Background(), fake.NewClientset(), "postgres", "empty")
	if err != nil || got != "" {
		t.Errorf("nothing deployed: DeployedVariant = %q, %v; want the default", got, err)
	}
}
