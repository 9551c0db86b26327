package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

// Errors callers branch on with errors.Is.
var (
	// ErrRefused: the safety rules refuse the drill; nothing was changed.
	ErrRefused = errors.New("refused")
	// ErrNoBackup: there is no backup to drill (an empty repository, an
	// id that names none); nothing was changed.
	ErrNoBackup = errors.New("no backup to drill")
)

// NamespacePrefix starts the name of every scratch namespace a drill
// makes up; such a name needs no --allow-namespace.
const NamespacePrefix = "rebound-drill-"

// DefaultProbes is how many write-probe ids a drill writes before taking
// its own backup.
const DefaultProbes = 100

// Take says which app a drill backs up itself.
type Take struct {
	Namespace string
	Selector  labels.Selector
	Driver    string // app driver name: it writes the probe ids
}

// Options configure one drill.
type Options struct {
	// Backup is the backup to drill: an id, a prefix of one, or "latest";
	// empty means take a new one of Take with Source.
	Backup string
	Take   Take
	// Source is the engine on the cluster of the app (for Take); Target
	// the engine on the cluster the copy goes to, and TargetKube that
	// cluster. Source may be Target.
	Source     *backup.Engine
	Target     *backup.Engine
	TargetKube kubernetes.Interface
	// Namespace is the scratch namespace; empty makes one up
	// (NamespacePrefix + the drill's id). It must not exist, unless
	// ReuseNamespace.
	Namespace string
	// ReuseNamespace restores into Namespace, which must exist and hold
	// no workloads, no claims and no object of the backup; afterwards the
	// drill deletes the backup's objects and the claims from it, not the
	// namespace (see reuse.go). For a drill whose credentials may not
	// create namespaces, such as the Helm chart's CronJob.
	ReuseNamespace bool
	// AllowNamespaces are the namespaces a drill may act in besides made-up
	// scratch namespaces: the source app's (it writes probe ids there) and
	// a scratch namespace given by name. kube-system never.
	AllowNamespaces []string
	// OnLab is true when the clusters are the lab; otherwise Yes must
	// confirm acting on them.
	OnLab, Yes bool
	// Keep leaves the scratch namespace for inspection.
	Keep bool
	// Timeout bounds each wait: the restore's steps, the namespace gone.
	Timeout time.Duration
	// Probes is how many write-probe ids to write before taking a backup
	// (default DefaultProbes).
	Probes int
	// RTO, when set, is the target for the time to a verified copy.
	RTO *time.Duration
	// Journal records the scratch namespace before it is created, with
	// Cluster saying how `rebound cleanup` reaches it; RunID names the
	// drill's journal entries.
	Journal *journal.Journal
	Cluster journal.Cluster
	RunID   string
	// ClusterName names the target cluster in the report ("lab" or a
	// context).
	ClusterName string
	// Out gets a line per step; Progress the engine's progress reports.
	Out      io.Writer
	Progress func(backup.Progress)
	// Clock is what the drill's timeline reads (nil: the system clock).
	Clock measure.HostClock
}

// drillRun is one drill as it runs.
type drillRun struct {
	o      Options
	id     string
	ns     string
	tl     *measure.Timeline
	d      reports.Drill
	m      *backup.Manifest
	notes  []string
	t0     time.Duration
	done   time.Duration  // when the last check ended, from the timeline's start
	serve  *time.Duration // when the copy's health was verified, from T0
	miss   []string
	nsUsed *journal.Entry
}

func (r *drillRun) say(format string, a ...any) {
	if r.o.Out != nil {
		fmt.Fprintf(r.o.Out, "drill: "+format+"\n", a...)
	}
}

func (r *drillRun) note(format string, a ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
	r.say(format, a...)
}

// check records a check's outcome on the report and the timeline.
func (r *drillRun) check(c reports.DrillCheck) reports.DrillCheck {
	r.d.Checks = append(r.d.Checks, c)
	r.tl.Record(measure.Mark, fmt.Sprintf("%s %s", c.Name, c.Status))
	r.say("%s: %s: %s", c.Name, c.Status, c.Detail)
	return c
}

