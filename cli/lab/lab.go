package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/agent/podexec"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/logging"
)

// NewCommand builds `rebound lab`.
func NewCommand(s streams.Streams) *cobra.Command {
	opts := rlab.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "A local three-zone Kubernetes whose stateful pods are real processes",
		Long: `The lab is a real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, built by 'make lab-bins') with N
nodes over Z zones served by rebound's node agent, which runs the pods of
known images (etcd, rebound) as real processes, each pod in its own network
namespace with its own IP. Stopping a node or a zone is a real outage of a
real database. The lab's network lives in namespaces of its own; reach it
with 'rebound lab exec -- CMD'.

It needs Linux and root. State lives in $REBOUND_STATE_DIR (default
~/.local/state/rebound); binaries come from $REBOUND_LAB_BINS (default
~/.cache/rebound/bin).`,
	}
	cmd.PersistentFlags().StringVar(&opts.Name, "name", opts.Name, "name of the lab ($REBOUND_LAB)")
	cmd.AddCommand(upCommand(s, &opts), downCommand(s, &opts), statusCommand(s, &opts), kubeconfigCommand(s, &opts),
		powerCommand(s, &opts, "node"), powerCommand(s, &opts, "zone"), diskCommand(s, &opts),
		execCommand(s, &opts), netCommand(s, &opts), agentCommand(s), podExecCommand(), netcheckCommand(s))
	return cmd
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func invalid(format string, a ...any) error {
	return exitcode.With(exitcode.InvalidInput, fmt.Errorf(format, a...))
}

func upCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	var podCIDR, serviceCIDR string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the lab (idempotent)",
		Long: `Start the lab's control plane and node agent and wait until every node is
Ready. Idempotent: on a lab that is up it changes nothing, and on a lab that
is half up (after a reboot, or a killed agent) it starts what is missing.`,
		Example: `  rebound lab up
  rebound lab up --nodes 9 --zones 3
  rebound lab up --name dr --region lab-2   # a second lab, the DR region
  rebound lab up --images ./my-images.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A lab that is up keeps the shape, region and ranges it was
			// made with, unless the flags ask for others (which is refused).
			if run, up := opts.Running(); up {
				fl := cmd.Flags()
				if !fl.Changed("nodes") {
					opts.Nodes = run.Nodes
				}
				if !fl.Changed("zones") {
					opts.Zones = run.Zones
				}
				if !fl.Changed("region") {
					opts.Region = run.Region
				}
				opts.PodCIDR, opts.ServiceCIDR = run.PodCIDR, run.ServiceCIDR
			}
			for _, f := range []struct {
				name string
				val  string
				dst  *netip.Prefix
			}{{"--pod-cidr", podCIDR, &opts.PodCIDR}, {"--service-cidr", serviceCIDR, &opts.ServiceCIDR}} {
				if f.val == "" {
					continue
				}
				p, err := netip.ParsePrefix(f.val)
				if err != nil {
					return invalid("%s %q: give an IPv4 prefix such as 10.44.0.0/16", f.name, f.val)
				}
				*f.dst = p
			}
			if err := opts.Validate(); err != nil {
				return exitcode.With(exitcode.InvalidInput, err)
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			return rlab.New(*opts, s.Out).Up(ctx)
		},
	}
	cmd.Flags().StringVar(&podCIDR, "pod-cidr", "", "the pods' range, one /24 per node (default 10.Y.0.0/16, Y from the lab's name)")
	cmd.Flags().StringVar(&serviceCIDR, "service-cidr", "", "the Services' range (default 10.255.Y.0/24)")
	cmd.Flags().IntVar(&opts.Nodes, "nodes", opts.Nodes, "number of nodes")
	cmd.Flags().IntVar(&opts.Zones, "zones", opts.Zones, "number of zones the nodes are spread over")
	cmd.Flags().StringVar(&opts.Region, "region", opts.Region, "region of the lab: its nodes' topology.kubernetes.io/region label, and its zones' prefix (lab-2 gives lab-2a, lab-2b, …); a second lab beside the first stands for a DR region")
	cmd.Flags().StringVar(&opts.ImagesFile, "images", "", "an image mapping file, read in front of the built-in one")
	return cmd
}

func downCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Delete the lab and everything it made (idempotent, like rm -f)",
		Long: `Delete the lab: every pod process, the control plane, the volumes, the
mounts, and the state folder. Succeeds when the lab is not up. Fails, naming
them, if anything is left behind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rlab.New(*opts, s.Out).Down(context.WithoutCancel(cmd.Context()))
		},
	}
}

func statusCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the lab: control plane, agent, nodes and their zones, power and readiness",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := rlab.New(*opts, s.Out).Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if !st.Up {
				fmt.Fprintf(s.Out, "lab %q is not up (rebound lab up)\n", st.Name)
				return nil
			}
			fmt.Fprintf(s.Out, "lab %q  api-server: %s  agent: %s  pods: %d\nkubeconfig: %s\n\n", st.Name, okWord(st.APIServer), okWord(st.Agent), st.Pods, st.Kubeconfig)
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tZONE\tIP\tPOWER\tREADY\tPODS")
			for _, n := range st.Nodes {
				power := string(n.Power)
				if n.CutOff {
					power += ", cut off"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", n.Name, n.Zone, n.IP, power, n.Ready, n.Pods)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "DOWN"
}

func kubeconfigCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	var pathOnly bool
	cmd := &cobra.Command{
		Use:     "kubeconfig",
		Short:   "Print the lab's kubeconfig (or its path with --path)",
		Example: "  export KUBECONFIG=$(rebound lab kubeconfig --path)\n  rebound lab kubeconfig > lab.kubeconfig",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := opts.Kubeconfig()
			data, err := os.ReadFile(p)
			if err != nil {
				return exitcode.With(exitcode.NotRun, fmt.Errorf("lab %q is not up (no %s): run `rebound lab up`", opts.Name, p))
			}
			if pathOnly {
				fmt.Fprintln(s.Out, p)
				return nil
			}
			_, err = s.Out.Write(data)
			return err
		},
	}
	cmd.Flags().BoolVar(&pathOnly, "path", false, "print the path instead of the content")
	return cmd
}

