package backupcmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/cli/streams"
)

// moverCommands are the hidden subcommands data-mover pods run: the
// engine builds their command lines with the mover package's Args.
func moverCommands(s streams.Streams) []*cobra.Command {
	return []*cobra.Command{etcdRestoreMemberCommand(s), pvcBackupCommand(s), pvcRestoreCommand(s)}
}

func addCommon(fl *pflag.FlagSet, c *mover.Common) {
	fl.StringVar(&c.Repo, "repo", "", "repository URL or path")
	fl.StringVar(&c.KeyFile, "key-file", "", "repository key file")
	fl.StringVar(&c.Token, "token", "", "the engine's operation token")
	fl.StringVar(&c.Target, "target", "", "the PVC or member this mover works on")
}

func etcdRestoreMemberCommand(s streams.Streams) *cobra.Command {
	o := &mover.EtcdMemberOptions{}
	cmd := &cobra.Command{
		Use:    mover.CmdEtcdRestoreMember,
		Short:  "Rebuild one etcd member's data directory from a backup (run by data-mover pods)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := o.Open(cmd.Context())
			if err != nil {
				return mover.ReportError(cmd.Context(), o.Common, err)
			}
			defer r.Close()
			if err := mover.RestoreEtcdMember(cmd.Context(), r, *o); err != nil {
				return mover.ReportError(cmd.Context(), o.Common, err)
			}
			fmt.Fprintf(s.Out, "member %s restored into %s\n", o.Name, o.DataDir)
			return nil
		},
	}
	fl := cmd.Flags()
	addCommon(fl, &o.Common)
	fl.StringVar(&o.Backup, "backup", "", "repository snapshot id of the backup")
	fl.StringVar(&o.Object, "object", "", "the object holding the etcd snapshot")
	fl.StringVar(&o.VolumeRoot, "volume-root", "", "where the member's volume is mounted")
	fl.StringVar(&o.DataDir, "data-dir", "", "the member's --data-dir")
	fl.StringVar(&o.Name, "name", "", "the member's --name")
	fl.StringVar(&o.InitialCluster, "initial-cluster", "", "the member's --initial-cluster")
	fl.StringVar(&o.InitialClusterToken, "initial-cluster-token", "", "the member's --initial-cluster-token")
	fl.StringVar(&o.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", "", "the member's --initial-advertise-peer-urls")
	fl.Uint64Var(&o.RevisionBump, "bump-revision", 0, "raise the revision by this much and mark the old ones compacted")
	return cmd
}

func pvcBackupCommand(s streams.Streams) *cobra.Command {
	o := &mover.PVCOptions{}
	cmd := &cobra.Command{
		Use:    mover.CmdPVCBackup,
		Short:  "Copy a mounted volume into the repository (run by data-mover pods)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := o.Open(cmd.Context())
			if err != nil {
				return mover.ReportError(cmd.Context(), o.Common, err)
			}
			defer r.Close()
			snap, err := mover.BackupPath(cmd.Context(), r, *o)
			if err != nil {
				return mover.ReportError(cmd.Context(), o.Common, err)
			}
			fmt.Fprintf(s.Out, "volume %s stored as snapshot %s (%d files)\n", o.Target, snap.ID, snap.Summary.Files)
			return nil
		},
	}
	fl := cmd.Flags()
	addCommon(fl, &o.Common)
	fl.StringVar(&o.Namespace, "namespace", "", "the app's namespace")
	fl.StringVar(&o.Path, "path", "/data", "where the volume is mounted")
	return cmd
}

func pvcRestoreCommand(s streams.Streams) *cobra.Command {
	o := &mover.PVCOptions{}
	cmd := &cobra.Command{
		Use:    mover.CmdPVCRestore,
		Short:  "Write a volume back from the repository (run by data-mover pods)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := o.Open(cmd.Context())
			if err != nil {
				return mover.ReportError(cmd.Context(), o.Common, err)
			}
			defer r.Close()
			if err := mover.RestorePath(cmd.Context(), r, *o); err != nil {
				return mover.ReportError(cmd.Context(), o.Common, err)
			}
			fmt.Fprintf(s.Out, "volume %s restored from snapshot %s\n", o.Target, o.Backup)
			return nil
		},
	}
	fl := cmd.Flags()
	addCommon(fl, &o.Common)
	fl.StringVar(&o.Path, "path", "/data", "where the volume is mounted")
	fl.StringVar(&o.Backup, "backup", "", "repository snapshot id of the volume's files")
	return cmd
}
