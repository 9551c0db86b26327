package drillcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/cli/backupcmd"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/kubeclient"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/drill"
	"github.com/reboundhq/rebound/journal"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"

	// The app drivers register themselves.
	_ "github.com/reboundhq/rebound/apps/elasticsearch"
	_ "github.com/reboundhq/rebound/apps/etcd"
	_ "github.com/reboundhq/rebound/apps/postgres"
)

// DemoNamespace is the lab's demo app, allowed by default.
const DemoNamespace = "rebound-demo"

type flags struct {
	file                    string
	specFlags               []string // flags given that a -f document sets
	backupRef               string
	namespace, selector     string
	driver                  string
	scratch                 string
	allow                   []string
	keep, yes, reuse        bool
	timeout, every, rto     time.Duration
	count, probes           int
	kubeconfig, kubeContext string
	fromKubeconfig, fromCtx string
	reportDir               string
	formats                 []string
	repo                    backupcmd.RepoFlags
}

// NewCommand builds `rebound drill`.
func NewCommand(s streams.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Restore a backup into a scratch namespace, verify it, measure it, delete it",
		Long: `A restore drill: prove a backup restores, and how long it takes.

With -n/--namespace and --driver, the drill writes a known set of probe ids
into the app, takes a backup that records them, and deletes them from the
app again; with --backup latest|ID it drills a backup already in the
repository. Then it reads every object of the backup (a damaged one fails
the drill, naming the object), restores it into a new scratch namespace
(rebound-drill-<id> unless --scratch-namespace names one; it must not
exist), and checks the copy:

  health     the app driver's own health of the copy is full;
  probe-ids  every write-probe id the backup recorded as acknowledged
             before its cut is present (backups taken by rebound drill, or
             by a game day scenario with probes, record them; for others
             the check is not made, and the report says so);
  checksum   the driver's key count and hash of the data, recorded at
             backup time at the cut's revision, equal the copy's at the
             same revision (etcd; not made for drivers without one).

It reports the time from the restore's start to a verified, serving copy
like any scenario (table; report.json, junit.xml, report.html, report.md in
--report-dir), states what was verified and what was not, and deletes the
scratch namespace (journaled before it is created, so rebound cleanup
deletes it after a crash). --keep leaves it for inspection.

--reuse-namespace restores into the --scratch-namespace that exists
instead, for credentials that may not create namespaces (the Helm chart's
drill CronJob, whose Role there grants just the restore's verbs). It must
hold no StatefulSets, Deployments or claims, nor any object of the backup;
afterwards the drill deletes the backup's objects and every claim from it
(journaled before the restore) and leaves the namespace.

--kubeconfig/--context name the cluster the copy goes to (default: the
lab; in a pod with no lab, the pod's in-cluster credentials);
--from-kubeconfig/--from-context the app's, when the drill takes the backup
(default: the same). A cluster that is not the lab needs --yes.

-f FILE runs the Drill document of FILE instead (the same document rebound
run -f runs beside fault scenarios; examples/drill.yaml documents it); the
flags for what to drill are then refused, those for where are not.

One drill and exit, for cron or a Kubernetes CronJob; --every repeats it in
the foreground until Ctrl-C (or --count drills), each drill's reports
replacing the last one's in --report-dir.

Exit codes: 0 verified; 1 a check failed (a damaged backup, a missing id, a
checksum that differs, a copy not healthy, slower than --rto); 2 bad
input (or an id that names no backup); 3 interrupted (the scratch namespace
deleted); 4 the scratch namespace could not be deleted (run rebound
cleanup); 5 could not run (no backup in the repository, the cluster or the
app unreachable). See docs/exit-codes.md.`,
		Example: `  rebound drill -n rebound-demo -l app.kubernetes.io/name=etcd --driver etcd
  rebound drill --backup latest
  rebound drill --backup 1a2b3c4d --keep
  rebound drill --backup latest --kubeconfig ~/.kube/dr-cluster --yes
  rebound drill --backup latest --scratch-namespace rebound-drill --reuse-namespace --allow-namespace rebound-drill --yes
  rebound drill -n rebound-demo -l app.kubernetes.io/name=etcd --driver etcd --every 1h --rto 5m
  rebound drill -f examples/drill.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range specFlagNames {
				if cmd.Flags().Changed(name) {
					f.specFlags = append(f.specFlags, "--"+name)
				}
			}
			return runE(cmd.Context(), s, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "run the one Drill document of this file (kind: Drill, see docs); it sets what --backup, -n, -l, --driver, --scratch-namespace, --reuse-namespace, --keep, --timeout, --probes and --rto set")
	fl.StringVar(&f.backupRef, "backup", "", "drill this backup (an id, a prefix of one, or latest) instead of taking one")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the app to back up (when the drill takes the backup)")
	fl.StringVarP(&f.selector, "selector", "l", "", "label selector of the app's objects (default: every object of the namespace)")
	fl.StringVar(&f.driver, "driver", "", "app driver of the app to back up: etcd or elasticsearch")
	fl.StringVar(&f.scratch, "scratch-namespace", "", "restore into this namespace (must not exist; needs --allow-namespace); default rebound-drill-<id>")
	fl.StringArrayVar(&f.allow, "allow-namespace", []string{DemoNamespace}, "namespaces the drill may act in besides its own rebound-drill-<id> (kube-system never)")
	fl.BoolVar(&f.keep, "keep", false, "leave the scratch namespace (with --reuse-namespace: the restored objects) for inspection")
	fl.BoolVar(&f.reuse, "reuse-namespace", false, "restore into the --scratch-namespace that exists (no workloads or claims in it) and delete only the restored objects afterwards, not the namespace")
	fl.BoolVar(&f.yes, "yes", false, "confirm acting on a cluster that is not the lab")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long to wait for each step (restore steps, the namespace gone)")
	fl.DurationVar(&f.rto, "rto", 0, "target for the time to a verified, serving copy (default: none)")
	fl.IntVar(&f.probes, "probes", drill.DefaultProbes, "write-probe ids written before a backup the drill takes")
	fl.DurationVar(&f.every, "every", 0, "repeat the drill at this interval, in the foreground, until Ctrl-C")
	fl.IntVar(&f.count, "count", 0, "with --every: stop after this many drills")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster the copy goes to (default: the lab's)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context of that cluster")
	fl.StringVar(&f.fromKubeconfig, "from-kubeconfig", "", "kubeconfig of the app's cluster, when the drill takes the backup (default: --kubeconfig)")
	fl.StringVar(&f.fromCtx, "from-context", "", "kubeconfig context of the app's cluster (default: --context)")
	fl.StringVar(&f.reportDir, "report-dir", reports.DefaultDir, "folder the reports are written into")
	fl.StringSliceVar(&f.formats, "format", reports.Formats(), "report formats to write")
	f.repo.AddFlags(fl, "")
	return cmd
}

func invalid(err error) error { return exitcode.With(exitcode.InvalidInput, err) }
func notRun(err error) error  { return exitcode.With(exitcode.NotRun, err) }

// specFlagNames are the flags whose settings a Drill document (-f) holds.
var specFlagNames = []string{"backup", "namespace", "selector", "driver", "scratch-namespace", "reuse-namespace", "keep", "timeout", "probes", "rto"}

// check refuses flags that do not go together; nothing is touched yet.
func (f *flags) check() error {
	var errs []error
	taking := f.namespace != "" || f.driver != "" || f.selector != ""
	switch {
	case f.file != "" && len(f.specFlags) > 0:
		errs = append(errs, fmt.Errorf("-f %s sets the drill; drop %s or set them in the file", f.file, strings.Join(f.specFlags, ", ")))
	case f.file != "":
	case f.backupRef != "" && taking:
		errs = append(errs, errors.New("give --backup (drill a backup in the repository) or -n/--namespace with --driver (take one), not both"))
	case f.backupRef == "" && (f.namespace == "" || f.driver == ""):
		errs = append(errs, errors.New("nothing to drill: give --backup latest|ID, or -n/--namespace and --driver for the drill to take a backup of the app"))
	}
	if f.reuse && f.scratch == "" {
		errs = append(errs, errors.New("--reuse-namespace restores into a namespace that exists: name it with --scratch-namespace"))
	}
	if f.count > 0 && f.every <= 0 {
		errs = append(errs, errors.New("--count goes with --every"))
	}
	if f.every < 0 || f.timeout <= 0 || f.rto < 0 || f.probes <= 0 {
		errs = append(errs, fmt.Errorf("--every %s, --timeout %s, --rto %s, --probes %d: give positive values", f.every, f.timeout, f.rto, f.probes))
	}
	for _, name := range f.formats {
		if _, err := reports.New(name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := reports.CheckDir(f.reportDir); err != nil {
		errs = append(errs, fmt.Errorf("%w; give --report-dir a folder that can be written", err))
	}
	if err := errors.Join(errs...); err != nil {
		return invalid(err)
	}
	return nil
}

// target is a cluster the drill acts on.
type target struct {
	kube    kubernetes.Interface
	journal journal.Cluster // how rebound cleanup reaches it
	name    string          // for reports: "lab", "in-cluster" or the context
	onLab   bool
}

// connect loads a kubeconfig (the lab's by default), and makes its first
// call, bounded, so that an unreachable cluster ends the drill at once.
func connect(ctx context.Context, kubeconfig, kubeContext string) (target, error) {
	onLab := kubeconfig == ""
	path := kubeconfig
	if onLab {
		path = rlab.DefaultOptions().Kubeconfig()
	}
	if inCluster(kubeconfig, path) {
		// In a pod (a CronJob) with no lab: the pod's own credentials.
		onLab, path = false, ""
	}
	cl, err := kubeclient.Load(path, kubeContext)
	if err != nil {
		if onLab {
			return target{}, notRun(fmt.Errorf("kubeconfig %s: %w (is the lab up? rebound lab up; or give --kubeconfig)", path, err))
		}
		return target{}, notRun(fmt.Errorf("kubeconfig %s: %w", path, err))
	}
	cl.Config.QPS, cl.Config.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(cl.Config)
	if err != nil {
		return target{}, err
	}
	if err := cl.Ping(ctx); err != nil {
		return target{}, notRun(err)
	}
	abs := ""
	if path != "" {
		if abs, err = filepath.Abs(path); err != nil {
			return target{}, err
		}
	}
	t := target{kube: kube, journal: journal.Cluster{Kubeconfig: abs, Context: kubeContext}, name: cl.Context, onLab: onLab}
	if path == "" {
		t.name = "in-cluster"
	}
	if onLab {
		o := rlab.DefaultOptions()
		t.journal.Lab, t.journal.StateDir, t.name = o.Name, o.StateDir, "lab"
	}
	return t, nil
}

// inCluster reports whether to use the pod's in-cluster credentials: no
// --kubeconfig, no lab kubeconfig, and the pod's service environment set.
func inCluster(kubeconfig, labKubeconfig string) bool {
	if kubeconfig != "" || os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return false
	}
	_, err := os.Stat(labKubeconfig)
	return errors.Is(err, os.ErrNotExist)
}

func runE(ctx context.Context, s streams.Streams, f *flags) error {
	if err := f.check(); err != nil {
		return err
	}
	var spec *scenarios.Drill
	if f.file != "" {
		objs, err := scenarios.Load(f.file)
		if err != nil {
			return invalid(err)
		}
		if len(objs.Drills) != 1 {
			return invalid(fmt.Errorf("-f %s: want exactly one Drill, found %d (rebound run -f runs several, beside scenarios)", f.file, len(objs.Drills)))
		}
		spec = objs.Drills[0]
		if !spec.Takes() {
			// As --backup: an id that names no backup is bad input.
			f.backupRef = spec.Backup
		}
	}
	var sel labels.Selector = labels.Everything()
	if f.selector != "" {
		p, err := labels.Parse(f.selector)
		if err != nil {
			return invalid(fmt.Errorf("--selector %q: %w", f.selector, err))
		}
		sel = p
	}
	// Ctrl-C and SIGTERM stop the drill; it still deletes its namespace.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	dst, err := connect(ctx, f.kubeconfig, f.kubeContext)
	if err != nil {
		return err
	}
	src := dst
	fromOther := f.backupRef == "" && (f.fromKubeconfig != "" || f.fromCtx != "")
	if fromOther {
		fk := f.fromKubeconfig
		if fk == "" {
			fk = f.kubeconfig
		}
		fc := f.fromCtx
		if fc == "" {
			fc = f.kubeContext
		}
		if src, err = connect(ctx, fk, fc); err != nil {
			return err
		}
	}

	stateDir := rlab.DefaultOptions().StateDir
	runID := fmt.Sprintf("drill-%s-%d", time.Now().UTC().Format("20060102-150405"), os.Getpid())
	j, err := journal.OpenJournal(stateDir, runID)
	if err != nil {
		return fmt.Errorf("open the journal in %s (it records the scratch namespace for rebound cleanup): %w", stateDir, err)
	}
	defer func() {
		// A journal a refused drill wrote nothing to is not kept.
		j.Close()
		if st, err := os.Stat(j.Path()); err == nil && st.Size() == 0 {
			_ = os.Remove(j.Path())
		}
	}()
	targetEngine, err := f.repo.Engine(ctx, dst.kube, s.Err, backup.WithJournal(j, runID, dst.journal))
	if err != nil {
		return err
	}
	defer targetEngine.Close()
	source := targetEngine
	if fromOther {
		if source, err = f.repo.Engine(ctx, src.kube, s.Err, backup.WithJournal(j, runID, src.journal)); err != nil {
			return err
		}
		defer source.Close()
	}

	o := drill.Options{
		Backup: f.backupRef, Take: drill.Take{Namespace: f.namespace, Selector: sel, Driver: f.driver},
		Source: source, Target: targetEngine, TargetKube: dst.kube, Namespace: f.scratch, ReuseNamespace: f.reuse, AllowNamespaces: f.allow,
		OnLab: dst.onLab && src.onLab, Yes: f.yes, Keep: f.keep,
		Timeout: f.timeout, Probes: f.probes, Journal: j, Cluster: dst.journal, ClusterName: dst.name, Out: s.Out,
		Progress: drill.ProgressTo(s.Err),
	}
	if f.rto > 0 {
		o.RTO = &f.rto
	}
	if spec != nil {
		if o, err = drill.FromSpec(o, spec); err != nil {
			return invalid(err)
		}
	}
	if f.every <= 0 {
		return once(ctx, s, f, o)
	}
	return repeat(ctx, s, f, o)
}

// once runs one drill, writes its reports, and maps the outcome to the
// exit code contract.
func once(ctx context.Context, s streams.Streams, f *flags, o drill.Options) error {
	started := time.Now().UTC()
	sc, err := drill.Run(ctx, o)
	switch {
	case errors.Is(err, drill.ErrRefused):
		return invalid(err)
	case errors.Is(err, drill.ErrNoBackup) && f.backupRef != "latest":
		return invalid(err)
	case errors.Is(err, drill.ErrNoBackup):
		return notRun(err)
	case err != nil && ctx.Err() != nil:
		return exitcode.With(exitcode.Aborted, fmt.Errorf("drill interrupted (its scratch namespace, with --reuse-namespace the restored objects, deleted unless said otherwise above): %w", err))
	case err != nil:
		return notRun(fmt.Errorf("the drill could not run: %w", err))
	}
	run := &reports.Run{ID: sc.Name + "-" + started.Format("20060102-150405"), StartedAt: started,
		Cluster: o.ClusterName, Scenarios: []reports.Scenario{*sc}}
	if err := run.Finalize(time.Now().UTC()); err != nil {
		return err
	}
	fmt.Fprintln(s.Out)
	if err := reports.WriteTable(s.Out, run, reports.TableOptionsFor(s.Out, os.LookupEnv)); err != nil {
		return err
	}
	files, err := reports.WriteAll(f.reportDir, run, f.formats...)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "\nreports: %s\n", strings.Join(files, ", "))
	d := sc.Drill
	switch {
	case d.Cleanup != "":
		return exitcode.With(exitcode.CleanupIncomplete, errors.New(d.Cleanup))
	case sc.Status() != reports.StatusPass:
		return exitcode.With(exitcode.Breached, fmt.Errorf("drill of backup %s: %s: %s", d.Backup[:min(8, len(d.Backup))], sc.Status(), strings.Join(sc.Result.Verdict.Breaches, "; ")))
	}
	fmt.Fprintf(s.Out, "backup %s verified: a serving copy in %s\n", d.Backup[:8], d.TimeToVerified.Duration().Round(time.Millisecond))
	return nil
}

// repeat runs a drill at once and then every f.every until Ctrl-C or
// f.count drills; a failed drill is reported and the schedule goes on. It
// exits with the code of the first drill that did not verify, if any.
func repeat(ctx context.Context, s streams.Streams, f *flags, o drill.Options) error {
	fmt.Fprintf(s.Out, "a drill every %s; Ctrl-C stops\n", f.every)
	var first error
	failed, n := 0, 0
	for {
		n++
		err := once(ctx, s, f, o)
		if err != nil {
			failed++
			fmt.Fprintf(s.Out, "%s drill %d: %v\n", time.Now().Format("15:04:05"), n, err)
			if first == nil && exitcode.Of(err) != exitcode.Aborted {
				first = err
			}
		}
		if ctx.Err() != nil || (f.count > 0 && n >= f.count) {
			break
		}
		next := time.Now().Add(f.every)
		fmt.Fprintf(s.Out, "next drill at %s\n", next.Format("15:04:05"))
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(next)):
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first != nil {
		return exitcode.With(exitcode.Of(first), fmt.Errorf("%d of %d drills did not verify; the first: %w", failed, n, first))
	}
	return nil
}
