package mover

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/reboundhq/rebound/backup/repo"
)

// CmdRestoreArchive extracts tar objects of a backup into a directory.
const CmdRestoreArchive = "restore-archive"

// ArchiveObject is one tar object of a backup and the subdirectory of the
// target directory it is extracted into ("" or "." for the directory
// itself).
type ArchiveObject struct {
	Object, Into string
}

// ArchiveOptions make a directory on a volume hold exactly the contents
// of some tar objects of a backup (a PostgreSQL base backup and its WAL),
// or, with no objects, make it empty (a member that must start over).
type ArchiveOptions struct {
	Common
	Backup  string // repository snapshot id of the backup
	Objects []ArchiveObject
	// VolumeRoot is where the volume is mounted; Dir must be inside it.
	// The new contents are staged there and renamed into place.
	VolumeRoot string
	Dir        string
	// Owner, "UID:GID", owns everything written: a mover that runs as
	// root writes the files as the app's user, who must own its data
	// (PostgreSQL refuses a data directory it does not own). Empty leaves
	// the files to the mover's own user.
	Owner string
	// VolumeGroup, a GID, is the pod's fsGroup: the volume's root is given
	// to it with group rwx and setgid, as the kubelet would, so a pod with
	// fsGroupChangePolicy OnRootMismatch finds nothing to change and does
	// not add group write to every restored file (PostgreSQL refuses a
	// data directory that is not 0700 or 0750).
	VolumeGroup string
}

// Args is the command line of `rebound backup restore-archive` for o.
func (o ArchiveOptions) Args() []string {
	return append(o.Common.args(CmdRestoreArchive), o.OwnArgs()[1:]...)
}

// OwnArgs is the subcommand and its own flags, without the common ones
// (which the backup engine adds to a restore plan's movers).
func (o ArchiveOptions) OwnArgs() []string {
	a := []string{CmdRestoreArchive}
	if o.Backup != "" {
		a = append(a, "--backup="+o.Backup)
	}
	for _, ob := range o.Objects {
		into := ob.Into
		if into == "" {
			into = "."
		}
		a = append(a, "--object="+ob.Object+"="+into)
	}
	if o.Owner != "" {
		a = append(a, "--owner="+o.Owner)
	}
	if o.VolumeGroup != "" {
		a = append(a, "--volume-group="+o.VolumeGroup)
	}
	return append(a, "--volume-root="+o.VolumeRoot, "--dir="+o.Dir)
}

// ParseArchiveObject parses the value of --object: OBJECT=SUBDIR.
func ParseArchiveObject(s string) (ArchiveObject, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 {
		return ArchiveObject{}, fmt.Errorf("--object %q: want OBJECT=SUBDIR (SUBDIR . for the directory itself)", s)
	}
	return ArchiveObject{Object: s[:i], Into: s[i+1:]}, nil
}

