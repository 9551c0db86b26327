package backupcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
	_ "github.com/reboundhq/rebound/apps/etcd" // backups of etcd
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/journal"
	rlab "github.com/reboundhq/rebound/lab"
)

// common are the flags of every `rebound backup` command.
type common struct {
	repo        RepoFlags
	kubeconfig  string
	kubeContext string
	// stateDir holds the journal (default: the lab's state folder, which
	// `rebound cleanup` reads); journal is open while a command acts.
	stateDir string
	journal  *journal.Journal
}

func invalid(err error) error { return exitcode.With(exitcode.InvalidInput, err) }

// kubeconfigPath is the kubeconfig the flags name, or the lab's.
func (c *common) kubeconfigPath() string {
	if c.kubeconfig == "" {
		return rlab.DefaultOptions().Kubeconfig()
	}
	return c.kubeconfig
}

// kube connects to the cluster the flags name (default: the lab).
func (c *common) kube() (kubernetes.Interface, error) {
	kc := c.kubeconfigPath()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kc},
		&clientcmd.ConfigOverrides{CurrentContext: c.kubeContext}).ClientConfig()
	if err != nil {
		if c.kubeconfig == "" {
			return nil, fmt.Errorf("kubeconfig %s: %w (is the lab up? rebound lab up; or give --kubeconfig)", kc, err)
		}
		return nil, fmt.Errorf("kubeconfig %s: %w", kc, err)
	}
	rc.QPS, rc.Burst = 50, 100
	return kubernetes.NewForConfig(rc)
}

// engine opens the engine, with a cluster when withKube. An engine that
// acts on a cluster journals the data movers' key Secrets and pods it
// creates, so that `rebound cleanup` deletes them after a crash; callers
// defer c.closeJournal().
func (c *common) engine(ctx context.Context, s streams.Streams, withKube bool) (*backup.Engine, error) {
	if !withKube {
		return c.repo.Engine(ctx, nil, s.Err)
	}
	kube, err := c.kube()
	if err != nil {
		return nil, err
	}
	j, run, cluster, err := c.openJournal()
	if err != nil {
		return nil, err
	}
	e, err := c.repo.Engine(ctx, kube, s.Err, backup.WithJournal(j, run, cluster))
	if err != nil {
		c.closeJournal()
		return nil, err
	}
	return e, nil
}

// openJournal opens this command's journal in the state folder, and says
// how cleanup reaches the cluster: by an absolute kubeconfig path, so that
// cleanup run from another folder finds it.
func (c *common) openJournal() (*journal.Journal, string, journal.Cluster, error) {
	stateDir := c.stateDir
	if stateDir == "" {
		stateDir = rlab.DefaultOptions().StateDir
	}
	kc, err := filepath.Abs(c.kubeconfigPath())
	if err != nil {
		return nil, "", journal.Cluster{}, fmt.Errorf("kubeconfig %s: %w", c.kubeconfigPath(), err)
	}
	cluster := journal.Cluster{Kubeconfig: kc, Context: c.kubeContext}
	if c.kubeconfig == "" {
		o := rlab.DefaultOptions()
		cluster.Lab, cluster.StateDir = o.Name, o.StateDir
	}
	run := fmt.Sprintf("backup-%s-%d", time.Now().UTC().Format("20060102-150405"), os.Getpid())
	j, err := journal.OpenJournal(stateDir, run)
	if err != nil {
		return nil, "", journal.Cluster{}, fmt.Errorf("open the journal in %s (it records the data movers' key Secrets for rebound cleanup): %w", stateDir, err)
	}
	c.journal = j
	return j, run, cluster, nil
}

// closeJournal closes the command's journal, and removes it when nothing
// was recorded (a backup with no data movers).
func (c *common) closeJournal() {
	if c.journal == nil {
		return
	}
	path := c.journal.Path()
	c.journal.Close()
	c.journal = nil
	if st, err := os.Stat(path); err == nil && st.Size() == 0 {
		_ = os.Remove(path)
	}
}

