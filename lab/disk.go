package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Disk fault actions on a lab volume, and their undos.
const (
	DiskWipe      = "wipe"      // remove every file: the disk was replaced by an empty one
	DiskCorrupt   = "corrupt"   // overwrite bytes inside every file
	DiskReadOnly  = "readonly"  // the filesystem turns read-only, as after I/O errors
	DiskReadWrite = "readwrite" // undo readonly
	DiskFill      = "fill"      // fill the volume to its last byte: writes fail with ENOSPC
	DiskUnfill    = "unfill"    // undo fill
)

// fillFile is the file a fill writes, so unfill removes only that.
const fillFile = ".rebound-fill"

// DiskActions lists the actions DiskFault takes.
var DiskActions = []string{DiskWipe, DiskCorrupt, DiskReadOnly, DiskReadWrite, DiskFill, DiskUnfill}

// VolumePath finds the lab volume behind a PVC (namespace/name).
func (l *Lab) VolumePath(ctx context.Context, namespace, pvc string) (string, error) {
	cs, err := l.KubeClient()
	if err != nil {
		return "", err
	}
	claim, err := cs.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, pvc, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("pvc %s/%s: %w", namespace, pvc, err)
	}
	if claim.Spec.VolumeName == "" {
		return "", fmt.Errorf("pvc %s/%s is not bound to a volume yet", namespace, pvc)
	}
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("pv %s of pvc %s/%s: %w", claim.Spec.VolumeName, namespace, pvc, err)
	}
	if pv.Spec.Local == nil || !strings.HasPrefix(pv.Spec.Local.Path, filepath.Join(l.Dir(), "volumes")+"/") {
		return "", fmt.Errorf("pv %s is not a lab volume; disk faults elsewhere go through Chaos Mesh IOChaos", pv.Name)
	}
	return pv.Spec.Local.Path, nil
}

// DiskFault applies a disk action to the volume of a PVC and says what it did.
func (l *Lab) DiskFault(ctx context.Context, namespace, pvc, action string) (string, error) {
	dir, err := l.VolumePath(ctx, namespace, pvc)
	if err != nil {
		return "", err
	}
	switch action {
	case DiskWipe:
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return "", fmt.Errorf("wipe %s: %w", dir, err)
			}
		}
		return fmt.Sprintf("wiped %d entries", len(entries)), nil
	case DiskCorrupt:
		n, err := corrupt(dir)
		return fmt.Sprintf("corrupted %d files", n), err
	case DiskReadOnly, DiskReadWrite:
		flags := uintptr(unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
		if action == DiskReadOnly {
			flags |= unix.MS_RDONLY
		}
		// The remount is of the tmpfs superblock, so it reaches the bind
		// mounts inside every pod using the volume.
		err := unix.Mount("", dir, "", flags, "")
		killed := 0
		if errors.Is(err, unix.EBUSY) && action == DiskReadOnly {
			// Files are open for writing: their processes die, as they
			// would on their next write to a disk gone read-only, and
			// restart against the read-only volume.
			if killed, err = l.client().killVolumeUsers(ctx, dir); err == nil {
				for range 100 {
					if err = unix.Mount("", dir, "", flags, ""); !errors.Is(err, unix.EBUSY) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
		if err != nil {
			return "", fmt.Errorf("remount %s %s: %w", dir, action, err)
		}
		if killed > 0 {
			return fmt.Sprintf("volume is %s; the containers of %d pod(s) writing to it were killed", action, killed), nil
		}
		return "volume is " + action, nil
	case DiskFill:
		n, err := fill(filepath.Join(dir, fillFile))
		return fmt.Sprintf("filled with %d bytes", n), err
	case DiskUnfill:
		if err := os.Remove(filepath.Join(dir, fillFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "fill removed", nil
	}
	return "", fmt.Errorf("unknown disk action %q (want one of %s)", action, strings.Join(DiskActions, ", "))
}

// corrupt overwrites 64 random bytes at 8 random places of every regular
// file, so checksummed stores (etcd's bbolt) notice and others misread.
func corrupt(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.Size() == 0 {
			return err
		}
		junk := make([]byte, 64)
		for range 8 {
			for i := range junk {
				junk[i] = byte(rand.IntN(256))
			}
			if _, err := f.WriteAt(junk[:min(int64(len(junk)), st.Size())], rand.Int64N(st.Size())); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	return n, err
}

// fill writes zeros until the filesystem is full.
func fill(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := f.Write(buf)
		total += int64(n)
		if errors.Is(err, unix.ENOSPC) {
			return total, nil
		}
		if err != nil && !errors.Is(err, io.ErrShortWrite) {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
}