// skipRest records every check after name as not made, and why.
func (r *drillRun) skipRest(after, why string) {
	order := []string{CheckIntegrity, CheckRestore, CheckHealth, CheckProbeIDs, CheckChecksum}
	for _, n := range order[slices.Index(order, after)+1:] {
		r.check(notMade(n, "%s", why))
	}
}

// NewID makes a drill id: short, random, fit for a namespace name.
func NewID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run runs one drill and returns its report. The error is non-nil only
// when the drill could not run (refused, no backup, the cluster or the
// app unreachable before anything was restored, Ctrl-C): a failed check
// is a verdict in the report, not an error. The scratch namespace is
// deleted (unless Keep) whatever happened, on a fresh context.
func Run(ctx context.Context, o Options) (*reports.Scenario, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Probes <= 0 {
		o.Probes = DefaultProbes
	}
	if o.Source == nil {
		o.Source = o.Target
	}
	r := &drillRun{o: o, id: NewID()}
	if o.RunID == "" {
		r.o.RunID = "drill-" + r.id
	}
	r.ns = o.Namespace
	if r.ns == "" {
		r.ns = NamespacePrefix + r.id
	}
	if err := CheckSafety(o, r.ns); err != nil {
		return nil, err
	}
	if o.ReuseNamespace {
		if err := checkReusable(ctx, o.TargetKube, r.ns); err != nil {
			return nil, err
		}
	} else if _, err := o.TargetKube.CoreV1().Namespaces().Get(ctx, r.ns, metav1.GetOptions{}); err == nil {
		return nil, fmt.Errorf("%w: namespace %s exists: a drill restores only into a new namespace, which it deletes afterwards; name another with --scratch-namespace, leave it out for a new one, or add --reuse-namespace to restore into it (it must hold no workloads or claims)", ErrRefused, r.ns)
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("look up the scratch namespace %s: %w", r.ns, err)
	}
	start := time.Now()
	r.tl = measure.NewTimeline(o.Clock)
	r.d = reports.Drill{Namespace: r.ns, Cluster: o.ClusterName, Reused: o.ReuseNamespace}

	var info *backup.Info
	var err error
	if o.Backup == "" {
		info, err = r.take(ctx)
	} else {
		info, r.m, err = o.Target.Describe(ctx, o.Backup)
		if errors.Is(err, backup.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrNoBackup, err)
		}
		if errors.Is(err, repo.ErrCorrupt) {
			// The backup's own snapshot or manifest is damaged: a drill
			// result, not an error to run it.
			return r.damaged(start, o.Backup, err), nil
		}
	}
	if err != nil {
		return nil, err
	}
	r.d.Backup, r.d.SourceNamespace = info.ID, r.m.Namespace
	r.d.Cut, r.d.CutUnknown = r.m.Cut, r.m.CutUnknown
	if o.ReuseNamespace {
		if err := checkNoneOf(ctx, o.TargetKube, r.ns, r.m); err != nil {
			return nil, err
		}
	}

	runErr := r.restoreAndVerify(ctx)
	r.cleanup()
	if runErr != nil {
		return nil, runErr
	}
	return r.scenario(start), nil
}

// damaged is the report of a backup whose manifest cannot be read.
func (r *drillRun) damaged(start time.Time, ref string, err error) *reports.Scenario {
	r.d.Backup = ref
	r.tl.Record(measure.RecoveryStarted, "verify backup "+ref)
	r.t0 = r.tl.Now()
	r.check(failed(CheckIntegrity, "backup %s is damaged: %v", ref, err))
	r.skipRest(CheckIntegrity, "the backup is damaged: not restored")
	r.done = r.tl.Now()
	return r.scenario(start)
}