// NewCommand builds `rebound backup` and its subcommands.
func NewCommand(s streams.Streams) *cobra.Command {
	c := &common{}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Back up and restore apps with rebound's own engine",
		Long: `Back up a whole app — its data by app-native means where rebound has a driver
(an etcd snapshot, an Elasticsearch snapshot), else a copy of each of its
volumes; its ConfigMaps and Secrets (Secrets sealed apart); its StatefulSets,
Deployments, Services, PVCs, PDBs, ServiceAccounts, Roles and RoleBindings —
into a deduplicating, compressed, encrypted and verified repository, and
restore it into the same namespace (a roll back) or another one, or another
cluster, with nothing but the repository and its key.

Each backup records the consistency it achieved: crash, app, db, or system
(data, config and metadata together).

With no --repo, commands use the lab's own repository under the lab's state
folder, made on first use with a key file beside it.`,
		Example: `  rebound backup create -n rebound-demo -l app.kubernetes.io/name=etcd --driver etcd
  rebound backup list
  rebound backup restore latest -n rebound-demo-copy
  rebound backup schedule -n rebound-demo -l app.kubernetes.io/name=etcd --driver etcd --every 5m --keep-last 6`,
	}
	pf := cmd.PersistentFlags()
	c.repo.AddFlags(pf, "")
	pf.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: the lab's)")
	pf.StringVar(&c.kubeContext, "context", "", "kubeconfig context")
	cmd.AddCommand(initCommand(s, c), createCommand(s, c), listCommand(s, c), describeCommand(s, c),
		verifyCommand(s, c), deleteCommand(s, c), pruneCommand(s, c), restoreCommand(s, c), scheduleCommand(s, c))
	cmd.AddCommand(moverCommands(s)...)
	return cmd
}