func powerCommand(s streams.Streams, opts *rlab.Options, what string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   what + " stop|freeze|start " + strings.ToUpper(what),
		Short: "Power a lab " + what + ": stop (crash), freeze (hang), start (boot or thaw)",
		Long: `stop:   the node's heartbeats end, so the node-lifecycle controller marks it
        NotReady; its pod processes are SIGKILLed, as in a power loss.
freeze: heartbeats end and pod processes are SIGSTOPped: to their peers the
        node hangs, as in a network partition.
start:  heartbeats resume; frozen processes continue; the containers of a
        stopped node start again, as after a reboot, with their disks intact.`,
		Example: fmt.Sprintf("  rebound lab %s stop %s\n  rebound lab %s start %s", what, exampleTarget(what), what, exampleTarget(what)),
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			action, target := args[0], args[1]
			if action != rlab.PowerStop && action != rlab.PowerFreeze && action != rlab.PowerStart {
				return invalid("unknown action %q: use stop, freeze or start", action)
			}
			l := rlab.New(*opts, s.Out)
			if what == "node" {
				if err := l.NodePower(cmd.Context(), target, action); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "node %s: %s\n", target, pastTense(action))
				return nil
			}
			nodes, err := l.ZonePower(cmd.Context(), target, action)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "zone %s (%s): %s\n", target, strings.Join(nodes, ", "), pastTense(action))
			return nil
		},
	}
	return cmd
}

func exampleTarget(what string) string {
	if what == "node" {
		return "lab-1a-1"
	}
	return "lab-1b"
}

func pastTense(action string) string {
	return map[string]string{"stop": "stopped", "freeze": "frozen", "start": "started"}[action]
}

func diskCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "disk " + strings.Join(rlab.DiskActions, "|") + " PVC",
		Short: "Apply a disk fault to the lab volume behind a PVC",
		Long: `wipe:      remove every file, as if the disk were replaced by an empty one
corrupt:   overwrite random bytes inside every file
readonly:  turn the filesystem read-only (readwrite undoes it)
fill:      fill the volume to its last byte so writes fail with ENOSPC
           (unfill undoes it)`,
		Example: "  rebound lab disk wipe data-etcd-1 -n rebound-demo",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg, err := rlab.New(*opts, s.Out).DiskFault(cmd.Context(), namespace, args[1], args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "pvc %s/%s: %s\n", namespace, args[1], msg)
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of the PVC")
	return cmd
}

// agentCommand runs the node agent; `lab up` starts it in the background.
func agentCommand(s streams.Streams) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:    "agent",
		Short:  "Run the lab node agent (started by `rebound lab up`)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(stateDir)
			if err != nil {
				return fmt.Errorf("agent config: %w (the agent is started by `rebound lab up`)", err)
			}
			log := logging.FromContext(cmd.Context())
			a, err := agent.New(cfg, log)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			return a.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "the lab's state folder")
	return cmd
}

// podExecCommand is the re-executed child that becomes a container's process.
func podExecCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "pod-exec",
		Short:              "Set up a pod's namespace and exec its container (run by the node agent)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return podexec.Main()
		},
	}
}

func execCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "exec -- COMMAND [ARG...]",
		Short: "Run a command inside the lab's network",
		Long: `Run a command inside the lab's network namespace, where pod IPs, Service
ClusterIPs and the cluster DNS route, as from a node of the lab: psql,
etcdctl, curl, dig. The command's exit code is rebound's. Only the network is
the lab's: files, users and the rest are the host's.`,
		Example: `  rebound lab exec -- etcdctl --endpoints http://10.44.1.2:2379 endpoint status
  rebound lab exec -- curl -s http://10.255.44.20:9200`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := labnet.NetnsPath(opts.Name)
			if _, err := os.Stat(path); err != nil {
				return exitcode.With(exitcode.InvalidInput, fmt.Errorf("lab %q has no network namespace at %s: run rebound lab up --name %s", opts.Name, path, opts.Name))
			}
			bin, err := exec.LookPath(args[0])
			if err != nil {
				return invalid("%s: %v", args[0], err)
			}
			// Started from a thread inside the lab's namespace, the command
			// is born in it; its exit code becomes rebound's.
			return labnet.Do(path, func() error {
				c := exec.Command(bin, args[1:]...)
				c.Stdin, c.Stdout, c.Stderr = os.Stdin, s.Out, s.Err
				err := c.Run()
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return exitcode.With(exitcode.Code(ee.ExitCode()), fmt.Errorf("%s exited with %d", args[0], ee.ExitCode()))
				}
				return err
			})
		},
	}
}