// CheckSafety refuses kube-system, namespaces outside the allowlist (a
// made-up scratch namespace is always allowed), and a cluster that is not
// the lab without Yes.
func CheckSafety(o Options, scratch string) error {
	var errs []error
	allowed := func(what, ns string) {
		switch {
		case ns == "kube-system":
			errs = append(errs, fmt.Errorf("%w: the %s is kube-system; rebound never acts there", ErrRefused, what))
		case !slices.Contains(o.AllowNamespaces, ns):
			errs = append(errs, fmt.Errorf("%w: the %s %q is not in the allowlist %v: add --allow-namespace %s", ErrRefused, what, ns, o.AllowNamespaces, ns))
		}
	}
	if o.Namespace != "" {
		allowed("scratch namespace", scratch)
	}
	if o.ReuseNamespace && o.Namespace == "" {
		errs = append(errs, fmt.Errorf("%w: --reuse-namespace restores into a namespace that exists: name it with --scratch-namespace", ErrRefused))
	}
	if o.Backup == "" {
		if o.Take.Namespace == "" || o.Take.Driver == "" {
			errs = append(errs, fmt.Errorf("%w: a drill that takes its own backup needs the app's namespace and driver (-n/--namespace, --driver), or give --backup latest|ID", ErrRefused))
		} else {
			allowed("app's namespace (the drill writes its probe ids there)", o.Take.Namespace)
		}
	}
	if !o.OnLab && !o.Yes {
		errs = append(errs, fmt.Errorf("%w: the cluster is not the rebound lab: pass --yes to restore into it", ErrRefused))
	}
	return errors.Join(errs...)
}

// take writes the drill's probe ids into the app, backs it up recording
// them, and deletes them from the app again.
func (r *drillRun) take(ctx context.Context) (*backup.Info, error) {
	o := r.o
	prefix := probePrefix(o.Take.Driver, r.id)
	d, err := o.Source.Connect(ctx, o.Take.Driver, o.Take.Namespace, o.Take.Selector, prefix)
	if err != nil {
		return nil, fmt.Errorf("connect to the %s app in %s: %w", o.Take.Driver, o.Take.Namespace, err)
	}
	defer d.Close()
	ids := make([]string, o.Probes)
	for i := range ids {
		ids[i] = fmt.Sprintf("drill-%s-%05d", r.id, i+1)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := d.Write(wctx, ids[i])
		cancel()
		if err != nil {
			r.removeProbes(d, prefix)
			return nil, fmt.Errorf("write probe id %s into the %s app in %s (nothing was backed up): %w", ids[i], o.Take.Driver, o.Take.Namespace, err)
		}
	}
	r.say("wrote %d probe ids under %s into %s; taking a backup", len(ids), prefix, o.Take.Namespace)
	res, err := o.Source.Backup(ctx, backup.Request{
		Name: "drill-" + r.id, Namespace: o.Take.Namespace, Selector: o.Take.Selector, DriverName: o.Take.Driver, Driver: d,
		Tags: []string{"drill"}, Progress: o.Progress,
		Probes: func(clock.Instant) *backup.ProbeRecord {
			return &backup.ProbeRecord{Driver: o.Take.Driver, Prefix: prefix, Acked: ids}
		},
	})
	r.removeProbes(d, prefix)
	if err != nil {
		return nil, fmt.Errorf("take the backup to drill: %w", err)
	}
	r.m = res.Manifest
	r.d.Taken = true
	r.placeCut(res.ID)
	r.say("backup %s taken (level %s)", res.ID[:8], res.Manifest.Level)
	info, _, err := o.Target.Describe(ctx, res.ID)
	if err != nil {
		return nil, fmt.Errorf("find the backup just taken, %s: %w", res.ID[:8], err)
	}
	return info, nil
}

// removeProbes deletes the drill's probe ids from the source app: the
// backup holds them, the app need not.
func (r *drillRun) removeProbes(d apps.Driver, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.DeleteData(ctx, probeScope(r.o.Take.Driver, prefix)); err != nil {
		r.note("the drill's probe ids under %s could not be deleted from the app in %s: %v", prefix, r.o.Take.Namespace, err)
	}
}

// probePrefix is where a drill's probe ids live in the app, as its driver
// names a run's records (apps.App.Records): an etcd key prefix, an index.
func probePrefix(driver, id string) string {
	app, err := apps.Lookup(driver)
	if err != nil {
		return "/rebound/drill/" + id // connecting says what is wrong
	}
	return app.Records("drill", id)
}

// probeScope is what DeleteData removes to take the probe ids away.
func probeScope(driver, prefix string) string {
	if driver == "etcd" {
		return prefix + "/"
	}
	return prefix
}

