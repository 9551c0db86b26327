// Package app is the rebound command line: Main for the binary, Run for
// tests that drive the real CLI in-process. Only Main calls os.Exit.
package app

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/reboundhq/rebound/cli/backupcmd"
	"github.com/reboundhq/rebound/cli/demo"
	"github.com/reboundhq/rebound/cli/drillcmd"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/lab"
	"github.com/reboundhq/rebound/cli/run"
	"github.com/reboundhq/rebound/cli/scenarioscmd"
	"github.com/reboundhq/rebound/cli/streams"
)

// Main runs rebound with the process's arguments and exits with the code of
// the outcome (see package exitcode).
func Main() {
	err := Run(streams.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	os.Exit(int(exitcode.Of(err)))
}

// Run runs one rebound command; the error, if any, has been printed.
func Run(s streams.Streams, args []string) error {
	cmd := NewCommand(s)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil {
		fmt.Fprintln(s.Err, "error:", err)
	}
	return err
}

// NewCommand builds the root command.
func NewCommand(s streams.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "rebound",
		Short: "Measure the RTO and RPO your stateful apps really achieve under node, zone, disk and human-error faults",
		Long: `rebound injects node, zone, disk and human-error faults into stateful apps on
Kubernetes, drives recovery (self-heal, restore from its own backups, or a
person), and measures the RTO and the acknowledged writes lost against the
targets of a resiliency ladder.

The lab (rebound lab up) is a local three-zone Kubernetes whose stateful pods
are real processes, for game days and CI gates without a cloud.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return exitcode.With(exitcode.InvalidInput, err)
	})
	root.AddCommand(run.NewCommand(s), run.NewCleanupCommand(s), run.NewMarkCommand(s),
		scenarioscmd.NewCommand(s), backupcmd.NewCommand(s), drillcmd.NewCommand(s), lab.NewCommand(s), demo.NewCommand(s))
	return root
}
