// Package run is `rebound run`, `rebound cleanup` and `rebound mark`: run
// scenarios (by default the default game day on the local lab), roll back
// from the journal after a crash, and mark manual faults and recoveries.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/cli/backupcmd"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/kubeclient"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/drill"
	"github.com/reboundhq/rebound/journal"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/logging"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/runner"
	"github.com/reboundhq/rebound/scenarios"
	demoapps "github.com/reboundhq/rebound/scenarios/apps"

	// The app drivers register themselves.
	_ "github.com/reboundhq/rebound/apps/elasticsearch"
	_ "github.com/reboundhq/rebound/apps/etcd"
	_ "github.com/reboundhq/rebound/apps/postgres"
)

// DemoNamespace is where `rebound run` deploys the demo app on the lab.
const DemoNamespace = "rebound-demo"

// DefaultDRLab is the lab the built-in catalog's region-loss scenario
// restores into.
const DefaultDRLab = "rebound-dr"

type flags struct {
	files         []string
	gameday       string
	app           string
	scenarioNames []string
	kubeconfig    string
	kubeContext   string
	yes           bool
	dryRun        bool
	allow         []string
	ladderFile    string
	rung          string
	reportDir     string
	reportURL     string
	formats       []string
	metricsAddr   string
	pushURL       string
	cloudSecret   string
	noDeploy      bool
	drLab         string
	backup        backupcmd.RepoFlags
}

