package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/scenarios"
)

// Cluster is a cluster a run acts on beside the target's: the DR region a
// scenario recovers into (spec.dr). The caller connects it, and checks that
// it answers, before the run.
type Cluster struct {
	// Name names it for people and on the timeline: "lab rebound-dr", a
	// context.
	Name       string
	Kubeconfig string
	Context    string
	// Lab is the lab when the cluster is one; nil otherwise.
	Lab        *lab.Lab
	RestConfig *rest.Config // for port-forwards
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	// Backup restores the run's backups into this cluster, from the
	// repository the target's backups go to; nil when none was set up.
	Backup BackupEngine
	// RepositoryUnreachable says why this cluster's data movers cannot
	// reach the repository, when that is known before the run (a path on
	// this machine, for a cluster that is not a lab here); empty otherwise.
	RepositoryUnreachable string
}

// JournalCluster says how `rebound cleanup` reaches c, for what rebound
// makes in namespace ns there.
func (c *Cluster) JournalCluster(ns string) journal.Cluster {
	jc := journal.Cluster{Kubeconfig: c.Kubeconfig, Context: c.Context, Namespace: ns}
	if c.Lab != nil {
		jc.Lab, jc.StateDir, jc.Kubeconfig = c.Lab.Name, c.Lab.StateDir, c.Lab.Kubeconfig()
	}
	return jc
}

// DRKey is the key of a scenario's DR cluster in Options.DR.
func DRKey(d *scenarios.DR) string {
	if d.Lab != "" {
		return "lab/" + d.Lab
	}
	return "kubeconfig/" + d.Kubeconfig + "/" + d.Context
}

// checkDRSafety applies the safety rules to a scenario's DR cluster: its
// namespace, --yes for a cluster that is not a lab, and another cluster
// than the target's.
func checkDRSafety(opts Options, s *scenarios.Scenario) []error {
	dr := s.DR
	if dr == nil {
		return nil
	}
	var errs []error
	what := fmt.Sprintf("scenario %s (%s): spec.dr", s.Name, s.Source)
	switch ns := dr.Namespace; {
	case ns == "kube-system":
		errs = append(errs, fmt.Errorf("%w: %s names namespace kube-system of the DR cluster; rebound never acts there", ErrRefused, what))
	case !slices.Contains(opts.AllowNamespaces, ns):
		errs = append(errs, fmt.Errorf("%w: %s names namespace %q of %s, which is not in the allowlist %v: add --allow-namespace %s", ErrRefused, what, ns, dr, opts.AllowNamespaces, ns))
	}
	if dr.Lab == "" && !opts.Yes && !opts.DryRun {
		errs = append(errs, fmt.Errorf("%w: %s: the DR cluster (%s) is not a rebound lab: pass --yes to restore into it, or --dry-run to see what would happen", ErrRefused, what, dr))
	}
	same := dr.Lab != "" && opts.OnLab && opts.Lab != nil && opts.Lab.Name == dr.Lab
	if c := opts.DR[DRKey(dr)]; c != nil && !same && opts.RestConfig != nil && c.RestConfig != nil && c.RestConfig.Host == opts.RestConfig.Host {
		same = true
	}
	if same {
		errs = append(errs, fmt.Errorf("%w: %s: the DR cluster (%s) is the target's own cluster; a region loss takes both: name another cluster (rebound lab up --name dr --region lab-2)", ErrRefused, what, dr))
	}
	return errs
}

// drRun is a scenario's DR side as it runs.
type drRun struct {
	cluster   *Cluster
	namespace string
	env       *faults.Env
	// copy is the journaled restored copy in the DR cluster, while it is
	// not deleted.
	copy *journal.Entry
}

// prepareDR checks, before the fault, everything about the DR cluster that
// can be known then: it is connected, the recovery path can use it, the
// repository reaches it, and the namespace the copy goes into is free.
func (sr *scenarioRun) prepareDR(ctx context.Context) error {
	dr := sr.s.DR
	c := sr.r.opts.DR[DRKey(dr)]
	if c == nil {
		return fmt.Errorf("spec.dr: the DR cluster %s is not connected to this run", dr)
	}
	if sr.s.Recovery.Path == scenarios.RecoveryFailover {
		f, ok := sr.target.Driver.(apps.Failover)
		if !ok {
			return fmt.Errorf("recovery path failover: the %s driver cannot promote a standby in the DR cluster; recover with recovery.path restore", sr.s.Target.Driver)
		}
		if err := f.FailoverSupport(); err != nil {
			return fmt.Errorf("recovery path failover: the %s driver: %w", sr.s.Target.Driver, err)
		}
		return fmt.Errorf("recovery path failover: this rebound cannot drive a failover of the %s driver yet; recover with recovery.path restore", sr.s.Target.Driver)
	}
	if c.Backup == nil {
		return fmt.Errorf("spec.dr: no backup engine restores into the DR cluster %s, so the restore could not bring the app back there", dr)
	}
	if c.RepositoryUnreachable != "" {
		return fmt.Errorf("spec.dr: the DR cluster %s cannot reach the backup repository: %s", dr, c.RepositoryUnreachable)
	}
	if err := waitNamespaceFree(ctx, c.Kube, dr.Namespace, sr.s.PhaseTimeouts.SteadyState); err != nil {
		return fmt.Errorf("spec.dr: %s: %w", dr, err)
	}
	sr.dr = &drRun{cluster: c, namespace: dr.Namespace, env: &faults.Env{
		Kube: c.Kube, Dynamic: c.Dynamic, Lab: c.Lab, Namespace: dr.Namespace, Selector: labels.Everything(),
		RunID: sr.runID, Scenario: sr.s.Name, Log: sr.log, Out: sr.r.opts.Out,
	}}
	return nil
}

