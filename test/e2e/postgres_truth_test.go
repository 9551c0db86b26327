package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/postgres"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/probes"
	demoapps "github.com/reboundhq/rebound/scenarios/apps"
)

// pgFailover is what one primary-node-loss run measured.
type pgFailover struct {
	Variant              string
	Acked, Indeterminate int
	Lost                 []string // rebound's: measure.Analyse of the probe history and the driver's read-back
	IndependentLost      []string // the test's: acknowledged ids its own SELECT did not find
	// Landed are ids the table holds that were not acknowledged (writes
	// whose outcome was unknown or that failed, yet committed): rebound's
	// Recovered and Unexpected, and the test's own.
	Landed, IndependentLanded []string
	RTO, FullRedundancy       time.Duration
	FullRedundancyRestore     bool
}

// TestPostgresPrimaryNodeLossTruth runs the demo PostgreSQL (Patroni, 3
// members over 3 zones) in both replication modes under rebound's write
// probe, stops the primary's node for 30 s as the catalog's node-loss does,
// and checks the acknowledged writes rebound reports lost against a SELECT
// of the probe table the test makes itself, on the member Patroni labels
// primary, over a connection of its own: the same ids. Synchronous mode
// must lose none in every run. REBOUND_PG_RUNS sets the runs per mode
// (default 1); each run's figures are logged as a "pg-failover" line that
// bench/postgres/failover.sh collects.
func TestPostgresPrimaryNodeLossTruth(t *testing.T) {
	runs := 1
	if v := os.Getenv("REBOUND_PG_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("REBOUND_PG_RUNS=%q: want a positive number of runs", v)
		}
		runs = n
	}
	f := features.New("PostgreSQL primary node loss: rebound's lost writes are the probe table's").
		Assess("asynchronous and synchronous replication", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l := labFrom(ctx)
			cs := kube(t, ctx)
			rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
			if err != nil {
				t.Fatal(err)
			}
			for _, variant := range []string{"", "sync"} {
				name := "async"
				if variant != "" {
					name = variant
				}
				ns := "rebound-e2e-pg-" + name
				t.Logf("deploying the demo PostgreSQL (%s replication) into %s", name, ns)
				if err := demoapps.DeployVariant(ctx, cs, "postgres", variant, ns); err != nil {
					t.Fatal(err)
				}
				if err := demoapps.WaitReady(ctx, rc, cs, "postgres", variant, ns, 5*time.Minute); err != nil {
					deleteNamespace(t, context.Background(), cs, ns)
					t.Fatal(err)
				}
				for i := range runs {
					r := pgPrimaryNodeLoss(t, ctx, l, cs, ns, name, i)
					t.Logf("pg-failover variant=%s run=%d acked=%d indeterminate=%d lost=%d landed=%d rto=%s tfull=%s",
						r.Variant, i+1, r.Acked, r.Indeterminate, len(r.Lost), len(r.Landed), r.RTO, r.FullRedundancy)
					if !slices.Equal(r.Lost, r.IndependentLost) {
						t.Errorf("%s run %d: rebound lost %v; the probe table misses %v", name, i+1, r.Lost, r.IndependentLost)
					}
					if !slices.Equal(r.Landed, r.IndependentLanded) {
						t.Errorf("%s run %d: rebound found %v written though not acknowledged; the probe table holds %v", name, i+1, r.Landed, r.IndependentLanded)
					}
					if variant == "sync" && len(r.Lost) != 0 {
						t.Errorf("synchronous replication lost %d acknowledged writes in run %d: %v", len(r.Lost), i+1, r.Lost)
					}
					if !r.FullRedundancyRestore {
						t.Errorf("%s run %d: full redundancy not back", name, i+1)
					}
					if t.Failed() {
						break
					}
				}
				deleteNamespace(t, context.Background(), cs, ns)
			}
			return ctx
		})
	testenv.Test(t, f.Feature())
}

// pgEndpoints lists the members' pod IPs as the runner does.
func pgEndpoints(ctx context.Context, cs kubernetes.Interface, ns string) (apps.Endpoints, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: demoapps.PostgresSelector})
	if err != nil {
		return apps.Endpoints{}, err
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var eps apps.Endpoints
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		eps.URLs = append(eps.URLs, "postgres://"+net.JoinHostPort(p.Status.PodIP, strconv.Itoa(postgres.ClientPort)))
		eps.Pods = append(eps.Pods, p.Name)
	}
	return eps, nil
}

