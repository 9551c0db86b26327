// Package demo is the `rebound demo` command group: list the demo apps and
// deploy one into a namespace, on the lab or any cluster.
package demo

import (
	"context"
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
				if v := apps.Variants(n); len(v) > 0 {
					fmt.Fprintf(s.Out, "%s (variants: %v)\n", n, v)
					continue
				}
				fmt.Fprintln(s.Out, n)
			}
			return nil
		},
	}, deployCommand(s))
	return cmd
}

type deployFlags struct {
	kubeconfig, kubeContext, namespace string
	sync                               bool
	wait                               time.Duration
}

func deployCommand(s streams.Streams) *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use:   "deploy APP",
		Short: "Deploy a demo app into a namespace and wait until it is Ready (idempotent)",
		Long: `Deploy a demo app, written as for any real cluster, into a namespace. With
no --kubeconfig it deploys into the local lab (rebound lab up). Objects that
exist are left as they are.

postgres is PostgreSQL 15 managed by Patroni, with asynchronous replication
(Patroni's default) or, with --sync, Patroni's synchronous_mode; deploy waits
until it has a primary and two replicas streaming from it.`,
		Example: "  rebound demo deploy etcd -n rebound-demo\n  rebound demo deploy postgres --sync",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return deploy(cmd.Context(), s, args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the target cluster (default: the lab's)")
	cmd.Flags().StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "rebound-demo", "namespace to deploy into")
	cmd.Flags().BoolVar(&f.sync, "sync", false, "the app's synchronous variant (postgres: Patroni's synchronous_mode)")
	cmd.Flags().DurationVar(&f.wait, "wait", 3*time.Minute, "how long to wait for the app to be Ready")
	return cmd
}

func deploy(ctx context.Context, s streams.Streams, app string, f deployFlags) error {
	variant := ""
	if f.sync {
		variant = "sync"
	}
	if _, err := apps.VariantObjects(app, variant); err != nil {
		if f.sync {
			err = fmt.Errorf("--sync: %w", err)
		}
		return exitcode.With(exitcode.InvalidInput, err)
	}
	if f.kubeconfig == "" {
		f.kubeconfig = rlab.DefaultOptions().Kubeconfig()
	}
	cluster, err := kubeclient.Load(f.kubeconfig, f.kubeContext)
	if err != nil {
		return exitcode.With(exitcode.NotRun, fmt.Errorf("kubeconfig %s: %w (is the lab up? rebound lab up)", f.kubeconfig, err))
	}
	if err := cluster.Ping(ctx); err != nil {
		return exitcode.With(exitcode.NotRun, err)
	}
	cs, err := kubernetes.NewForConfig(cluster.Config)
	if err != nil {
		return err
	}
	if err := apps.DeployVariant(ctx, cs, app, variant, f.namespace); err != nil {
		return err
	}
	name := app
	if variant != "" {
		name += " (" + variant + ")"
	}
	fmt.Fprintf(s.Out, "deployed %s into namespace %s; waiting up to %s for it to be Ready\n", name, f.namespace, f.wait)
	start := time.Now()
	if err := apps.WaitReady(ctx, cluster.Config, cs, app, variant, f.namespace, f.wait); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%s is Ready in %s (%.1fs)\n", name, f.namespace, time.Since(start).Seconds())
	if app == "postgres" {
		c, err := apps.ReadPatroni(ctx, cluster.Config, cs, f.namespace, apps.PostgresSelector)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Out, `%s
read-write: Service postgres.%[2]s.svc:5432 (the primary); read-only: Service postgres-replicas.%[2]s.svc:5432
credentials: Secret %[2]s/postgres-credentials (username, password, database: rebound's user; superuser-*)
in the lab:  rebound lab exec -- env PGPASSWORD=demo-rebound-password psql -h %[3]s -U rebound rebound
`, c, f.namespace, c.PrimaryIP)
	}
	return nil
}