// placeCut puts the cut of the backup the drill just took on its timeline
// when this host's monotonic clock can place it. (A backup picked from the
// repository may be days old: its cut is in the report, off the timeline.)
func (r *drillRun) placeCut(id string) {
	if r.m.CutUnknown != "" {
		r.tl.RecordBackupUnknownCut(id, r.m.CutUnknown)
		return
	}
	at, err := r.tl.HostOffset(r.m.CutAt)
	if err != nil {
		return // taken elsewhere: its wall-clock cut is in the report
	}
	r.tl.RecordBackup(id, at)
}

// restoreAndVerify verifies the backup's objects, restores it into the
// scratch namespace, and checks the copy. Only an interruption (ctx done)
// or a journal that cannot be written is an error.
func (r *drillRun) restoreAndVerify(ctx context.Context) error {
	o, id := r.o, r.d.Backup
	r.tl.Record(measure.RecoveryStarted, fmt.Sprintf("drill: verify and restore backup %s into %s", id[:8], r.ns))
	r.t0 = r.tl.Now()
	defer func() { r.done = r.tl.Now() }()

	r.say("reading every object of backup %s", id[:8])
	if err := o.Target.VerifyBackup(ctx, id); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.check(failed(CheckIntegrity, "backup %s is damaged: %v", id[:8], err))
		r.skipRest(CheckIntegrity, "the backup is damaged: not restored")
		return nil
	}
	r.check(verified(CheckIntegrity, "every object of backup %s read, authenticated and checked against its id", id[:8]))

	if err := r.journalNamespace(); err != nil {
		return err
	}
	r.say("restoring backup %s into namespace %s", id[:8], r.ns)
	restoreStart := time.Now()
	r.d.Created = true // from here on the namespace may exist
	res, err := o.Target.Restore(ctx, backup.RestoreRequest{
		Backup: id, Namespace: r.ns, Timeout: o.Timeout, SkipVerify: true, Progress: o.Progress,
	})
	r.d.Restore = measure.Millis(r.tl.Now() - r.t0)
	r.tl.Record(measure.RecoveryFinished, "restore of "+id[:8]+" finished")
	if res != nil {
		for _, w := range res.Warnings {
			r.note("restore: %s", w)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.check(failed(CheckRestore, "the restore into %s failed after %s: %v", r.ns, time.Since(restoreStart).Round(time.Millisecond), err))
		r.skipRest(CheckRestore, "the restore failed")
		return nil
	}
	r.check(verified(CheckRestore, "restored into %s: %d objects created, workloads Ready, the app healthy by the engine's check", r.ns, len(res.Created)))

	if r.m.Driver == "" {
		r.skipRest(CheckRestore, "the backup names no app driver: rebound cannot ask the copy for its health or data")
		return nil
	}
	sel, err := labels.Parse(r.m.Selector)
	if err != nil {
		r.skipRest(CheckRestore, fmt.Sprintf("the backup's selector %q does not parse: %v", r.m.Selector, err))
		return nil
	}
	prefix := ""
	if r.m.Probes != nil {
		prefix = r.m.Probes.Prefix
	}
	d, err := o.Target.Connect(ctx, r.m.Driver, r.ns, sel, prefix)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.check(failed(CheckHealth, "cannot connect to the copy: %v", err))
		r.skipRest(CheckHealth, "the copy cannot be reached")
		return nil
	}
	defer d.Close()
	verifyCopy(ctx, d, r.m, r.check, func(c reports.DrillCheck) {
		now := r.tl.Now() - r.t0
		if c.Status == reports.DrillVerified {
			r.serve = &now
		}
	}, func(missing []string) { r.miss = missing })
	return ctx.Err()
}

// verifyCopy makes the checks on the copy, through its driver: health,
// then the probe ids, then the checksum. check records each; healthy is
// told the health check's outcome as soon as it is known, missing the ids
// the probe-ids check did not find.
func verifyCopy(ctx context.Context, d apps.Driver, m *backup.Manifest, check func(reports.DrillCheck) reports.DrillCheck,
	healthy func(reports.DrillCheck), missing func([]string)) {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	h, err := d.Health(hctx)
	cancel()
	healthy(check(checkHealth(h, err)))

	var read []string
	var readErr error
	if m.Probes != nil {
		if m.Probes.Driver != "" && m.Probes.Driver != m.Driver {
			readErr = fmt.Errorf("the ids were written by the %s driver, the backup's app is %s", m.Probes.Driver, m.Driver)
		} else {
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			read, readErr = d.ReadAll(rctx)
			cancel()
		}
	}
	c, miss := checkIDs(m.Probes, read, readErr)
	check(c)
	missing(miss)

	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	check(checkSums(sctx, d, m.Data))
	cancel()
}