func pgPrimaryNodeLoss(t *testing.T, ctx context.Context, l *lab.Lab, cs kubernetes.Interface, ns, variant string, run int) pgFailover {
	t.Helper()
	out := pgFailover{Variant: variant}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "postgres-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	user, password := string(sec.Data["username"]), string(sec.Data["password"])
	eps, err := pgEndpoints(ctx, cs, ns)
	if err != nil {
		t.Fatal(err)
	}
	table := postgres.TableName(fmt.Sprintf("e2e%d%d", time.Now().Unix(), run), "primary-node-loss")
	d, err := apps.New(ctx, "postgres", apps.Config{Endpoints: eps, Prefix: table, Username: user, Password: password, Dial: labnet.Dial})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	h, err := d.Health(hctx)
	cancel()
	if err != nil || !h.Full {
		t.Fatalf("the cluster is not at full redundancy before the fault: %+v, %v", h, err)
	}
	if p, err := apps.PromiseOf(ctx, d); err == nil {
		t.Logf("%s: promise: may lose acknowledged writes %v (%s)", variant, p.MayLoseAcknowledged, p.Why)
	}

	// rebound's probes, as a scenario runs them, with the StatefulSet's
	// Ready replicas as the Kubernetes side of full redundancy, and the
	// driver kept on the members' current addresses.
	tl := measure.NewTimeline(nil)
	pctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go func() {
		for pctx.Err() == nil {
			time.Sleep(time.Second)
			if eps, err := pgEndpoints(pctx, cs, ns); err == nil && len(eps.URLs) > 0 {
				d.(apps.EndpointUpdater).SetEndpoints(eps)
			}
		}
	}()
	redundancy := func(ctx context.Context) (bool, string) {
		sts, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "postgres", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return sts.Status.ReadyReplicas == *sts.Spec.Replicas, fmt.Sprintf("%d/%d Ready", sts.Status.ReadyReplicas, *sts.Spec.Replicas)
	}
	set := probes.Start(ctx, d, tl, probes.Config{Writers: 8, Rate: 100, Redundancy: redundancy}, nil)
	stopped := false
	defer func() {
		if !stopped {
			set.Stop()
		}
	}()
	time.Sleep(5 * time.Second) // baseline

	leader, err := d.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, leader, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node := pod.Spec.NodeName
	tl.Record(measure.FaultApplied, "stop lab node "+node+" (primary "+leader+")")
	if err := l.NodePower(ctx, node, lab.PowerStop); err != nil {
		t.Fatal(err)
	}
	powered := false
	defer func() {
		if !powered {
			_ = l.NodePower(context.Background(), node, lab.PowerStart)
		}
	}()
	time.Sleep(30 * time.Second)
	if err := l.NodePower(ctx, node, lab.PowerStart); err != nil {
		t.Fatal(err)
	}
	powered = true
	tl.Record(measure.FaultRecovered, "start lab node "+node)

	// Observe until the service and full redundancy are back and stable.
	opts := measure.Options{StabilityWindow: 3 * time.Second}
	deadline := time.Now().Add(5 * time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		time.Sleep(2 * time.Second)
		r, err := measure.Analyse(tl.Snapshot(), opts)
		if err == nil && r.ServiceRestored && r.RedundancyRestored {
			break
		}
		if i%10 == 9 {
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			h, _ := d.Health(hctx)
			cancel()
			t.Logf("%s: waiting for service and full redundancy: %s", variant, h.Detail)
		}
	}
	tl.Record(measure.ObservationEnded, "test")
	set.Stop()
	stopped = true
	stopFollow()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		err := probes.FinalRead(rctx, d, tl)
		if err == nil {
			break
		}
		if rctx.Err() != nil {
			t.Fatalf("final read: %v", err)
		}
		time.Sleep(time.Second)
	}
	rec := tl.Snapshot()
	res, err := measure.Analyse(rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	out.Acked, out.Indeterminate = res.WritesAcked, res.WritesIndeterminate
	out.Lost = slices.Sorted(slices.Values(res.Lost))
	out.Landed = slices.Sorted(slices.Values(append(slices.Clone(res.Recovered), res.Unexpected...)))
	if res.RTO != nil {
		out.RTO = res.RTO.Duration()
	}
	if res.TimeToFullRedundancy != nil {
		out.FullRedundancy = res.TimeToFullRedundancy.Duration()
	}
	out.FullRedundancyRestore = res.RedundancyRestored
	if !res.ServiceRestored {
		t.Errorf("%s: service not restored within 5 minutes", variant)
	}

	// The test's own count: the member Patroni labels primary, its own
	// connection, the table's ids.
	present := independentIDs(t, ctx, cs, ns, user, password, table)
	acked := map[string]bool{}
	for _, w := range rec.Writes {
		if w.Type == measure.OpOK {
			acked[w.ID] = true
			if !present[w.ID] {
				out.IndependentLost = append(out.IndependentLost, w.ID)
			}
		}
	}
	for id := range present {
		if !acked[id] {
			out.IndependentLanded = append(out.IndependentLanded, id)
		}
	}
	slices.Sort(out.IndependentLost)
	slices.Sort(out.IndependentLanded)
	if res.IDsRead != len(present) {
		t.Errorf("rebound read %d ids, the test's SELECT %d", res.IDsRead, len(present))
	}
	// The probe table goes, so the next run starts from an empty one.
	if _, err := d.DeleteData(ctx, table); err != nil {
		t.Logf("drop %s: %v", table, err)
	}
	return out
}

// independentIDs selects every id of the probe table on the pod Patroni
// labels primary (role=master), over a pgx connection of the test's own.
func independentIDs(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, user, password, table string) map[string]bool {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: demoapps.PostgresSelector + ",role=" + demoapps.PatroniPrimaryRole})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
		t.Fatalf("want one pod labelled primary with an IP, have %d", len(pods.Items))
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", user, net.JoinHostPort(pods.Items[0].Status.PodIP, "5432"), user))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = password
	cfg.DialFunc = labnet.Dial
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		t.Fatalf("the test's own connection to %s: %v", pods.Items[0].Name, err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(cctx, "SELECT id FROM "+pgx.Identifier{table}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}
