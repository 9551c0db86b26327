package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/netfault"
)

// netCommand builds `rebound lab net`.
func netCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "net",
		Short: "Real network faults in the lab: partition, loss, bandwidth (and delay, where the kernel has netem)",
		Long: `Network faults act inside the lab's network namespace, where every packet
between pods, and between pods and the lab's DNS and API server address, is
routed: a partition and a loss are nftables rules in rebound's own table
(inet rebound-faults), a bandwidth limit a tbf qdisc on both sides of each
pod's link. Each fault has an ID; several coexist, and healing one leaves the
others. Faults take effect, and heal, within milliseconds.

A zone or node partition drops traffic between the pods of its nodes (their
pod CIDRs) and everything else, the lab's DNS and API server address
included; the nodes themselves stay Ready unless --cut-control-plane also
cuts them off from the control plane, as in a cloud zone outage: their
leases lapse and they turn NotReady (within lab.NotReadyWithin, 12 s),
while their processes keep running and serving whoever can still reach
them.

Faults are recorded in the lab's state folder; 'heal --all' heals what a
killed run left, and 'lab down' removes the namespace with every rule.`,
	}
	cmd.AddCommand(netFaultCommand(s, opts, netfault.Partition), netFaultCommand(s, opts, netfault.Loss),
		netFaultCommand(s, opts, netfault.Bandwidth), netFaultCommand(s, opts, netfault.Delay),
		netHealCommand(s, opts), netListCommand(s, opts))
	return cmd
}

type netFlags struct {
	zone, node, pods             string
	fromZone, fromNode, fromPods string
	cut                          bool
	direction, id                string
	percent                      int
	rate                         string
	burst, limit                 uint32
	latency                      time.Duration
}

func netFaultCommand(s streams.Streams, opts *rlab.Options, kind netfault.Kind) *cobra.Command {
	var f netFlags
	use := map[netfault.Kind]string{
		netfault.Partition: "partition (--zone Z | --node N | --pods NS/SELECTOR) [--from…] [--cut-control-plane]",
		netfault.Loss:      "loss --percent P (--zone Z | --node N | --pods NS/SELECTOR) [--from…]",
		netfault.Bandwidth: "bandwidth --rate RATE (--zone Z | --node N | --pods NS/SELECTOR)",
		netfault.Delay:     "delay --latency D (--zone Z | --node N | --pods NS/SELECTOR)",
	}[kind]
	short := map[netfault.Kind]string{
		netfault.Partition: "Drop every packet between a target and everything else (or chosen peers), both ways",
		netfault.Loss:      "Drop a share of the packets between a target and everything else (or chosen peers)",
		netfault.Bandwidth: "Limit the bandwidth of a target's pods, both ways",
		netfault.Delay:     "Delay a target's packets: needs netem (CONFIG_NET_SCH_NETEM), refused without it",
	}[kind]
	example := map[netfault.Kind]string{
		netfault.Partition: `  rebound lab net partition --zone lab-1a --cut-control-plane
  rebound lab net partition --node lab-1b-1
  rebound lab net partition --pods rebound-demo/statefulset.kubernetes.io/pod-name=etcd-0 --from rebound-demo/app=etcd`,
		netfault.Loss:      "  rebound lab net loss --percent 30 --pods rebound-demo/app=etcd --direction egress",
		netfault.Bandwidth: "  rebound lab net bandwidth --rate 1mbit --pods rebound-demo/app=etcd",
		netfault.Delay:     "  rebound lab net delay --latency 100ms --pods rebound-demo/app=etcd",
	}[kind]
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nf, err := f.fault(kind)
			if err != nil {
				return exitcode.With(exitcode.InvalidInput, err)
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			return netApply(ctx, s.Out, rlab.New(*opts, s.Out), nf)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.zone, "zone", "", "target: the pods of every node of this zone")
	fl.StringVar(&f.node, "node", "", "target: the pods of this node")
	fl.StringVar(&f.pods, "pods", "", "target: the pods of NAMESPACE matching SELECTOR (NAMESPACE/SELECTOR; NAMESPACE alone: all its pods)")
	fl.StringVar(&f.direction, "direction", string(netfault.Both), "both, egress (packets leaving the target) or ingress (entering it)")
	fl.StringVar(&f.id, "id", "", "the fault's ID (default: one is picked)")
	switch kind {
	case netfault.Partition, netfault.Loss:
		fl.StringVar(&f.fromPods, "from", "", "other side: the pods of NAMESPACE/SELECTOR (default: everything else)")
		fl.StringVar(&f.fromZone, "from-zone", "", "other side: the pods of every node of this zone")
		fl.StringVar(&f.fromNode, "from-node", "", "other side: the pods of this node")
	}
	switch kind {
	case netfault.Partition:
		fl.BoolVar(&f.cut, "cut-control-plane", false, "also cut the zone's or node's nodes off from the control plane: their leases lapse and they turn NotReady")
	case netfault.Loss:
		fl.IntVar(&f.percent, "percent", 0, "share of the packets to drop, 1 to 100")
	case netfault.Bandwidth:
		fl.StringVar(&f.rate, "rate", "", "rate as tc writes it: 1mbit, 500kbit, 2mbps (bps: bytes per second)")
		fl.Uint32Var(&f.burst, "burst", 0, "bytes let through at once (default: 40 ms of the rate, at least 4 frames)")
		fl.Uint32Var(&f.limit, "limit", 0, "bytes queued before dropping (default: the burst and 200 ms of the rate)")
	case netfault.Delay:
		fl.DurationVar(&f.latency, "latency", 0, "delay added to each packet, e.g. 100ms")
	}
	return cmd
}

