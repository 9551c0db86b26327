package labnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"k8s.io/apimachinery/pkg/types"
)

// NetnsDir is where named network namespaces are bind-mounted, as by
// `ip netns add`, so `ip netns exec` and nsenter --net find them.
const NetnsDir = "/run/netns"

// NetnsPath is the lab namespace of lab.
func NetnsPath(lab string) string { return filepath.Join(NetnsDir, "rebound-"+lab) }

// PodNetnsPath is the namespace of one pod of lab. A lab name has no dot,
// so no lab's pods are taken for another's.
func PodNetnsPath(lab string, uid types.UID) string {
	return filepath.Join(NetnsDir, "rebound-"+lab+".pod-"+string(uid))
}

// Do runs fn on a locked OS thread inside the network namespace at path:
// sockets, netlink and nftables calls made by fn act there. The thread goes
// back to its namespace afterwards, or is thrown away if it cannot.
func Do(path string, fn func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer ns.Close()
	return doIn(ns, fn)
}

func doIn(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("this thread's network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: Go ends it with the goroutine rather
		// than run other code in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("leave network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// create makes a named namespace at path (replacing a stale one) without
// moving the calling thread into it for longer than its creation.
func create(path string) (netns.NsHandle, error) {
	name := filepath.Base(path)
	if _, err := os.Stat(path); err == nil {
		if err := netns.DeleteNamed(name); err != nil {
			return netns.None(), fmt.Errorf("remove stale network namespace %s: %w", path, err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return netns.None(), err
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name) // enters it
	if err != nil {
		return netns.None(), fmt.Errorf("create network namespace %s: %w", path, err)
	}
	if err := netns.Set(orig); err != nil {
		ns.Close()
		runtime.LockOSThread() // stays locked, so the thread dies with us
		return netns.None(), fmt.Errorf("leave network namespace %s: %w", path, err)
	}
	return ns, nil
}

// remove unmounts and deletes a named namespace; a missing one is fine.
func remove(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(filepath.Base(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", path, err)
	}
	return nil
}

// Namespaces lists the namespaces of lab that exist: its own and its pods'.
func Namespaces(lab string) []string {
	entries, _ := os.ReadDir(NetnsDir)
	var out []string
	for _, e := range entries {
		if n := e.Name(); n == "rebound-"+lab || strings.HasPrefix(n, "rebound-"+lab+".pod-") {
			out = append(out, filepath.Join(NetnsDir, n))
		}
	}
	return out
}