// RestoreArchive makes o.Dir hold exactly the contents of o.Objects. It
// extracts them into a staging folder on the same volume, syncs every
// file and folder, and only then swaps the staged folder in for the old
// one (two renames); a failure or crash before the swap leaves the old
// data as it was, and staging folders of an earlier crashed run are
// removed first. With no objects it empties o.Dir the same way.
func RestoreArchive(ctx context.Context, r *repo.Repository, o ArchiveOptions) error {
	rel, err := checkDir(o.VolumeRoot, o.Dir)
	if err != nil {
		return err
	}
	var id repo.ID
	if len(o.Objects) > 0 {
		if id, err = repo.ParseID(o.Backup); err != nil {
			return fmt.Errorf("--backup: %w", err)
		}
	}
	for _, ob := range o.Objects {
		if into := path.Clean(ob.Into); path.IsAbs(into) || into == ".." || strings.HasPrefix(into, "../") {
			return fmt.Errorf("--object %s=%s: the subdirectory must be a plain relative path inside --dir", ob.Object, ob.Into)
		}
	}
	uid, gid, err := parseOwner(o.Owner)
	if err != nil {
		return err
	}
	volGroup := -1
	if o.VolumeGroup != "" {
		if volGroup, err = strconv.Atoi(o.VolumeGroup); err != nil || volGroup < 0 {
			return fmt.Errorf("--volume-group %q: want a GID, a number", o.VolumeGroup)
		}
	}
	if err := removeStale(o.VolumeRoot); err != nil {
		return err
	}
	token := o.Token
	if token == "" {
		token = "x"
	}
	stage := filepath.Join(o.VolumeRoot, stagePrefix+token)
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return fmt.Errorf("staging folder: %w", err)
	}
	defer os.RemoveAll(stage)
	newDir := filepath.Join(stage, "data")
	if err := os.Mkdir(newDir, 0o700); err != nil {
		return fmt.Errorf("staging folder: %w", err)
	}
	for _, ob := range o.Objects {
		dst := filepath.Join(newDir, filepath.FromSlash(ob.Into))
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		if err := extractObject(ctx, r, id, ob.Object, dst); err != nil {
			return err
		}
	}
	if uid >= 0 {
		if err := chownTree(newDir, uid, gid); err != nil {
			return fmt.Errorf("give the restored files to %s: %w", o.Owner, err)
		}
	}
	if err := syncTree(newDir); err != nil {
		return fmt.Errorf("sync the restored files: %w", err)
	}
	if err := swapDir(o.VolumeRoot, rel, stage, newDir, o.Dir); err != nil {
		return err
	}
	if volGroup >= 0 {
		st, err := os.Stat(o.VolumeRoot)
		if err != nil {
			return err
		}
		if err := os.Chown(o.VolumeRoot, -1, volGroup); err != nil {
			return fmt.Errorf("give the volume's root to group %d: %w", volGroup, err)
		}
		if err := os.Chmod(o.VolumeRoot, st.Mode().Perm()|0o070|os.ModeSetgid); err != nil {
			return fmt.Errorf("volume root permissions: %w", err)
		}
	}
	return nil
}

// parseOwner parses --owner UID:GID; -1, -1 when empty.
func parseOwner(s string) (int, int, error) {
	if s == "" {
		return -1, -1, nil
	}
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("--owner %q: want UID:GID, numbers", s)
	}
	return uid, gid, nil
}

// chownTree gives everything under dir, dir included, to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// checkDir checks that dir is an absolute path inside root and returns it
// relative to root.
func checkDir(root, dir string) (string, error) {
	if !filepath.IsAbs(dir) || !filepath.IsAbs(root) {
		return "", fmt.Errorf("--dir %q and --volume-root %q: want absolute paths", dir, root)
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("--dir %q is not inside --volume-root %q", dir, root)
	}
	return rel, nil
}

// swapDir puts newDir in place of dir: the old directory is renamed into
// the staging folder (removed with it), the new one renamed to dir, and
// the parent synced. A directory that is the volume's root itself cannot
// be renamed: it is emptied and the new entries moved up.
func swapDir(root, rel, stage, newDir, dir string) error {
	if rel == "." {
		return swapIn(root, rel, stage, newDir, dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(stage, "old")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move the old data directory aside: %w", err)
	}
	if err := os.Rename(newDir, dir); err != nil {
		return fmt.Errorf("move the restored data into place: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// extractObject extracts the tar object of backup id into dst. Entries
// must stay inside dst; regular files, folders and symbolic links are
// supported (what pg_basebackup's tars hold).
func extractObject(ctx context.Context, r *repo.Repository, id repo.ID, object, dst string) error {
	rc, err := r.OpenObject(ctx, id, object)
	if err != nil {
		return fmt.Errorf("read %s of backup %s: %w", object, id.Short(), err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	buf := make([]byte, 1<<20)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s of backup %s: %w", object, id.Short(), err)
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%s of backup %s: entry %q points outside the directory", object, id.Short(), h.Name)
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if name == "." {
				continue
			}
			if err := os.MkdirAll(p, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode|0o600)
			if err != nil {
				return err
			}
			if _, err := io.CopyBuffer(f, tr, buf); err != nil {
				f.Close()
				return fmt.Errorf("%s of backup %s: %s: %w", object, id.Short(), h.Name, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s of backup %s: entry %q has tar type %q, which a restore does not write", object, id.Short(), h.Name, h.Typeflag)
		}
	}
}

// syncTree fsyncs every file and folder under dir, folders after their
// entries.
func syncTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			serr := f.Sync()
			f.Close()
			return serr
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncDir(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}
