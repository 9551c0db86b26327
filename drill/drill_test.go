package drill

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/etcd"
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/reports"
)

// copyStandIn stands in for an app driver connected to a restored copy:
// it holds ids and a checksum, and may be unhealthy.
type copyStandIn struct {
	ids     []string
	readErr error
	health  apps.Health
	sum     apps.Checksum
	sumErr  error
	askedAt string
}

func (c *copyStandIn) Write(context.Context, string) error { return nil }
func (c *copyStandIn) Read(context.Context) error          { return nil }
func (c *copyStandIn) ReadAll(context.Context) ([]string, error) {
	return c.ids, c.readErr
}
func (c *copyStandIn) Health(context.Context) (apps.Health, error)     { return c.health, nil }
func (c *copyStandIn) Leader(context.Context) (string, error)          { return "", apps.ErrNotSupported }
func (c *copyStandIn) DeleteData(context.Context, string) (int, error) { return 0, nil }
func (c *copyStandIn) Close() error                                    { return nil }
func (c *copyStandIn) Checksum(_ context.Context, prefix, at string) (apps.Checksum, error) {
	c.askedAt = at
	s := c.sum
	s.Prefix, s.At = prefix, at
	return s, c.sumErr
}

// noVerifierStandIn is a driver without apps.Verifier.
type noVerifierStandIn struct{ copyStandIn }

func (noVerifierStandIn) Checksum() {} // shadows the method: not a Verifier

var full = apps.Health{Full: true, Serving: true, Members: 3, Healthy: 3, Detail: "3/3 members healthy"}

func manifest(probes *backup.ProbeRecord, sum *apps.Checksum) *backup.Manifest {
	return &backup.Manifest{Namespace: "rebound-demo", Driver: "etcd", Probes: probes,
		Data: []backup.DataEntry{{NativeData: apps.NativeData{Kind: etcd.SnapshotKind}, Checksum: sum}}}
}

