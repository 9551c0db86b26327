// Package scenarioscmd is `rebound scenarios list|show|validate`: the
// embedded catalog and users' scenario files.
package scenarioscmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/scenarios"
)

// NewCommand builds `rebound scenarios`.
func NewCommand(s streams.Streams) *cobra.Command {
	var files []string
	var drills []*scenarios.Drill // the Drill documents of the files, set by load
	load := func() ([]*scenarios.Scenario, error) {
		if len(files) == 0 {
			return scenarios.Catalog()
		}
		var out []*scenarios.Scenario
		drills = nil
		for _, f := range files {
			objs, err := scenarios.Load(f)
			if err != nil {
				return nil, exitcode.With(exitcode.InvalidInput, err)
			}
			out = append(out, objs.Scenarios...)
			drills = append(drills, objs.Drills...)
		}
		return out, nil
	}
	cmd := &cobra.Command{Use: "scenarios", Short: "The scenario catalog and your scenario files"}
	cmd.PersistentFlags().StringArrayVarP(&files, "file", "f", nil, "scenario file or folder (repeatable); default: the built-in catalog")
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List scenarios", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			list, err := load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tGAMEDAY\tDISRUPTION\tFAULT\tRECOVERY\tSOURCE")
			for _, sc := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sc.Name, sc.GameDay(), sc.Disruption, sc.Fault.Kind, sc.Recovery.Path, sc.Source)
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use: "show NAME", Short: "Print a scenario (or a drill of the -f files) with every default filled in", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			list, err := load()
			if err != nil {
				return err
			}
			for _, sc := range list {
				if sc.Name == args[0] {
					data, err := scenarios.Marshal(scenarios.ScenarioToV1Alpha1(sc))
					if err != nil {
						return err
					}
					_, err = s.Out.Write(data)
					return err
				}
			}
			for _, d := range drills {
				if d.Name == args[0] {
					data, err := scenarios.Marshal(scenarios.DrillToV1Alpha1(d))
					if err != nil {
						return err
					}
					_, err = s.Out.Write(data)
					return err
				}
			}
			return exitcode.With(exitcode.InvalidInput, fmt.Errorf("no scenario %q (rebound scenarios list)", args[0]))
		},
	}, &cobra.Command{
		Use: "validate", Short: "Check scenario, drill and ladder files; every problem is reported with file, line and field", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			list, err := load()
			if err != nil {
				return err
			}
			if len(drills) > 0 {
				fmt.Fprintf(s.Out, "%d scenarios and %d drills valid\n", len(list), len(drills))
				return nil
			}
			fmt.Fprintf(s.Out, "%d scenarios valid\n", len(list))
			return nil
		},
	})
	return cmd
}