// journalNamespace records, before the restore creates it, how to delete
// the scratch namespace, so `rebound cleanup` does after a crash.
func (r *drillRun) journalNamespace() error {
	if r.o.Journal == nil {
		return nil
	}
	c := r.o.Cluster
	c.Namespace = r.ns
	if r.o.ReuseNamespace {
		e := journal.Entry{
			ID: r.o.RunID + "/objects", Run: r.o.RunID, Scenario: "drill", Fault: "drill-objects",
			Description: "the objects a restore drill restores into the scratch namespace " + r.ns, State: journal.StatePending,
			Undo: objectUndo(r.ns, r.m), Cluster: c,
		}
		if err := r.o.Journal.Write(e); err != nil {
			return fmt.Errorf("journal the objects of the restore before creating them (nothing was created): %w", err)
		}
		r.nsUsed = &e
		return nil
	}
	e := journal.Entry{
		ID: r.o.RunID + "/namespace", Run: r.o.RunID, Scenario: "drill", Fault: "drill-namespace",
		Description: "the scratch namespace " + r.ns + " of a restore drill", State: journal.StatePending,
		Undo: []journal.Undo{faults.DeleteObjectUndo("", "v1", "namespaces", "", r.ns)}, Cluster: c,
	}
	if err := r.o.Journal.Write(e); err != nil {
		return fmt.Errorf("journal the scratch namespace before creating it (nothing was created): %w", err)
	}
	r.nsUsed = &e
	return nil
}

// cleanup deletes the scratch namespace and waits until it is gone, or
// with Keep leaves it and says so; either way the journal no longer
// holds it for cleanup.
func (r *drillRun) cleanup() {
	if !r.d.Created {
		return // the restore was never asked to create it
	}
	done := func(errText string) {
		if r.nsUsed == nil {
			return
		}
		e := *r.nsUsed
		e.Undo, e.State = nil, journal.StateRecovered
		if errText != "" {
			e.State, e.Error = journal.StateFailed, errText
		}
		if err := r.o.Journal.Write(e); err != nil {
			r.note("journal: %v", err)
		}
	}
	if r.o.Keep && r.o.ReuseNamespace {
		r.d.Kept = true
		r.note("the restored objects are kept in %s for inspection (--keep): the next drill into it is refused until they are deleted (kubectl -n %s delete statefulsets,deployments,pvc --all)", r.ns, r.ns)
		done("")
		return
	}
	if r.o.Keep {
		r.d.Kept = true
		r.note("the scratch namespace %s is kept for inspection (--keep): delete it with kubectl delete namespace %s", r.ns, r.ns)
		done("")
		return
	}
	if r.o.ReuseNamespace {
		r.say("deleting the restored objects from %s (the namespace stays)", r.ns)
		if err := deleteRestored(context.Background(), r.o.TargetKube, r.ns, r.m, r.o.Timeout); err != nil {
			r.d.Cleanup = fmt.Sprintf("the restored objects in %s were not all deleted: %v; run rebound cleanup", r.ns, err)
			r.note("%s", r.d.Cleanup)
			done(err.Error())
			return
		}
		r.d.Deleted = true
		r.say("the restored objects are gone from %s", r.ns)
		done("")
		return
	}
	r.say("deleting the scratch namespace %s", r.ns)
	err := backup.DeleteNamespace(context.Background(), r.o.TargetKube, r.ns, r.o.Timeout)
	if err != nil {
		r.d.Cleanup = fmt.Sprintf("the scratch namespace %s was not deleted: %v; run rebound cleanup", r.ns, err)
		r.note("%s", r.d.Cleanup)
		done(err.Error())
		return
	}
	r.d.Deleted = true
	r.say("the scratch namespace %s is gone", r.ns)
	done("")
}