func TestVerifyCopy(t *testing.T) {
	t.Parallel()
	recorded := &apps.Checksum{Prefix: "", Records: 120, Hash: "sha256:aa", At: "57"}
	probes := &backup.ProbeRecord{Driver: "etcd", Prefix: "/rebound/drill/x", Acked: []string{"a", "b", "c"}}
	tests := []struct {
		name     string
		driver   apps.Driver
		m        *backup.Manifest
		want     map[string]reports.DrillStatus
		detail   map[string]string // a substring each check's detail must hold
		missing  []string
		servable bool
	}{{
		name:   "everything holds",
		driver: &copyStandIn{ids: []string{"a", "b", "c", "later"}, health: full, sum: apps.Checksum{Records: 120, Hash: "sha256:aa"}},
		m:      manifest(probes, recorded),
		want:   map[string]reports.DrillStatus{CheckHealth: reports.DrillVerified, CheckProbeIDs: reports.DrillVerified, CheckChecksum: reports.DrillVerified},
		detail: map[string]string{CheckProbeIDs: "all 3 write-probe ids", CheckChecksum: "every key: 120 records, sha256:aa at 57"}, servable: true,
	}, {
		name:    "an acknowledged id missing and the data differs",
		driver:  &copyStandIn{ids: []string{"a", "c"}, health: full, sum: apps.Checksum{Records: 119, Hash: "sha256:bb"}},
		m:       manifest(probes, recorded),
		want:    map[string]reports.DrillStatus{CheckHealth: reports.DrillVerified, CheckProbeIDs: reports.DrillFailed, CheckChecksum: reports.DrillFailed},
		detail:  map[string]string{CheckProbeIDs: "1 of the 3 write-probe ids acknowledged before the cut are missing under /rebound/drill/x: b", CheckChecksum: "recorded 120 records sha256:aa at 57, restored 119 records sha256:bb"},
		missing: []string{"b"}, servable: true,
	}, {
		name:   "nothing recorded: both data checks not made, and say so",
		driver: &copyStandIn{health: full},
		m:      manifest(nil, nil),
		want:   map[string]reports.DrillStatus{CheckHealth: reports.DrillVerified, CheckProbeIDs: reports.DrillNotMade, CheckChecksum: reports.DrillNotMade},
		detail: map[string]string{CheckProbeIDs: "no probe ids recorded in this backup: id check not made", CheckChecksum: "no checksum recorded in this backup"}, servable: true,
	}, {
		name:   "degraded copy, unreadable ids, a revision compacted away",
		driver: &copyStandIn{readErr: errors.New("no leader"), health: apps.Health{Serving: true, Detail: "2/3 members healthy"}, sumErr: fmt.Errorf("x: %w", apps.ErrPointGone)},
		m:      manifest(probes, recorded),
		want:   map[string]reports.DrillStatus{CheckHealth: reports.DrillFailed, CheckProbeIDs: reports.DrillFailed, CheckChecksum: reports.DrillNotMade},
		detail: map[string]string{CheckHealth: "2/3 members healthy", CheckProbeIDs: "no leader", CheckChecksum: "no longer holds point 57"},
	}, {
		name:   "a driver that cannot sum",
		driver: &noVerifierStandIn{copyStandIn{ids: []string{"a", "b", "c"}, health: full}},
		m:      manifest(probes, recorded),
		want:   map[string]reports.DrillStatus{CheckHealth: reports.DrillVerified, CheckProbeIDs: reports.DrillVerified, CheckChecksum: reports.DrillNotMade},
		detail: map[string]string{CheckChecksum: "cannot sum"}, servable: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []reports.DrillCheck
			var servable bool
			var missing []string
			verifyCopy(context.Background(), tt.driver, tt.m,
				func(c reports.DrillCheck) reports.DrillCheck { got = append(got, c); return c },
				func(c reports.DrillCheck) { servable = c.Status == reports.DrillVerified },
				func(m []string) { missing = m })
			if names := []string{got[0].Name, got[1].Name, got[2].Name}; len(got) != 3 || !slices.Equal(names, []string{CheckHealth, CheckProbeIDs, CheckChecksum}) {
				t.Fatalf("checks %+v: want health, probe-ids, checksum in order", got)
			}
			for _, c := range got {
				if c.Status != tt.want[c.Name] {
					t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Detail, tt.want[c.Name])
				}
				if want := tt.detail[c.Name]; !strings.Contains(c.Detail, want) {
					t.Errorf("%s detail %q does not say %q", c.Name, c.Detail, want)
				}
			}
			if servable != tt.servable || !slices.Equal(missing, tt.missing) {
				t.Errorf("servable %v, missing %v; want %v, %v", servable, missing, tt.servable, tt.missing)
			}
			if cs, ok := tt.driver.(*copyStandIn); ok && tt.m.Data[0].Checksum != nil && cs.askedAt != "57" {
				t.Errorf("the copy was summed at %q, want the recorded point 57", cs.askedAt)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	v := func(name string) reports.DrillCheck { return verified(name, "ok") }
	serving, done := 20*time.Second, 23*time.Second
	probes := &backup.ProbeRecord{Prefix: "/p", Acked: []string{"a", "b", "c"}}
	all := []reports.DrillCheck{v(CheckIntegrity), v(CheckRestore), v(CheckHealth), v(CheckProbeIDs), v(CheckChecksum)}
	t.Run("verified", func(t *testing.T) {
		t.Parallel()
		r := judge(outcome{Backup: "b1", Checks: all, Serving: &serving, Done: done, Probes: probes, RTO: new(time.Minute)})
		if !r.Verdict.Pass || r.Verdict.Bug || r.RTO == nil || r.RTO.Duration() != done || !r.DataChecked || r.BugCheck != "made" {
			t.Errorf("result %+v: want a pass with RTO %s and the id check made", r, done)
		}
		if r.WritesAcked != 3 || r.IDsRead != 3 || r.LostCount != 0 || !r.DataSafe || len(r.Verdict.Targets) != 1 || !r.Verdict.Targets[0].Met {
			t.Errorf("writes acked %d read %d lost %d safe %v targets %+v", r.WritesAcked, r.IDsRead, r.LostCount, r.DataSafe, r.Verdict.Targets)
		}
	})
	t.Run("an id missing is a bug and no verified copy", func(t *testing.T) {
		t.Parallel()
		checks := slices.Clone(all)
		checks[3] = failed(CheckProbeIDs, "1 of the 3 missing: b")
		r := judge(outcome{Backup: "b1", Checks: checks, Serving: &serving, Done: done, Probes: probes, Missing: []string{"b"}, RTO: new(time.Minute)})
		if r.Verdict.Pass || !r.Verdict.Bug || r.RTO != nil || r.LostBeforeBackupCount != 1 || r.Lost[0] != "b" {
			t.Errorf("result %+v: want a bug, no RTO, b lost before the backup", r)
		}
		if tr := r.Verdict.Targets[0]; tr.Met || tr.Measured != nil {
			t.Errorf("RTO target %+v: want unmet, unmeasured", tr)
		}
		if !slices.ContainsFunc(r.Verdict.Breaches, func(b string) bool { return strings.Contains(b, "probe-ids check failed") }) {
			t.Errorf("breaches %v do not name the failed check", r.Verdict.Breaches)
		}
	})
	t.Run("unhealthy copy: a breach, not a bug", func(t *testing.T) {
		t.Parallel()
		checks := slices.Clone(all)
		checks[2] = failed(CheckHealth, "2/3")
		r := judge(outcome{Backup: "b1", Checks: checks, Done: done, Probes: probes})
		if r.Verdict.Pass || r.Verdict.Bug || r.ServiceRestored || r.RTO != nil {
			t.Errorf("result %+v: want a breach without bug, not restored", r)
		}
	})
	t.Run("ids not recorded: the check is not made, and the verdict says why", func(t *testing.T) {
		t.Parallel()
		checks := slices.Clone(all)
		checks[3] = notMade(CheckProbeIDs, "no probe ids recorded in this backup: id check not made")
		r := judge(outcome{Backup: "b1", Checks: checks, Serving: &serving, Done: done})
		if !r.Verdict.Pass || r.DataChecked || !strings.Contains(r.BugCheck, "not made: no probe ids recorded") {
			t.Errorf("result %+v: want a pass with the data unchecked and why", r)
		}
	})
	t.Run("slower than the target", func(t *testing.T) {
		t.Parallel()
		r := judge(outcome{Backup: "b1", Checks: all, Serving: &serving, Done: done, RTO: new(10 * time.Second)})
		if r.Verdict.Pass || r.Verdict.Bug || len(r.Verdict.Breaches) != 1 || !strings.HasPrefix(r.Verdict.Breaches[0], "rto:") {
			t.Errorf("verdict %+v: want one RTO breach", r.Verdict)
		}
	})
}

func TestCheckSafety(t *testing.T) {
	t.Parallel()
	base := Options{Backup: "latest", AllowNamespaces: []string{"rebound-demo"}, OnLab: true}
	tests := []struct {
		name    string
		change  func(*Options)
		scratch string
		want    string // "" for allowed
	}{
		{"a made-up scratch namespace on the lab", func(*Options) {}, "rebound-drill-abc123", ""},
		{"a named scratch namespace outside the allowlist", func(o *Options) { o.Namespace = "prod" }, "prod", "add --allow-namespace prod"},
		{"kube-system", func(o *Options) {
			o.Namespace = "kube-system"
			o.AllowNamespaces = append(o.AllowNamespaces, "kube-system")
		}, "kube-system", "never acts there"},
		{"another cluster without --yes", func(o *Options) { o.OnLab = false }, "rebound-drill-abc123", "--yes"},
		{"another cluster with --yes", func(o *Options) { o.OnLab, o.Yes = false, true }, "rebound-drill-abc123", ""},
		{"taking a backup of an app outside the allowlist", func(o *Options) {
			o.Backup, o.Take = "", Take{Namespace: "shop", Driver: "etcd"}
		}, "rebound-drill-abc123", "add --allow-namespace shop"},
		{"taking a backup without a driver", func(o *Options) { o.Backup, o.Take = "", Take{Namespace: "rebound-demo"} }, "rebound-drill-abc123", "--driver"},
		{"reusing a namespace not named", func(o *Options) { o.ReuseNamespace = true }, "rebound-drill-abc123", "name it with --scratch-namespace"},
		{"reusing an allowed namespace", func(o *Options) {
			o.Namespace, o.ReuseNamespace = "drills", true
			o.AllowNamespaces = append(o.AllowNamespaces, "drills")
		}, "drills", ""},
		{"reusing a namespace outside the allowlist", func(o *Options) { o.Namespace, o.ReuseNamespace = "prod", true }, "prod", "add --allow-namespace prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := base
			o.AllowNamespaces = slices.Clone(base.AllowNamespaces)
			tt.change(&o)
			err := CheckSafety(o, tt.scratch)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v: want a refusal saying %q", err, tt.want)
			}
		})
	}
}

