// Package app is the rebound command line: Main for the binary, Run for
// tests that drive the real CLI in-process. Only Main calls os.Exit.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reboundhq/rebound/cli/backupcmd"
	"github.com/reboundhq/rebound/cli/demo"
	"github.com/reboundhq/rebound/cli/drillcmd"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/lab"
	"github.com/reboundhq/rebound/cli/run"
	"github.com/reboundhq/rebound/cli/scenarioscmd"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/logging"
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

// logFlags are the root's flags for rebound's log on standard error.
type logFlags struct {
	verbose bool
	level   string
	format  string
}

func (f *logFlags) add(fl *pflag.FlagSet) {
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log debug detail too (--log-level debug)")
	fl.StringVar(&f.level, "log-level", "info", "log level on standard error: "+strings.Join(logging.Levels, ", "))
	fl.StringVar(&f.format, "log-format", "text", "log format on standard error: "+strings.Join(logging.Formats, ", "))
}

// logger builds the logger the flags ask for, writing to w; its error names
// the flag and the values it takes.
func (f *logFlags) logger(fl *pflag.FlagSet, w io.Writer) (*slog.Logger, error) {
	level := f.level
	if f.verbose {
		if fl.Changed("log-level") && !strings.EqualFold(level, "debug") {
			return nil, fmt.Errorf("-v asks for debug logs and --log-level for %q: give one of them", level)
		}
		level = "debug"
	}
	if _, err := logging.ParseLevel(level); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	l, err := logging.New(w, level, f.format)
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	return l, nil
}

// NewCommand builds the root command.
func NewCommand(s streams.Streams) *cobra.Command {
	lf := &logFlags{}
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
		// Every command gets the logger in its context, with which every
		// layer below logs and prints its heartbeats during long waits.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lf.logger(cmd.Flags(), s.Err)
			if err != nil {
				return exitcode.With(exitcode.InvalidInput, err)
			}
			cmd.SetContext(logging.NewContext(cmd.Context(), l))
			return nil
		},
	}
	lf.add(root.PersistentFlags())
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
