package backupcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/cli/streams"
)

// moverCommands are the hidden subcommands data-mover pods run: the
// engine builds their command lines with the mover package's Args.
func moverCommands(s streams.Streams) []*cobra.Command {
	return []*cobra.Command{etcdRestoreMemberCommand(s), pvcBackupCommand(s), pvcRestoreCommand(s), restoreArchiveCommand(s)}
}

func addCommon(fl *pflag.FlagSet, c *mover.Common) {
	fl.StringVar(&c.Repo, "repo", "", "repository URL or path")
	fl.StringVar(&c.KeyFile, "key-file", "", "repository key file")
	fl.StringVar(&c.Token, "token", "", "the engine's operation token")
	fl.StringVar(&c.Target, "target", "", "the PVC or member this mover works on")
}

// moverCommand is one data-mover subcommand: open the repository, do the
// work, print what was done, and report any failure back to the engine.
func moverCommand(s streams.Streams, use, short string, c *mover.Common, work func(context.Context, *repo.Repository) (string, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short + " (run by data-mover pods)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := c.Open(cmd.Context())
			if err != nil {
				return mover.ReportError(cmd.Context(), *c, err)
			}
			defer r.Close()
			done, err := work(cmd.Context(), r)
			if err != nil {
				return mover.ReportError(cmd.Context(), *c, err)
			}
			fmt.Fprintln(s.Out, done)
			return nil
		},
	}
	addCommon(cmd.Flags(), c)
	return cmd
}

func etcdRestoreMemberCommand(s streams.Streams) *cobra.Command {
	o := &mover.EtcdMemberOptions{}
	cmd := moverCommand(s, mover.CmdEtcdRestoreMember, "Rebuild one etcd member's data directory from a backup", &o.Common,
		func(ctx context.Context, r *repo.Repository) (string, error) {
			return fmt.Sprintf("member %s restored into %s", o.Name, o.DataDir), mover.RestoreEtcdMember(ctx, r, *o)
		})
	fl := cmd.Flags()
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
	cmd := moverCommand(s, mover.CmdPVCBackup, "Copy a mounted volume into the repository", &o.Common,
		func(ctx context.Context, r *repo.Repository) (string, error) {
			snap, err := mover.BackupPath(ctx, r, *o)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("volume %s stored as snapshot %s (%d files)", o.Target, snap.ID, snap.Summary.Files), nil
		})
	cmd.Flags().StringVar(&o.Namespace, "namespace", "", "the app's namespace")
	cmd.Flags().StringVar(&o.Path, "path", "/data", "where the volume is mounted")
	return cmd
}

func pvcRestoreCommand(s streams.Streams) *cobra.Command {
	o := &mover.PVCOptions{}
	cmd := moverCommand(s, mover.CmdPVCRestore, "Write a volume back from the repository", &o.Common,
		func(ctx context.Context, r *repo.Repository) (string, error) {
			return fmt.Sprintf("volume %s restored from snapshot %s", o.Target, o.Backup), mover.RestorePath(ctx, r, *o)
		})
	cmd.Flags().StringVar(&o.Path, "path", "/data", "where the volume is mounted")
	cmd.Flags().StringVar(&o.Backup, "backup", "", "repository snapshot id of the volume's files")
	return cmd
}

func restoreArchiveCommand(s streams.Streams) *cobra.Command {
	o := &mover.ArchiveOptions{}
	var objects []string
	cmd := moverCommand(s, mover.CmdRestoreArchive, "Extract tar objects of a backup into a directory, or empty it", &o.Common,
		func(ctx context.Context, r *repo.Repository) (string, error) {
			for _, ob := range objects {
				a, err := mover.ParseArchiveObject(ob)
				if err != nil {
					return "", err
				}
				o.Objects = append(o.Objects, a)
			}
			if err := mover.RestoreArchive(ctx, r, *o); err != nil {
				return "", err
			}
			if len(o.Objects) == 0 {
				return fmt.Sprintf("%s emptied", o.Dir), nil
			}
			return fmt.Sprintf("%d objects of backup %s extracted into %s", len(o.Objects), o.Backup, o.Dir), nil
		})
	fl := cmd.Flags()
	fl.StringVar(&o.Backup, "backup", "", "repository snapshot id of the backup")
	fl.StringArrayVar(&objects, "object", nil, "a tar object of the backup and the subdirectory of --dir to extract it into: OBJECT=SUBDIR (repeatable; none: empty --dir)")
	fl.StringVar(&o.VolumeRoot, "volume-root", "", "where the volume is mounted (the restore is staged there)")
	fl.StringVar(&o.Dir, "dir", "", "the directory to fill, inside --volume-root")
	fl.StringVar(&o.Owner, "owner", "", "UID:GID to own everything written (the app's user, when the mover runs as root)")
	fl.StringVar(&o.VolumeGroup, "volume-group", "", "GID (the pod's fsGroup) to give the volume's root to, with group rwx and setgid, as the kubelet would")
	return cmd
}
