package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// The permissions the kubelet adds for a pod's fsGroup: group read-write
// (read-only for a read-only volume), and group search plus setgid on
// folders, so files made later inherit the group.
const (
	fsGroupRW   = os.FileMode(0o660)
	fsGroupRO   = os.FileMode(0o440)
	fsGroupExec = os.FileMode(0o110)
)

// setVolumeOwnership gives the volume at dir to the pod's fsGroup as the
// kubelet does when it mounts a volume that supports ownership management
// (emptyDir, local PVs, configMap, secret, downwardAPI and projected): every
// file and folder gets the group and the group permissions above; symbolic
// links get the group only. With fsGroupChangePolicy OnRootMismatch it does
// nothing when the volume's root already has the group and permissions (a
// volume seen before); with Always (the default) it walks the whole volume.
// The root is done last, so a walk cut short is redone next time.
//
// Like the kubelet it does not stop at a file it cannot change (a volume
// made read-only by a disk fault): it changes what it can and returns the
// failures, for the caller to log.
func setVolumeOwnership(dir string, fsGroup *int64, policy *corev1.PodFSGroupChangePolicy, readOnly bool) error {
	if fsGroup == nil {
		return nil
	}
	if policy != nil && *policy == corev1.FSGroupChangeOnRootMismatch && !ownershipNeeded(dir, *fsGroup, readOnly) {
		return nil
	}
	var failed []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		if err := changeOwnership(path, *fsGroup, readOnly); err != nil {
			failed = append(failed, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fsGroup %d on %s: %w", *fsGroup, dir, err)
	}
	if err := changeOwnership(dir, *fsGroup, readOnly); err != nil {
		failed = append(failed, err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("fsGroup %d on %s: %d files not changed: %w", *fsGroup, dir, len(failed), errors.Join(failed...))
	}
	return nil
}

func changeOwnership(path string, gid int64, readOnly bool) error {
	if err := os.Lchown(path, -1, int(gid)); err != nil {
		return err
	}
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return nil // chmod would change the file it points to
	}
	mask := fsGroupRW
	if readOnly {
		mask = fsGroupRO
	}
	if st.IsDir() {
		mask |= os.ModeSetgid | fsGroupExec
	}
	// os.FileMode keeps setuid, setgid and sticky apart from the permission
	// bits; os.Chmod maps them back.
	return os.Chmod(path, st.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)|mask)
}

// ownershipNeeded is the OnRootMismatch test: the root is not a folder of
// the group, with at least the group permissions and the setgid bit.
func ownershipNeeded(dir string, gid int64, readOnly bool) bool {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return true
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int64(sys.Gid) != gid {
		return true
	}
	want := fsGroupRW
	if readOnly {
		want = fsGroupRO
	}
	want |= fsGroupExec
	return st.Mode().Perm()&want != want || st.Mode()&os.ModeSetgid == 0
}