// target parses one side's flags; "" means none was given.
func target(zone, node, pods, what string) (*rlab.NetTarget, error) {
	t := &rlab.NetTarget{Zone: zone, Node: node}
	if pods != "" {
		ns, sel, _ := strings.Cut(pods, "/")
		if ns == "" {
			return nil, fmt.Errorf("%s %q: want NAMESPACE/SELECTOR, e.g. rebound-demo/app=etcd", what, pods)
		}
		t.Namespace, t.Selector = ns, sel
	}
	set := 0
	for _, v := range []string{zone, node, pods} {
		if v != "" {
			set++
		}
	}
	switch set {
	case 0:
		return nil, nil
	case 1:
		return t, nil
	}
	return nil, fmt.Errorf("%s: give one of a zone, a node or pods, not several", what)
}

func (f netFlags) fault(kind netfault.Kind) (rlab.NetFault, error) {
	nf := rlab.NetFault{Kind: kind, ID: netfault.ID(f.id), CutControlPlane: f.cut, Percent: f.percent,
		Burst: f.burst, Limit: f.limit, Latency: f.latency, Direction: netfault.Direction(f.direction)}
	t, err := target(f.zone, f.node, f.pods, "--zone, --node, --pods")
	if err != nil {
		return nf, err
	}
	if t == nil {
		return nf, errors.New("name the target: --zone ZONE, --node NODE or --pods NAMESPACE/SELECTOR")
	}
	nf.Target = *t
	if nf.Peers, err = target(f.fromZone, f.fromNode, f.fromPods, "--from, --from-zone, --from-node"); err != nil {
		return nf, err
	}
	if kind == netfault.Bandwidth {
		if f.rate == "" {
			return nf, errors.New("--rate: give the rate, e.g. --rate 1mbit")
		}
		if nf.Rate, err = netfault.ParseRate(f.rate); err != nil {
			return nf, fmt.Errorf("--%w", err)
		}
	}
	if kind == netfault.Loss && (f.percent < 1 || f.percent > 100) {
		return nf, fmt.Errorf("--percent %d: give 1 to 100", f.percent)
	}
	if kind == netfault.Delay && f.latency <= 0 {
		return nf, errors.New("--latency: give a delay, e.g. --latency 100ms")
	}
	switch nf.Direction {
	case netfault.Both, netfault.Egress, netfault.Ingress:
	default:
		return nf, fmt.Errorf("--direction %q: use both, egress or ingress", f.direction)
	}
	return nf, nil
}

func netApply(ctx context.Context, out io.Writer, l *rlab.Lab, nf rlab.NetFault) error {
	id, err := l.NetApply(ctx, nf)
	if err != nil {
		if errors.Is(err, netfault.ErrNoNetem) {
			return exitcode.With(exitcode.NotRun, err)
		}
		return err
	}
	a, err := l.NetFaults().Get(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s\n", id, describe(a))
	if nf.CutControlPlane {
		fmt.Fprintf(out, "nodes %s are cut off from the control plane: NotReady within %s\n", a.Labels["cut-control-plane"], rlab.NotReadyWithin)
	}
	fmt.Fprintf(out, "heal it with: rebound lab net heal %s\n", id)
	return nil
}

// describe says what a fault does in terms of its lab targets, or of its
// addresses and links when another owner (the lab's Chaos Mesh
// controller, label "by") applied it.
func describe(a netfault.Applied) string {
	by := ""
	if a.Labels["by"] != "" {
		by = " (by " + a.Labels["by"] + ")"
	}
	t := a.Labels["target"]
	if t == "" {
		return a.Fault.String() + by
	}
	peers := a.Labels["peers"]
	if peers == "" {
		peers = "everything else"
	}
	dir := ""
	if a.Direction == netfault.Egress || a.Direction == netfault.Ingress {
		dir = " (" + string(a.Direction) + " only)"
	}
	switch a.Kind {
	case netfault.Partition:
		return fmt.Sprintf("partition %s from %s%s%s", t, peers, dir, by)
	case netfault.Loss:
		return fmt.Sprintf("drop %d%% of the packets between %s and %s%s%s", a.Percent, t, peers, dir, by)
	case netfault.Bandwidth:
		return fmt.Sprintf("limit the %d pods of %s to %s%s%s", len(a.Links), t, netfault.FormatRate(a.Rate), dir, by)
	}
	return a.Fault.String() + by
}

func netHealCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "heal (ID… | --all)",
		Short: "Heal network faults: packets pass again, cut-off nodes heartbeat again",
		Long: `Heal the faults named, or with --all every fault of the lab, including
rules left by a killed process whose record is lost. Idempotent with --all.`,
		Example: "  rebound lab net heal partition-1a2b3c4d\n  rebound lab net heal --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return invalid("name the faults to heal (see `rebound lab net list`), or give --all")
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			l := rlab.New(*opts, s.Out)
			if all {
				ids, err := l.NetHealAll(ctx)
				for _, id := range ids {
					fmt.Fprintf(s.Out, "%s: healed\n", id)
				}
				if err == nil && len(ids) == 0 {
					fmt.Fprintln(s.Out, "no network fault to heal")
				}
				return err
			}
			var errs []error
			for _, id := range args {
				if err := l.NetHeal(ctx, netfault.ID(id)); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(s.Out, "%s: healed\n", id)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "heal every network fault of the lab")
	return cmd
}

func netListCommand(s streams.Streams, opts *rlab.Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the lab's network faults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return invalid("-o %q: use json, or leave it out for a table", output)
			}
			list, err := rlab.New(*opts, s.Out).NetList(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				if list == nil {
					list = []netfault.Applied{}
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			if len(list) == 0 {
				fmt.Fprintln(s.Out, "no network fault")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSINCE\tWHAT")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.Kind, a.Since.Format(time.TimeOnly), describe(a))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json for machine-readable output")
	return cmd
}