// A drill of an empty repository, or into a namespace that exists, stops
// with a clear error before the cluster is touched.
func TestRunRefusesBeforeTouchingAnything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kube := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "taken"}})
	e, err := backup.NewEngine(ctx, filepath.Join(t.TempDir(), "repo"), repo.GenerateKey(), kube, backup.WithInit())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	o := Options{Backup: "latest", Target: e, TargetKube: kube, OnLab: true, AllowNamespaces: []string{"taken"}}
	if _, err := Run(ctx, o); !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), "holds no backup") {
		t.Errorf("drill of an empty repository: %v, want ErrNoBackup saying the repository holds none", err)
	}
	o.Backup = "0123abcd"
	if _, err := Run(ctx, o); !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), "0123abcd") {
		t.Errorf("drill of an id that names no backup: %v, want ErrNoBackup naming it", err)
	}
	o.Namespace = "taken"
	if _, err := Run(ctx, o); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "namespace taken exists") {
		t.Errorf("drill into an existing namespace: %v, want a refusal", err)
	}
	nss, _ := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if len(nss.Items) != 1 {
		t.Errorf("namespaces after refused drills: %d, want only the one there before", len(nss.Items))
	}
}

// A drill that could not ask the app whether the copy serves is not a
// verified drill, even when nothing failed.
func TestJudgeUnverifiedServing(t *testing.T) {
	t.Parallel()
	checks := []reports.DrillCheck{verified(CheckIntegrity, "ok"), verified(CheckRestore, "ok"),
		notMade(CheckHealth, "the backup names no app driver"), notMade(CheckProbeIDs, "x"), notMade(CheckChecksum, "y")}
	r := judge(outcome{Backup: "b", Checks: checks, Done: time.Second})
	if r.Verdict.Pass || r.RTO != nil || !strings.Contains(strings.Join(r.Verdict.Breaches, ";"), "names no app driver") {
		t.Errorf("verdict %+v: want a breach saying the copy was not verified to serve, and why", r.Verdict)
	}
}
