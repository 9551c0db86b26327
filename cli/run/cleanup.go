package run

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/logging"
	"github.com/reboundhq/rebound/runner"
)

// NewCleanupCommand builds `rebound cleanup`.
func NewCleanupCommand(s streams.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Roll back, from the journal, every fault a crashed or killed run left applied",
		Long: `Read the journal of every run and undo each fault not recorded as
recovered: start stopped lab nodes, thaw frozen pods, make volumes writable
again, remove taints, uncordon nodes, delete Chaos Mesh objects, data movers
and the scratch namespaces of restore drills. Idempotent:
with nothing outstanding it does nothing. A run still going (its process
holds its journal) is left alone, and entries of a lab brought down since
are closed: nothing of it is left. Exits 4 if anything could not be undone,
naming it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stateDir := rlab.DefaultOptions().StateDir
			log := logging.FromContext(cmd.Context())
			res, err := runner.Cleanup(cmd.Context(), stateDir, func(c journal.Cluster) (*faults.Env, error) {
				return envFor(c, log)
			})
			if err != nil {
				return err
			}
			for _, r := range res.Recovered {
				fmt.Fprintf(s.Out, "rolled back: %s\n", r)
			}
			for _, r := range res.Gone {
				fmt.Fprintf(s.Out, "nothing left to undo: %s\n", r)
			}
			for _, r := range res.Running {
				fmt.Fprintf(s.Out, "left alone: run %s is still running and rolls back its own faults (stop it with Ctrl-C, or kill it and run cleanup again)\n", r)
			}
			if len(res.Recovered) == 0 && len(res.Failed) == 0 && len(res.Gone) == 0 && len(res.Running) == 0 {
				fmt.Fprintln(s.Out, "nothing to clean up")
			}
			if len(res.Failed) > 0 {
				return exitcode.With(exitcode.CleanupIncomplete, fmt.Errorf("could not roll back:\n  %s", strings.Join(res.Failed, "\n  ")))
			}
			return nil
		},
	}
}

// envFor reconnects to the cluster a journal entry names.
func envFor(c journal.Cluster, log *slog.Logger) (*faults.Env, error) {
	var l *rlab.Lab
	if c.Lab != "" {
		o := rlab.DefaultOptions()
		o.Name = c.Lab
		if c.StateDir != "" {
			o.StateDir = c.StateDir
		}
		l = rlab.New(o, nil)
		// `lab down` leaves nothing of a lab behind, its faults included.
		if !l.IsUp() {
			return nil, fmt.Errorf("%w: lab %q is down, and its faults went down with it", runner.ErrClusterGone, c.Lab)
		}
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	kube, dyn, err := clients(rc)
	if err != nil {
		return nil, err
	}
	env := &faults.Env{Kube: kube, Dynamic: dyn, Namespace: c.Namespace, Selector: labels.Everything(), Log: log}
	if l != nil {
		env.Lab = l
	}
	return env, nil
}

// NewMarkCommand builds `rebound mark`.
func NewMarkCommand(s streams.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "mark fault|recovered",
		Short: "Mark the instant a person injected a manual fault, or finished a manual recovery",
		Long: `For manual scenarios: tell the running 'rebound run' that the fault is in
place (T0) or that the manual recovery is done. The same as sending SIGUSR1
or SIGUSR2 to the run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := map[string]syscall.Signal{"fault": syscall.SIGUSR1, "recovered": syscall.SIGUSR2}[args[0]]
			if sig == 0 {
				return exitcode.With(exitcode.InvalidInput, fmt.Errorf("unknown mark %q: use fault or recovered", args[0]))
			}
			data, err := os.ReadFile(markFile(rlab.DefaultOptions().StateDir))
			if err != nil {
				return fmt.Errorf("no rebound run is waiting for marks on this machine")
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				return err
			}
			if err := syscall.Kill(pid, sig); err != nil {
				return fmt.Errorf("mark run %d: %w", pid, err)
			}
			fmt.Fprintf(s.Out, "marked %s on run %d\n", args[0], pid)
			return nil
		},
	}
}