// waitNamespaceFree waits for a namespace being deleted to be gone, and
// refuses one that exists: the restore makes the copy's namespace, and
// deleting it afterwards must not delete anything of anyone else's.
func waitNamespaceFree(ctx context.Context, kube kubernetes.Interface, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("read namespace %s: %w", name, err)
		case ns.DeletionTimestamp == nil:
			return fmt.Errorf("namespace %s already exists there; the restore makes the copy's namespace and deletes it when the scenario is over: delete it, or name another spec.dr.namespace", name)
		case time.Now().After(deadline):
			return fmt.Errorf("namespace %s is still being deleted after %s", name, timeout)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// restoreIntoDR journals the copy the restore makes in the DR cluster,
// points the probes at it, and restores backup id there. The copy's undo
// (delete its namespace) is on disk before the restore acts.
func (sr *scenarioRun) restoreIntoDR(ctx context.Context, id string) error {
	d := sr.dr
	r := sr.r
	e := journal.Entry{
		ID: sr.runID + "/" + sr.s.Name + "/dr", Run: sr.runID, Scenario: sr.s.Name, Fault: "dr-restore",
		Description: fmt.Sprintf("the app's copy restored into namespace %s of %s", d.namespace, d.cluster.Name),
		State:       journal.StatePending, Cluster: d.cluster.JournalCluster(d.namespace),
		Undo: []journal.Undo{faults.DeleteObjectUndo("", "v1", "namespaces", "", d.namespace)},
	}
	e.Undo[0].Describe = fmt.Sprintf("delete namespace %s of %s (the DR copy)", d.namespace, d.cluster.Name)
	if err := r.journal.Write(e); err != nil {
		return fmt.Errorf("journal before the restore into the DR cluster (nothing was restored): %w", err)
	}
	d.copy = &e
	loc, err := locate(sr.s.Target.Endpoints.Mode, d.cluster.Name, d.cluster.Kube, d.cluster.RestConfig, d.cluster.Lab != nil, d.namespace)
	if err != nil {
		return err
	}
	// From now on the probes, the endpoints and the redundancy follow the
	// copy in the DR cluster.
	sr.target.moveTo(loc)
	sr.note("the probes follow the app to namespace %s of %s", d.namespace, d.cluster.Name)
	into := sr.target.Target // the same app, in the DR cluster
	into.Cluster, into.Kube, into.Namespace = d.cluster.Name, d.cluster.Kube, d.namespace
	err = d.cluster.Backup.Restore(ctx, &into, id)
	e.State = journal.StateApplied
	*d.copy = e
	if jerr := r.journal.Write(e); jerr != nil {
		err = errors.Join(err, jerr)
	}
	return err
}

// deleteDRCopy deletes the copy the restore made in the DR cluster, on a
// fresh context, and journals it.
func (sr *scenarioRun) deleteDRCopy() error {
	d := sr.dr
	if d == nil || d.copy == nil {
		return nil
	}
	e := *d.copy
	fmt.Fprintf(sr.r.opts.Out, "  %s: deleting the DR copy: namespace %s of %s\n", sr.s.Name, d.namespace, d.cluster.Name)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := faults.Recover(ctx, d.env, e.Undo); err != nil {
		e.State, e.Error = journal.StateFailed, err.Error()
		_ = sr.r.journal.Write(e)
		return fmt.Errorf("delete the DR copy: %w (run `rebound cleanup`)", err)
	}
	e.State = journal.StateRecovered
	if err := sr.r.journal.Write(e); err != nil {
		return err
	}
	d.copy = nil
	if sr.tl != nil {
		sr.tl.RecordIn(d.cluster.Name, measure.Mark, "deleted the DR copy: namespace "+d.namespace)
	}
	return nil
}
