// Package demo is the `rebound demo` command group: list the demo apps and
// deploy one into a namespace, on the lab or any cluster.
package demo

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/kubeclient"
	"github.com/reboundhq/rebound/cli/streams"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios/apps"
)

// NewCommand builds `rebound demo`.
func NewCommand(s streams.Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "demo", Short: "The demo apps rebound's game days run against"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List the demo apps", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, n := range apps.Names() {
				fmt.Fprintln(s.Out, n)
			}
			return nil
		},
	}, deployCommand(s))
	return cmd
}

func deployCommand(s streams.Streams) *cobra.Command {
	var kubeconfig, kubeContext, namespace string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "deploy APP",
		Short: "Deploy a demo app into a namespace and wait until it is Ready (idempotent)",
		Long: `Deploy a demo app, written as for any real cluster, into a namespace. With
no --kubeconfig it deploys into the local lab (rebound lab up). Objects that
exist are left as they are.`,
		Example: "  rebound demo deploy etcd -n rebound-demo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app := args[0]
			if _, err := apps.Objects(app); err != nil {
				return exitcode.With(exitcode.InvalidInput, err)
			}
			if kubeconfig == "" {
				kubeconfig = rlab.DefaultOptions().Kubeconfig()
			}
			cluster, err := kubeclient.Load(kubeconfig, kubeContext)
			if err != nil {
				return exitcode.With(exitcode.NotRun, fmt.Errorf("kubeconfig %s: %w (is the lab up? rebound lab up)", kubeconfig, err))
			}
			if err := cluster.Ping(cmd.Context()); err != nil {
				return exitcode.With(exitcode.NotRun, err)
			}
			cs, err := kubernetes.NewForConfig(cluster.Config)
			if err != nil {
				return err
			}
			if err := apps.Deploy(cmd.Context(), cs, app, namespace); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "deployed %s into namespace %s; waiting up to %s for it to be Ready\n", app, namespace, wait)
			start := time.Now()
			if err := apps.WaitStatefulSetReady(cmd.Context(), cs, namespace, app, wait); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s is Ready in %s (%.1fs)\n", app, namespace, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the target cluster (default: the lab's)")
	cmd.Flags().StringVar(&kubeContext, "context", "", "kubeconfig context")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "rebound-demo", "namespace to deploy into")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the app to be Ready")
	return cmd
}