// NewCommand builds `rebound run`.
func NewCommand(s streams.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run scenarios and report the RTO and RPO they achieved",
		Long: `Run scenarios: for each, check the app is healthy, start the probes, take a
backup if asked, inject the fault, observe, recover (self-heal, restore or a
person), read every record back, and measure RTO, time to full redundancy,
lost acknowledged writes and RPO against the ladder's targets.

With no arguments it brings the local lab up, deploys the demo etcd app into
namespace rebound-demo and runs the default game day (node loss, zone outage,
disk loss, human error, region loss), then prints the table and writes every
report into ./rebound-report/. Region loss restores the demo app into a
second lab, the DR region (lab ` + DefaultDRLab + `, region lab-2), which it brings
up beside the first and leaves up like the first (rebound lab down --name
` + DefaultDRLab + `).

A scenario with spec.dr acts on two clusters: the fault in its target's,
the restore in the DR cluster, where the probes follow the app. The safety
rules apply to both; a DR cluster that does not answer, or is the target's
own, is refused before anything is touched.

Drill documents (kind: Drill) of the -f files run after the scenarios, as
rebound drill runs them: each is reported as a scenario of the run (a
failed check is a breach, a drill that could not run an ERROR) and not
ranked on the ladder. --scenario picks them by name too.

Every fault's undo is journaled before it acts; Ctrl-C rolls everything back,
and after a crash 'rebound cleanup' does. kube-system is always refused, and
so is any namespace not allowed with --allow-namespace (rebound-demo is). A
cluster that is not the lab needs --yes.

Exit codes: 0 every target met; 1 every scenario ran and a target was
breached (or the data showed a bug); 2 invalid input; 3 aborted and rolled
back; 4 cleanup incomplete (run 'rebound cleanup'); 5 could not run (the
cluster did not answer within 10s, the lab did not come up, a scenario ended
in ERROR, such as a fault that never took effect). See docs/exit-codes.md.`,
		Example: `  rebound run                                  # the default game day on the lab
  rebound run --dry-run                        # what it would do, changing nothing
  rebound run --scenario node-loss --scenario pause
  rebound run -f my-scenarios/ --kubeconfig ~/.kube/aks --allow-namespace search --yes
  rebound run --gameday smoke --rung zone-redundant --format json,junit
  rebound run --app postgres                   # the PostgreSQL game day on the lab's demo Patroni cluster
  rebound run --scenario region-loss --dr-lab dr   # restore into lab dr (rebound lab up --name dr --region lab-2)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runE(cmd.Context(), s, f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "file", "f", nil, "scenario, drill or ladder file, or a folder of them (repeatable); default: the built-in catalog")
	fl.StringVar(&f.gameday, "gameday", scenarios.DefaultGameDayName, "run the scenarios of this game day (label rebound.dev/gameday)")
	fl.StringVar(&f.app, "app", "etcd", "the lab's demo app to run the game day against: etcd, or postgres (its game day, against the demo PostgreSQL deployed when absent)")
	fl.StringArrayVar(&f.scenarioNames, "scenario", nil, "run only these scenarios, by name (repeatable)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the target cluster; default: the local lab")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.BoolVar(&f.yes, "yes", false, "confirm injecting faults into a cluster that is not the lab")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print every object and action; change nothing")
	fl.StringArrayVar(&f.allow, "allow-namespace", []string{DemoNamespace}, "namespaces scenarios may act in (kube-system never)")
	fl.StringVar(&f.ladderFile, "ladder", "", "ladder file; default: the built-in default ladder")
	fl.StringVar(&f.rung, "rung", "", "rung whose targets scenarios are judged against; default: the ladder's strictest")
	fl.StringVar(&f.reportDir, "report-dir", reports.DefaultDir, "folder the reports are written into")
	fl.StringSliceVar(&f.formats, "format", reports.Formats(), "report formats to write")
	fl.StringVar(&f.reportURL, "report-url", "", "also upload the reports to this object storage bucket, under the run's ID (s3://bucket?region=…&prefix=reports/, azblob://…, gs://…; credentials from the environment)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address during the run (e.g. 127.0.0.1:9464)")
	fl.StringVar(&f.pushURL, "push-url", "", "push the final metrics to this Prometheus Pushgateway")
	fl.StringVar(&f.cloudSecret, "cloud-secret", "cloud-key-secret", "Secret with cloud credentials for Chaos Mesh node power")
	fl.BoolVar(&f.noDeploy, "no-deploy", false, "on the lab, do not deploy the demo app")
	fl.StringVar(&f.drLab, "dr-lab", "", "recover the scenarios that name a DR cluster (spec.dr) into this lab instead; the default game day's is "+DefaultDRLab)
	f.backup.AddFlags(fl, "backup-")
	return cmd
}

func invalid(err error) error { return exitcode.With(exitcode.InvalidInput, err) }

func notRun(err error) error { return exitcode.With(exitcode.NotRun, err) }

// selection is what a run runs: scenarios, judged against a ladder, and
// restore drills (the Drill documents of the -f files), reported beside
// them and not ranked.
type selection struct {
	list   []*scenarios.Scenario
	drills []*scenarios.Drill
	ladder *scenarios.Ladder
}

// selectScenarios loads the scenarios, the drills and the ladder the flags
// ask for. --scenario picks drills by name too; a game day picks scenarios
// only, and the drills of the -f files run with it.
func selectScenarios(f *flags) (*selection, error) {
	var list []*scenarios.Scenario
	var drills []*scenarios.Drill
	var ladder *scenarios.Ladder
	if len(f.files) == 0 {
		all, err := scenarios.Catalog()
		if err != nil {
			return nil, err
		}
		list = all
	}
	for _, file := range f.files {
		objs, err := scenarios.Load(file)
		if err != nil {
			return nil, invalid(err)
		}
		list = append(list, objs.Scenarios...)
		drills = append(drills, objs.Drills...)
		if len(objs.Ladders) > 0 {
			ladder = objs.Ladders[0]
		}
	}
	if f.ladderFile != "" {
		objs, err := scenarios.Load(f.ladderFile)
		if err != nil {
			return nil, invalid(err)
		}
		if len(objs.Ladders) != 1 {
			return nil, invalid(fmt.Errorf("--ladder %s: want exactly one Ladder, found %d", f.ladderFile, len(objs.Ladders)))
		}
		ladder = objs.Ladders[0]
	}
	if ladder == nil {
		l, err := scenarios.DefaultLadder()
		if err != nil {
			return nil, err
		}
		ladder = l
	}
	switch {
	case len(f.scenarioNames) > 0:
		var picked []*scenarios.Scenario
		var pickedDrills []*scenarios.Drill
		for _, n := range f.scenarioNames {
			found := false
			for _, s := range list {
				if s.Name == n {
					picked, found = append(picked, s), true
				}
			}
			for _, d := range drills {
				if d.Name == n {
					pickedDrills, found = append(pickedDrills, d), true
				}
			}
			if !found {
				var names []string
				for _, s := range list {
					names = append(names, s.Name)
				}
				for _, d := range drills {
					names = append(names, d.Name+" (drill)")
				}
				return nil, invalid(fmt.Errorf("--scenario %s: no such scenario (have %s)", n, strings.Join(names, ", ")))
			}
		}
		list, drills = picked, pickedDrills
	case len(f.files) == 0 || f.gameday != scenarios.DefaultGameDayName:
		list = scenarios.GameDay(list, f.gameday)
	}
	for _, d := range drills {
		for _, sc := range list {
			if sc.Name == d.Name {
				return nil, invalid(fmt.Errorf("drill %s (%s) has the name of scenario %s (%s): reports name each by its name; rename one", d.Name, d.Source, sc.Name, sc.Source))
			}
		}
	}
	if len(list) == 0 && len(drills) == 0 {
		return nil, invalid(fmt.Errorf("no scenario selected (game day %q)", f.gameday))
	}
	return &selection{list: list, drills: drills, ladder: ladder}, nil
}

func runE(ctx context.Context, s streams.Streams, f *flags) error {
	if err := pickApp(f); err != nil {
		return invalid(err)
	}
	sel, err := selectScenarios(f)
	if err != nil {
		return err
	}
	list, ladder := sel.list, sel.ladder
	log := logging.FromContext(ctx)
	labOpts := rlab.DefaultOptions()
	l := rlab.New(labOpts, s.Out)
	if err := clusterFromScenarios(f, list); err != nil {
		return invalid(err)
	}
	overrideDR(list, f.drLab)
	// No kubeconfig means the local lab, except in a pod (the Helm chart's
	// CronJob), where it means the pod's own service account.
	onLab := f.kubeconfig == "" && !(f.kubeContext == "" && kubeclient.InCluster())
	opts := runner.Options{
		Kubeconfig: f.kubeconfig, Context: f.kubeContext, Lab: l, OnLab: onLab, Yes: f.yes, DryRun: f.dryRun,
		AllowNamespaces: f.allow, Ladder: ladder, Rung: f.rung, StateDir: labOpts.StateDir,
		CloudSecret: f.cloudSecret, Out: s.Out, Log: log,
	}
	if err := runner.CheckSafety(opts, list); err != nil {
		return invalid(err)
	}
	// The drills' own safety rules, before anything is changed.
	drillBase := drill.Options{AllowNamespaces: f.allow, OnLab: onLab, Yes: f.yes || f.dryRun}
	for _, d := range sel.drills {
		o, err := drill.FromSpec(drillBase, d)
		if err == nil {
			err = drill.CheckSafety(o, o.Namespace)
		}
		if err != nil {
			return invalid(fmt.Errorf("drill %s (%s): %w", d.Name, d.Source, err))
		}
	}
	for _, name := range f.formats {
		if _, err := reports.New(name); err != nil {
			return invalid(err)
		}
	}
	// Refused now rather than after the run, which would lose its results.
	if err := reports.CheckDir(f.reportDir); err != nil {
		return invalid(fmt.Errorf("%w; give --report-dir a folder that can be written", err))
	}

	// Ctrl-C and SIGTERM abort the run, which rolls back; a second one
	// kills the process, and `rebound cleanup` finishes the job.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	kubeconfig := f.kubeconfig
	if onLab {
		kubeconfig = l.Kubeconfig()
		if !f.dryRun {
			if err := l.Up(ctx); err != nil {
				return notRun(fmt.Errorf("bring the lab up: %w", err))
			}
		}
	}
	cluster, err := kubeclient.Load(kubeconfig, f.kubeContext)
	if err != nil {
		if onLab && f.dryRun {
			return printUnresolved(s, f.app, list)
		}
		return notRun(fmt.Errorf("kubeconfig %s: %w", kubeconfig, err))
	}
	if cluster.InCluster {
		fmt.Fprintf(s.Out, "cluster: %s\n", cluster.Describe())
	}
	rc := cluster.Config
	kube, dyn, err := clients(rc)
	if err != nil {
		return err
	}
	// The first call: a cluster that does not answer ends the run here,
	// naming the server, rather than hanging in the first phase.
	if err := cluster.Ping(ctx); err != nil {
		return notRun(err)
	}
	opts.RestConfig = rc
	// The DR clusters (spec.dr): brought up when labs, and each must
	// answer, before anything is touched.
	var targetLab *rlab.Lab
	if onLab {
		targetLab = l
	}
	if opts.DR, err = connectDR(ctx, f, list, targetLab, s.Out); err != nil {
		return err
	}
	if err := runner.CheckSafety(opts, list); err != nil {
		return invalid(err)
	}
	if onLab && !f.noDeploy {
		if f.dryRun {
			fmt.Fprintf(s.Out, "would deploy the demo %s app into namespace %s (if missing)\n", f.app, DemoNamespace)
		} else {
			fmt.Fprintf(s.Out, "deploying the demo %s app into namespace %s\n", f.app, DemoNamespace)
			d := demo{app: f.app, rc: rc, kube: kube}
			if err := d.deployOrRepair(ctx, DemoNamespace, s.Out); err != nil {
				return notRun(fmt.Errorf("deploy the demo app: %w", err))
			}
			opts.Redeploy = d.redeploy
		}
	}

	runID := runner.NewRunID()
	if !f.dryRun {
		// One journal for the run: the faults the runner applies and the
		// data movers (and their key Secret) the backup engine creates, so
		// `rebound cleanup` removes both after a kill -9.
		j, err := journal.OpenJournal(opts.StateDir, runID)
		if err != nil {
			return err
		}
		defer j.Close()
		opts.Journal = j
		// The backup engine scenarios back up with and restore from; the
		// lab's own repository unless --backup-repo names another.
		eng, err := f.backup.Engine(ctx, kube, s.Err, backup.WithJournal(j, runID, runner.JournalCluster(opts)))
		if err != nil {
			return err
		}
		defer eng.Close()
		opts.Backup = eng.ForRunner()
		closeDR, err := drEngines(ctx, f, opts.DR, j, runID, s.Err)
		if err != nil {
			return err
		}
		defer closeDR()
		drillBase.Source, drillBase.Target, drillBase.TargetKube = eng, eng, kube
		drillBase.Journal, drillBase.Cluster, drillBase.RunID = j, runner.JournalCluster(opts), runID
		drillBase.ClusterName, drillBase.Out = clusterName(onLab, l.Name, cluster), s.Out
		drillBase.Progress = drill.ProgressTo(s.Err)
	}

	opts.Live = reports.NewLive(runID)
	if f.metricsAddr != "" {
		srv, err := opts.Live.Listen(f.metricsAddr)
		if err != nil {
			return invalid(fmt.Errorf("--metrics-addr: %w", err))
		}
		go func() { _ = srv.Serve(ctx) }()
		fmt.Fprintf(s.Out, "serving metrics on http://%s/metrics\n", srv.Addr())
	}
	marks, stopMarks, err := listenMarks(labOpts.StateDir)
	if err != nil {
		return err
	}
	defer stopMarks()
	opts.Marks = marks

	var run *reports.Run
	var runErr error
	if len(list) > 0 {
		r, err := runner.New(opts, kube, dyn, list)
		if err != nil {
			return invalid(err)
		}
		run, runErr = r.Run(ctx, runID, list)
	} else {
		run = &reports.Run{ID: runID, StartedAt: time.Now().UTC(), Cluster: clusterName(onLab, l.Name, cluster)}
	}
	if f.dryRun {
		for _, d := range sel.drills {
			fmt.Fprintf(s.Out, "would run drill %s (%s): restore backup %s into a scratch namespace, verify it, delete it\n", d.Name, d.Source, d.Backup)
		}
		return runErr
	}
	if runErr == nil {
		runErr = runDrills(ctx, drillBase, sel.drills, run, drill.Run)
	}
	return finish(s, f, run, runErr)
}

// clusterName names the run's cluster in reports, as the runner does.
func clusterName(onLab bool, lab string, c *kubeclient.Cluster) string {
	switch {
	case onLab:
		return "lab " + lab
	case c.InCluster:
		return "in-cluster"
	}
	return c.Context
}

// runDrills runs each drill with runDrill (drill.Run) and appends its
// report to run, as a scenario of it: its checks and RTO target decide its
// status, and so the exit code. A drill that could not run is a scenario in
// ERROR; a scratch namespace that could not be deleted is incomplete
// cleanup. Ctrl-C ends the drills and is returned.
func runDrills(ctx context.Context, base drill.Options, drills []*scenarios.Drill,
	run *reports.Run, runDrill func(context.Context, drill.Options) (*reports.Scenario, error)) error {
	for _, d := range drills {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		o, err := drill.FromSpec(base, d)
		var sc *reports.Scenario
		if err == nil {
			sc, err = runDrill(ctx, o)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("drill %s interrupted (its scratch namespace deleted unless said otherwise above): %w", d.Name, err)
		case err != nil:
			sc = &reports.Scenario{Name: d.Name, Disruption: drill.Disruption, Fault: drill.FaultNone, Recovery: drill.RecoveryRestore,
				Error: fmt.Sprintf("the drill could not run: %v", err)}
		default:
			sc.Name = d.Name
			if sc.Drill != nil && sc.Drill.Cleanup != "" {
				run.CleanupIncomplete = append(run.CleanupIncomplete, sc.Drill.Cleanup)
			}
		}
		run.Scenarios = append(run.Scenarios, *sc)
	}
	return nil
}

// clusterFromScenarios takes the cluster from the scenarios' own
// target.kubeconfig and target.context when the flags name none. One run
// acts on one cluster: scenarios naming different ones are refused.
func clusterFromScenarios(f *flags, list []*scenarios.Scenario) error {
	for _, s := range list {
		kc, ctx := s.Target.Kubeconfig, s.Target.Context
		if kc == "" && ctx == "" {
			continue
		}
		if f.kubeconfig == "" && f.kubeContext == "" {
			f.kubeconfig, f.kubeContext = kc, ctx
			if f.kubeconfig == "" {
				f.kubeconfig = clientcmd.RecommendedHomeFile
				if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
					f.kubeconfig = strings.Split(env, string(os.PathListSeparator))[0]
				}
			}
			continue
		}
		if (kc != "" && kc != f.kubeconfig) || (ctx != "" && ctx != f.kubeContext) {
			return fmt.Errorf("scenario %s (%s) targets kubeconfig %q context %q, but this run targets kubeconfig %q context %q: one run acts on one cluster; run them separately or drop target.kubeconfig/context", s.Name, s.Source, kc, ctx, f.kubeconfig, f.kubeContext)
		}
	}
	return nil
}

// finish finalizes the verdicts, then flushes every output, in that order,
// and maps the outcome to the exit code.
func finish(s streams.Streams, f *flags, run *reports.Run, runErr error) error {
	if err := run.Finalize(time.Now().UTC()); err != nil {
		return errors.Join(runErr, err)
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
	if f.reportURL != "" {
		if keys, err := reports.Upload(context.Background(), f.reportURL, run, files); err != nil {
			fmt.Fprintf(s.Err, "upload reports: %v\n", err)
		} else {
			fmt.Fprintf(s.Out, "uploaded: %s\n", strings.Join(keys, ", "))
		}
	}
	if f.pushURL != "" {
		if err := reports.Push(context.Background(), f.pushURL, "rebound", run); err != nil {
			fmt.Fprintf(s.Err, "push metrics: %v\n", err)
		}
	}
	switch {
	case len(run.CleanupIncomplete) > 0:
		return exitcode.With(exitcode.CleanupIncomplete, fmt.Errorf("cleanup incomplete: %s; run `rebound cleanup`", strings.Join(run.CleanupIncomplete, "; ")))
	case runErr != nil:
		return exitcode.With(exitcode.Aborted, fmt.Errorf("%w; every applied fault was rolled back", runErr))
	}
	return outcome(run.Scenarios)
}

// outcome maps the scenarios' statuses to the exit code contract. A scenario
// that ended in ERROR did not run (or could not be measured), so the game
// day has no result to judge: that outranks a breach, and exit 1 always
// means every scenario ran and some breached a target or showed a bug.
func outcome(list []reports.Scenario) error {
	var notRunNames, breached []string
	for i := range list {
		sc := &list[i]
		switch st := sc.Status(); st {
		case reports.StatusPass:
		case reports.StatusError:
			notRunNames = append(notRunNames, fmt.Sprintf("%s (%s)", sc.Name, sc.Error))
		default:
			breached = append(breached, fmt.Sprintf("%s (%s)", sc.Name, st))
		}
	}
	switch {
	case len(notRunNames) > 0:
		msg := "could not run: " + strings.Join(notRunNames, "; ")
		if len(breached) > 0 {
			msg += "; and targets not met: " + strings.Join(breached, ", ")
		}
		return notRun(errors.New(msg))
	case len(breached) > 0:
		return exitcode.With(exitcode.Breached, fmt.Errorf("targets not met: %s", strings.Join(breached, ", ")))
	}
	return nil
}

// clients makes the clients of a run or a cleanup from rc, with the connect
// timeout every rebound client carries.
func clients(rc *rest.Config) (kubernetes.Interface, dynamic.Interface, error) {
	kubeclient.WithConnectTimeout(rc)
	rc.QPS, rc.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	return kube, dyn, err
}

func printUnresolved(s streams.Streams, app string, list []*scenarios.Scenario) error {
	fmt.Fprintf(s.Out, "dry run: the lab is not up; `rebound run` would bring it up, deploy the demo %s app into %s, and run:\n", app, DemoNamespace)
	for _, sc := range list {
		fmt.Fprintf(s.Out, "  %s (%s): %s on %s, recovery %s\n", sc.Name, sc.Disruption, sc.Fault.Kind, sc.Target.Namespace, sc.Recovery.Path)
	}
	return nil
}

// pickApp checks --app and makes it pick its game day: the app's own
// (rebound.dev/gameday: postgres), unless --gameday, --scenario or -f
// choose the scenarios.
func pickApp(f *flags) error {
	if !slices.Contains(demoapps.Names(), f.app) {
		return fmt.Errorf("--app %s: no such demo app (have %s)", f.app, strings.Join(demoapps.Names(), ", "))
	}
	if f.app != "etcd" && f.gameday == scenarios.DefaultGameDayName && len(f.scenarioNames) == 0 && len(f.files) == 0 {
		f.gameday = f.app
	}
	return nil
}

// demo is the lab's demo app a run deploys.
type demo struct {
	app  string
	rc   *rest.Config
	kube kubernetes.Interface
}

// deploy deploys the demo app (the variant deployed in ns before, if any,
// so a redeploy keeps a sync PostgreSQL sync) and waits until it serves.
func (d demo) deploy(ctx context.Context, ns, variant string) error {
	if err := demoapps.DeployVariant(ctx, d.kube, d.app, variant, ns); err != nil {
		return err
	}
	return demoapps.WaitReady(ctx, d.rc, d.kube, d.app, variant, ns, 3*time.Minute)
}

// deployOrRepair deploys the demo app. One left broken by an earlier run
// (a wiped member that never rejoins, after a run that was stopped before
// it could redeploy) is deployed afresh: it is rebound's own demo, holding
// nothing but probe records.
func (d demo) deployOrRepair(ctx context.Context, ns string, out io.Writer) error {
	variant, err := demoapps.DeployedVariant(ctx, d.kube, d.app, ns)
	if err != nil {
		return err
	}
	if err := demoapps.DeployVariant(ctx, d.kube, d.app, variant, ns); err != nil {
		return err
	}
	err = demoapps.WaitReady(ctx, d.rc, d.kube, d.app, variant, ns, time.Minute)
	if err == nil || ctx.Err() != nil {
		return err
	}
	fmt.Fprintf(out, "the demo %s app in %s is not ready (%v): deploying it afresh\n", d.app, ns, err)
	return d.redeployVariant(ctx, ns, variant)
}

// redeploy deletes the demo namespace, waits until it is gone, and deploys
// the app again, in the variant it had.
func (d demo) redeploy(ctx context.Context, ns string) error {
	variant, err := demoapps.DeployedVariant(ctx, d.kube, d.app, ns)
	if err != nil {
		return err
	}
	return d.redeployVariant(ctx, ns, variant)
}

func (d demo) redeployVariant(ctx context.Context, ns, variant string) error {
	if err := backup.DeleteNamespace(ctx, d.kube, ns, 2*time.Minute); err != nil {
		return err
	}
	return d.deploy(ctx, ns, variant)
}

// markFile holds the pid of the run that takes marks.
func markFile(stateDir string) string { return filepath.Join(stateDir, "run.pid") }

// listenMarks turns SIGUSR1 into a "fault" mark and SIGUSR2 into a
// "recovered" mark, and advertises this process for `rebound mark`.
func listenMarks(stateDir string) (<-chan string, func(), error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, nil, err
	}
	_ = os.WriteFile(markFile(stateDir), []byte(strconv.Itoa(os.Getpid())), 0o644)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	marks := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if sig == syscall.SIGUSR1 {
					marks <- "fault"
				} else {
					marks <- "recovered"
				}
			}
		}
	}()
	return marks, func() {
		signal.Stop(sigs)
		close(done)
		_ = os.Remove(markFile(stateDir))
	}, nil
}