func initCommand(s streams.Streams, c *common) *cobra.Command {
	var newKey string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a backup repository",
		Long: `Create an empty repository at --repo, encrypted with the key in --key-file.
With --new-key FILE it first writes a new random key to FILE (mode 0600,
refused if FILE exists). Refused where anything is already stored.`,
		Example: `  rebound backup init --repo /srv/rebound-backups --new-key ~/.config/rebound/backup.key
  rebound backup init --repo 's3://my-bucket?region=eu-west-1&prefix=rebound/' --key-file key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if newKey != "" {
				if c.repo.KeyFile != "" {
					return invalid(errors.New("give --new-key or --key-file, not both"))
				}
				f, err := os.OpenFile(newKey, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
				if err != nil {
					return invalid(fmt.Errorf("--new-key: %w", err))
				}
				_, err = f.WriteString(repo.EncodeKey(repo.GenerateKey()) + "\n")
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				c.repo.KeyFile = newKey
				fmt.Fprintf(s.Out, "wrote a new key to %s: keep it safe; without it the backups cannot be read\n", newKey)
			}
			url, key, _, err := c.repo.resolve()
			if err != nil {
				return err
			}
			r, err := repo.Init(cmd.Context(), url, key)
			if errors.Is(err, repo.ErrNotEmpty) {
				return invalid(err)
			}
			if err != nil {
				return err
			}
			defer r.Close()
			fmt.Fprintf(s.Out, "created repository %s (id %s)\n", r.Location(), r.ID())
			return nil
		},
	}
	cmd.Flags().StringVar(&newKey, "new-key", "", "write a new random key to this file and use it")
	return cmd
}

type createFlags struct {
	namespace, selector, driver, name, data string
	secretRef                               string
	tags, esIndices                         []string
	noConfig, noMetadata, freeze            bool
	esRepo, esRepoType                      string
	esRepoSettings                          map[string]string
}

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the app (required)")
	fl.StringVarP(&f.selector, "selector", "l", "", "label selector of the app's objects (default: every object of the namespace)")
	fl.StringVar(&f.driver, "driver", "", "app driver for an app-native backup: etcd, elasticsearch or postgres")
	fl.StringVar(&f.secretRef, "secret-ref", "", "a Secret of the namespace with the driver's credentials (keys username, password, ca.crt), as a scenario's endpoints.secretRef; the restore uses it too")
	fl.StringVar(&f.name, "name", "", "a name for people")
	fl.StringVar(&f.data, "data", "auto", "how data is captured: auto (native where the driver has a way, else volumes), native, pvc or none")
	fl.StringArrayVar(&f.tags, "tag", nil, "tag the backup (repeatable)")
	fl.BoolVar(&f.noConfig, "no-config", false, "leave out ConfigMaps and Secrets")
	fl.BoolVar(&f.noMetadata, "no-metadata", false, "leave out workloads, services, PVCs, PDBs and RBAC")
	fl.BoolVar(&f.freeze, "freeze", false, "with --data pvc: freeze the app around the volume copies (app level), where its driver can")
	fl.StringVar(&f.esRepo, "es-repository", "", "Elasticsearch: the snapshot repository's name")
	fl.StringVar(&f.esRepoType, "es-repository-type", "", "Elasticsearch: register the repository first, of this type (fs, s3 or azure); without it the repository must be registered already")
	fl.StringToStringVar(&f.esRepoSettings, "es-repository-setting", nil, "Elasticsearch: a setting of the repository rebound registers, KEY=VALUE (repeatable), e.g. location=/snapshots, or container=backups for azure")
	fl.StringArrayVar(&f.esIndices, "es-index", nil, "Elasticsearch: indices to snapshot (repeatable)")
	_ = cmd.MarkFlagRequired("namespace")
}

func (f *createFlags) request() (backup.Request, error) {
	sel, err := labels.Parse(f.selector)
	if err != nil {
		return backup.Request{}, invalid(fmt.Errorf("--selector: %w", err))
	}
	mode, err := backup.ParseDataMode(f.data)
	if err != nil {
		return backup.Request{}, invalid(fmt.Errorf("--data: %w", err))
	}
	if f.esRepoType != "" && !slices.Contains(elasticsearch.RepositoryTypes, f.esRepoType) {
		return backup.Request{}, invalid(fmt.Errorf("--es-repository-type %q: want fs, s3 or azure", f.esRepoType))
	}
	if f.esRepoType != "" && f.esRepo == "" {
		return backup.Request{}, invalid(errors.New("--es-repository-type needs --es-repository, the name to register the repository under"))
	}
	if len(f.esRepoSettings) > 0 && f.esRepoType == "" {
		return backup.Request{}, invalid(errors.New("--es-repository-setting needs --es-repository-type: settings are for a repository rebound registers"))
	}
	if f.driver != "" {
		if _, err := apps.Lookup(f.driver); err != nil {
			return backup.Request{}, invalid(fmt.Errorf("--driver: %w (or none, for a copy of the volumes)", err))
		}
	}
	var opts any
	if f.esRepo != "" || len(f.esIndices) > 0 {
		opts = elasticsearch.BackupOptions{Repository: f.esRepo, Type: f.esRepoType, Settings: f.esRepoSettings, Indices: f.esIndices}
	}
	return backup.Request{
		Name: f.name, Namespace: f.namespace, Selector: sel, DriverName: f.driver, SecretRef: f.secretRef, Data: mode, Tags: f.tags,
		SkipConfig: f.noConfig, SkipMetadata: f.noMetadata, Freeze: f.freeze, AppOptions: opts,
	}, nil
}

func createCommand(s streams.Streams, c *common) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Take a backup of an app",
		Long: `Take one backup of the app in --namespace chosen by --selector. The backup
exists only once everything in it is stored: interrupted (Ctrl-C, kill -9),
it leaves no backup, only unreferenced chunks that 'rebound backup prune'
removes, and every earlier backup still restores.`,
		Example: `  rebound backup create -n rebound-demo -l app.kubernetes.io/name=etcd --driver etcd --name before-upgrade
  rebound backup create -n shop --data pvc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			e, err := c.engine(ctx, s, true)
			if err != nil {
				return err
			}
			defer c.closeJournal()
			defer e.Close()
			rep := newReporter(s.Err)
			defer rep.close()
			req.Progress = rep.report
			res, err := e.Backup(ctx, req)
			if err != nil {
				return err
			}
			rep.close()
			m := res.Manifest
			cut := m.Cut.Local().Format(time.RFC3339Nano)
			if m.CutUnknown != "" {
				cut = "none (crash-level copy; see describe)"
			}
			fmt.Fprintf(s.Out, "backup %s taken: level %s, cut %s, %d objects, %s (%s new, %s stored) in %s\n",
				res.ID, m.Level, cut, len(m.Resources), humanBytes(res.Bytes),
				humanBytes(res.NewBytes), humanBytes(res.StoredBytes), res.Duration.Round(time.Millisecond))
			for _, w := range m.Warnings {
				fmt.Fprintf(s.Err, "warning: %s\n", w)
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func listCommand(s streams.Streams, c *common) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backups of the repository, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := c.engine(cmd.Context(), s, false)
			if err != nil {
				return err
			}
			defer e.Close()
			list, lerr := e.List(cmd.Context())
			if lerr != nil && list == nil {
				return lerr
			}
			switch output {
			case "json":
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if list == nil {
					list = []backup.Info{}
				}
				if err := enc.Encode(list); err != nil {
					return err
				}
			case "", "table":
				tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTIME\tNAMESPACE\tLEVEL\tSIZE\tNAME\tTAGS")
				for _, b := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Short(), b.Time.Local().Format("2006-01-02 15:04:05"), b.Namespace, b.Level, humanBytes(b.Bytes), b.Name, strings.Join(b.Tags, ","))
				}
				tw.Flush()
			default:
				return invalid(fmt.Errorf("--output %q: want table or json", output))
			}
			return lerr
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func describeCommand(s streams.Streams, c *common) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "describe BACKUP",
		Short:   "Show what a backup holds and how consistent it is",
		Example: "  rebound backup describe latest\n  rebound backup describe 1a2b3c4d -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine(cmd.Context(), s, false)
			if err != nil {
				return err
			}
			defer e.Close()
			info, m, err := e.Describe(cmd.Context(), args[0])
			if err != nil {
				return notFound(err)
			}
			switch output {
			case "json":
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					ID       string           `json:"id"`
					Manifest *backup.Manifest `json:"manifest"`
				}{info.ID, m})
			case "yaml":
				b, err := yaml.Marshal(struct {
					ID       string           `json:"id"`
					Manifest *backup.Manifest `json:"manifest"`
				}{info.ID, m})
				if err != nil {
					return err
				}
				_, err = s.Out.Write(b)
				return err
			case "", "text":
				printManifest(s, info, m)
				return nil
			}
			return invalid(fmt.Errorf("--output %q: want text, json or yaml", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, json or yaml")
	return cmd
}

func printManifest(s streams.Streams, info *backup.Info, m *backup.Manifest) {
	w := s.Out
	fmt.Fprintf(w, "Backup:       %s\n", info.ID)
	if m.Name != "" {
		fmt.Fprintf(w, "Name:         %s\n", m.Name)
	}
	fmt.Fprintf(w, "Namespace:    %s\n", m.Namespace)
	fmt.Fprintf(w, "Selector:     %s\n", orDash(m.Selector))
	fmt.Fprintf(w, "Driver:       %s\n", orDash(m.Driver))
	fmt.Fprintf(w, "Tags:         %s\n", orDash(strings.Join(info.Tags, ", ")))
	fmt.Fprintf(w, "Started:      %s\n", m.Started.Local().Format(time.RFC3339Nano))
	if m.CutUnknown != "" {
		fmt.Fprintf(w, "Cut:          none (%s); the copy began %s\n", m.CutUnknown, m.Cut.Local().Format(time.RFC3339Nano))
	} else {
		fmt.Fprintf(w, "Cut:          %s\n", m.Cut.Local().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(w, "Duration:     %s\n", m.Finished.Sub(m.Started).Round(time.Millisecond))
	fmt.Fprintf(w, "Consistency:  %s (data %s, config %t, metadata %t)\n", m.Level, m.Layers.Data, m.Layers.Config, m.Layers.Metadata)
	fmt.Fprintf(w, "Size:         %s (stored %s)\n", humanBytes(info.Bytes), humanBytes(info.StoredBytes))
	fmt.Fprintln(w, "Data:")
	if len(m.Data) == 0 {
		fmt.Fprintln(w, "  -")
	}
	for _, d := range m.Data {
		switch d.Kind {
		case backup.DataPVCCopy:
			fmt.Fprintf(w, "  pvc %s: %s, volume snapshot %s (%s)\n", d.PVC, humanBytes(d.Size), d.Snapshot[:8], d.Level)
		default:
			fmt.Fprintf(w, "  %s\n", describeNative(d))
		}
		if c := d.Checksum; c != nil {
			fmt.Fprintf(w, "    checksum for drills: %d records, %s at %s\n", c.Records, c.Hash, c.At)
		}
	}
	if p := m.Probes; p != nil {
		fmt.Fprintf(w, "Probe ids:    %d acknowledged before the cut, under %s (%s)\n", len(p.Acked), p.Prefix, p.Driver)
	}
	fmt.Fprintln(w, "Resources:")
	for _, r := range m.Resources {
		sealed := ""
		if r.Sealed {
			sealed = " (sealed)"
		}
		fmt.Fprintf(w, "  %s/%s%s\n", r.Kind, r.Name, sealed)
	}
	for _, x := range m.Warnings {
		fmt.Fprintf(w, "Warning: %s\n", x)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func notFound(err error) error {
	if errors.Is(err, backup.ErrNotFound) {
		return invalid(err)
	}
	return err
}

func verifyCommand(s streams.Streams, c *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [BACKUP...]",
		Short: "Read every object and name precisely what is damaged",
		Long: `With no argument, read every object of the repository — config, snapshots,
every chunk, referenced or not — authenticate it, check it against its id,
and name each damaged or missing object with the backups, files and objects
it breaks. With backups named, read every object of those backups (and of
their volume snapshots) instead.

Exits 0 when everything verified, 10 when something is damaged.`,
		Example: "  rebound backup verify\n  rebound backup verify latest",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine(cmd.Context(), s, false)
			if err != nil {
				return err
			}
			defer e.Close()
			if len(args) > 0 {
				var errs []error
				for _, a := range args {
					stop := spinner(s.Err, "verifying backup "+a)
					err := e.VerifyBackup(cmd.Context(), a)
					stop()
					if err != nil {
						fmt.Fprintf(s.Out, "backup %s: DAMAGED: %v\n", a, err)
						errs = append(errs, notFound(err))
						continue
					}
					fmt.Fprintf(s.Out, "backup %s: ok\n", a)
				}
				return errors.Join(errs...)
			}
			stop := spinner(s.Err, "verifying "+e.Location())
			rep, err := e.Verify(cmd.Context())
			stop()
			if rep == nil {
				return err
			}
			fmt.Fprintf(s.Out, "read %d snapshots and %d chunks (%s) of %s\n", rep.Snapshots, rep.Chunks, humanBytes(rep.Bytes), e.Location())
			if rep.Unreferenced > 0 {
				fmt.Fprintf(s.Out, "%d intact chunks no snapshot uses (rebound backup prune removes them)\n", rep.Unreferenced)
			}
			if rep.OK() {
				fmt.Fprintln(s.Out, "repository ok")
				return nil
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(s.Out, p.String())
			}
			return fmt.Errorf("%w: %d damaged or missing object(s), listed above", repo.ErrCorrupt, len(rep.Problems))
		},
	}
	return cmd
}

func deleteCommand(s streams.Streams, c *common) *cobra.Command {
	var prune bool
	cmd := &cobra.Command{
		Use:   "delete BACKUP...",
		Short: "Delete backups (their chunks go at the next prune)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := c.engine(cmd.Context(), s, false)
			if err != nil {
				return err
			}
			defer e.Close()
			for _, a := range args {
				warns, err := e.Delete(cmd.Context(), a)
				for _, w := range warns {
					fmt.Fprintf(s.Err, "warning: %s\n", w)
				}
				if err != nil {
					return notFound(err)
				}
				fmt.Fprintf(s.Out, "deleted backup %s\n", a)
			}
			if prune {
				return runPrune(cmd.Context(), s, e)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "prune the repository afterwards")
	return cmd
}

func pruneCommand(s streams.Streams, c *common) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove the chunks and volume snapshots no backup needs",
		Long: `Remove the chunks no backup uses any more (of deleted backups, or left by an
interrupted one) and volume snapshots no backup names that are over an hour
old. It waits for no one: while a backup runs it fails, changing nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := c.engine(cmd.Context(), s, false)
			if err != nil {
				return err
			}
			defer e.Close()
			return runPrune(cmd.Context(), s, e)
		},
	}
}

func runPrune(ctx context.Context, s streams.Streams, e *backup.Engine) error {
	rep, orphans, err := e.Prune(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "pruned: %d chunks removed (%s), %d kept for %d snapshots, %d unreferenced volume snapshots, %d stale locks, %d temporary files\n",
		rep.Removed, humanBytes(rep.RemovedBytes), rep.Kept, rep.Snapshots, orphans, rep.StaleLocks, rep.TempFiles)
	return nil
}

func restoreCommand(s streams.Streams, c *common) *cobra.Command {
	var namespace, renamePattern, renameReplacement string
	var timeout time.Duration
	var skipVerify bool
	cmd := &cobra.Command{
		Use:   "restore BACKUP",
		Short: "Restore a backup into its namespace (a roll back) or another one",
		Long: `Restore a backup (an id, a prefix of at least 4 hex digits, or "latest").

Every object of the backup is read and checked first: a damaged backup is
refused and nothing in the cluster changes. Then, in dependency order: the
namespace (created if missing); the app's workloads stopped; ServiceAccounts,
Roles, RoleBindings, ConfigMaps, Secrets (decrypted only now), Services, PVCs
and PDBs created or replaced; the data restored by data-mover pods (etcd:
every member rebuilt from the snapshot, as etcdutl snapshot restore does;
other apps: each volume written back); the workloads created. It returns once
they are Ready and the app reports full health.

--namespace restores into another namespace, on this or another cluster
(--kubeconfig): a copy of the app beside the original.`,
		Example: `  rebound backup restore latest
  rebound backup restore 1a2b3c4d -n rebound-demo-copy
  rebound backup restore latest --kubeconfig ~/.kube/dr-cluster`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (renamePattern == "") != (renameReplacement == "") {
				return invalid(errors.New("--es-rename-pattern and --es-rename-replacement go together"))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			e, err := c.engine(ctx, s, true)
			if err != nil {
				return err
			}
			defer c.closeJournal()
			defer e.Close()
			rep := newReporter(s.Err)
			defer rep.close()
			res, err := e.Restore(ctx, backup.RestoreRequest{
				Backup: args[0], Namespace: namespace, Timeout: timeout, SkipVerify: skipVerify,
				AppOptions: restoreOptions(renamePattern, renameReplacement), Progress: rep.report,
			})
			rep.close()
			if res != nil {
				for _, w := range res.Warnings {
					fmt.Fprintf(s.Err, "warning: %s\n", w)
				}
			}
			if err != nil {
				return notFound(err)
			}
			fmt.Fprintf(s.Out, "restored backup %s into namespace %s in %s: %d objects created, %d replaced; the app is Ready and healthy\n",
				res.ID[:8], res.Namespace, res.Duration.Round(time.Millisecond), len(res.Created), len(res.Updated))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&namespace, "namespace", "n", "", "restore into this namespace (default: the one it was backed up from)")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for each step (pods gone, movers, Ready and healthy)")
	fl.BoolVar(&skipVerify, "skip-verify", false, "do not read every object of the backup before changing the cluster")
	fl.StringVar(&renamePattern, "es-rename-pattern", "", "Elasticsearch: restore indices renamed (a regular expression) instead of replacing them")
	fl.StringVar(&renameReplacement, "es-rename-replacement", "", "Elasticsearch: the new names ($1 for the first group)")
	return cmd
}

func scheduleCommand(s streams.Streams, c *common) *cobra.Command {
	f := &createFlags{}
	var every, cronExpr, tag string
	var keepLast, count int
	var maxAge time.Duration
	var prune, waitFirst bool
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Back up on a schedule in the foreground, with retention, until Ctrl-C",
		Long: `Run a backup policy in the foreground, as during a game day: a backup at
once and then every --every interval (or at each --cron time), and after
each backup the retention: keep the newest --keep-last and every one younger
than --max-age of this policy's backups (those tagged --tag); delete the
rest. A failed backup is reported and the schedule goes on. Ctrl-C stops it;
a backup cut short leaves no backup.`,
		Example: `  rebound backup schedule -n rebound-demo -l app.kubernetes.io/name=etcd --driver etcd --every 5m --keep-last 6
  rebound backup schedule -n shop --cron '*/15 * * * *' --max-age 24h --prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			sched := every
			switch {
			case every != "" && cronExpr != "":
				return invalid(errors.New("give --every or --cron, not both"))
			case cronExpr != "":
				sched = cronExpr
			case every == "":
				return invalid(errors.New("give --every (an interval, e.g. 5m) or --cron (e.g. '*/5 * * * *')"))
			}
			if _, err := backup.ParseSchedule(sched); err != nil {
				return invalid(err)
			}
			if tag == "" {
				tag = "schedule-" + req.Namespace
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			e, err := c.engine(ctx, s, true)
			if err != nil {
				return err
			}
			defer c.closeJournal()
			defer e.Close()
			rep := newReporter(s.Err)
			defer rep.close()
			req.Progress = rep.report
			p := backup.Policy{Schedule: sched, Tag: tag, Immediate: !waitFirst, Max: count, Prune: prune,
				Retention: backup.Retention{KeepLast: keepLast, MaxAge: maxAge}}
			fmt.Fprintf(s.Out, "schedule %q for %s (tag %s); Ctrl-C stops it\n", sched, req.Namespace, tag)
			failed := 0
			err = e.RunSchedule(ctx, req, p, func(ev backup.ScheduleEvent) {
				rep.close()
				at := ev.Time.Local().Format("15:04:05")
				if ev.Err != nil {
					failed++
					fmt.Fprintf(s.Out, "%s backup failed: %v\n", at, ev.Err)
				}
				if ev.Result != nil {
					fmt.Fprintf(s.Out, "%s backup %s taken: level %s, %s new\n", at, ev.Result.ID[:8], ev.Result.Manifest.Level, humanBytes(ev.Result.NewBytes))
				}
				for _, r := range ev.Removed {
					fmt.Fprintf(s.Out, "%s retention: deleted backup %s of %s\n", at, r.Short(), r.Time.Local().Format(time.RFC3339))
				}
				if ev.Pruned != nil {
					fmt.Fprintf(s.Out, "%s pruned %d chunks (%s)\n", at, ev.Pruned.Removed, humanBytes(ev.Pruned.RemovedBytes))
				}
				if ev.Note != "" {
					fmt.Fprintf(s.Out, "%s %s\n", at, ev.Note)
				}
				if !ev.Next.IsZero() && (count <= 0) {
					fmt.Fprintf(s.Out, "next backup at %s\n", ev.Next.Local().Format("15:04:05"))
				}
			})
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(s.Out, "schedule stopped")
				err = nil
			}
			if err == nil && failed > 0 {
				err = fmt.Errorf("%d scheduled backup(s) failed", failed)
			}
			return err
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&every, "every", "", "interval between backups (e.g. 5m)")
	fl.StringVar(&cronExpr, "cron", "", "cron expression of the backup times (e.g. '*/5 * * * *', @hourly)")
	fl.IntVar(&keepLast, "keep-last", 0, "retention: keep the newest N backups of this policy")
	fl.DurationVar(&maxAge, "max-age", 0, "retention: keep the backups of this policy younger than this")
	fl.StringVar(&tag, "tag-policy", "", "the policy's tag; retention touches only backups carrying it (default schedule-NAMESPACE)")
	fl.IntVar(&count, "count", 0, "stop after this many backups (default: until Ctrl-C)")
	fl.BoolVar(&prune, "prune", false, "prune the repository after retention deleted backups")
	fl.BoolVar(&waitFirst, "wait-first", false, "take the first backup at the first tick, not at once")
	return cmd
}

// describeNative is a line for people about native data: its kind, the
// objects it holds and their size, where in the app's history it stands,
// and the member it came from.
func describeNative(d backup.DataEntry) string {
	var b strings.Builder
	b.WriteString(d.Kind)
	if len(d.Objects) > 0 {
		fmt.Fprintf(&b, " %s", strings.Join(d.Objects, ", "))
	}
	if d.Size > 0 {
		fmt.Fprintf(&b, ": %s", humanBytes(d.Size))
	}
	if d.Position != "" {
		fmt.Fprintf(&b, ", at %s", d.Position)
	}
	if d.Endpoint != "" {
		fmt.Fprintf(&b, ", from %s", d.Endpoint)
	}
	fmt.Fprintf(&b, " (%s)", d.Level)
	return b.String()
}

// restoreOptions are the restore's options for the app: Elasticsearch
// indices under new names, when asked.
func restoreOptions(renamePattern, renameReplacement string) any {
	if renamePattern == "" {
		return nil
	}
	return elasticsearch.RestoreRename{Pattern: renamePattern, Replacement: renameReplacement}
}
