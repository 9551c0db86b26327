package podexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/reboundhq/rebound/lab/agent/podspec"
)

// specEnv carries the Spec from the agent to the re-executed child.
const specEnv = "REBOUND_POD_EXEC_SPEC"

// Spec is what the child needs to set up the namespace and exec.
type Spec struct {
	Path      string   `json:"path"`
	Argv      []string `json:"argv"`
	Env       []string `json:"env"`
	Dir       string   `json:"dir"`
	Hostname  string   `json:"hostname"`
	HostsFile string   `json:"hostsFile"`
	// ResolvFile replaces /etc/resolv.conf, so a name the lab does not
	// know fails at once instead of going to the host's DNS servers.
	ResolvFile string          `json:"resolvFile"`
	Mounts     []podspec.Mount `json:"mounts"`
	// Netns is the pod's network namespace (a path under /run/netns).
	Netns string `json:"netns"`
	// User is who the container's process runs as; the child sets it up
	// (mounts, hostname) as root first and drops to it just before exec.
	User podspec.User `json:"user"`
	// NoNewPrivs is allowPrivilegeEscalation: false (PR_SET_NO_NEW_PRIVS).
	NoNewPrivs bool `json:"noNewPrivs,omitempty"`
	// Dirs are the image's folders in the private /tmp and /run, made
	// before the volumes are mounted (a volume may go over one).
	Dirs []podspec.Dir `json:"dirs,omitempty"`
}

// Command builds the command that runs spec: self (the rebound binary) with
// args (the hidden pod-exec subcommand) in new mount and UTS namespaces, in
// its own process group so signals reach the whole container, and killed if
// the agent dies so no process outlives the lab.
func Command(self string, args []string, spec Spec) (*exec.Cmd, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(append([]string{}, spec.Env...), specEnv+"="+string(data))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd, nil
}

// Main runs in the child: it sets up the namespace and replaces itself with
// the container's executable. It returns only on error.
//
// The order matters. Everything that comes from the host (volume sources,
// the executable, any namespace file a later step joins) is opened first,
// while the host's /tmp and /run are still visible; then the private /tmp
// and /run are mounted, then the volumes over them (so a mount under
// /var/run/secrets lands in the private /run), all as root; the user is set
// last, just before exec.
func Main() error {
	// Namespaces of the network kind and PR_SET_NO_NEW_PRIVS are per
	// thread: join and set them on this locked thread, which is the one
	// that execs below.
	runtime.LockOSThread()
	raw := os.Getenv(specEnv)
	if raw == "" {
		return errors.New("pod-exec is started by the lab node agent, not by hand")
	}
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("pod-exec: decode spec: %w", err)
	}
	// Before the private /run hides /run/netns.
	if spec.Netns != "" {
		if err := joinNetns(spec.Netns); err != nil {
			return err
		}
	}
	// Keep every mount below private to this namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("pod-exec: make mounts private: %w", err)
	}
	mounts := spec.Mounts
	if spec.HostsFile != "" {
		mounts = append(mounts, podspec.Mount{Source: spec.HostsFile, Target: "/etc/hosts", ReadOnly: true})
	}
	if spec.ResolvFile != "" {
		// Lstat: /etc/resolv.conf may be a link into /run (systemd-resolved).
		if _, err := os.Lstat("/etc/resolv.conf"); err == nil {
			mounts = append(mounts, podspec.Mount{Source: spec.ResolvFile, Target: "/etc/resolv.conf", ReadOnly: true})
		}
	}
	sources := make([]*os.File, len(mounts))
	for i, m := range mounts {
		f, err := os.OpenFile(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("pod-exec: volume source %s: %w", m.Source, err)
		}
		sources[i] = f
	}
	exe, err := os.OpenFile(spec.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pod-exec: executable %s: %w", spec.Path, err)
	}
	if err := mountPrivateDirs(); err != nil {
		return err
	}
	for _, d := range spec.Dirs {
		if err := makeImageDir(d); err != nil {
			return err
		}
	}
	for i, m := range mounts {
		if err := bind(m, sources[i]); err != nil {
			return err
		}
		sources[i].Close()
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("pod-exec: sethostname: %w", err)
		}
	}
	// As runc: the working folder is entered as root, and made when it is
	// missing, but only inside the private /tmp and /run: nothing is
	// created on the host.
	if _, err := os.Stat(spec.Dir); err != nil && Private(spec.Dir) {
		if err := os.MkdirAll(resolve(spec.Dir), 0o755); err != nil {
			return fmt.Errorf("pod-exec: workingDir %q: %w", spec.Dir, err)
		}
	}
	if err := os.Chdir(spec.Dir); err != nil {
		return fmt.Errorf("pod-exec: workingDir %q: %w", spec.Dir, err)
	}
	if err := setUser(spec.User, spec.NoNewPrivs); err != nil {
		return err
	}
	err = unix.Exec(spec.Path, spec.Argv, spec.Env)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOENT) {
		// The path is out of the user's reach (a folder only root may
		// enter, like the lab's binary cache in root's home) or hidden by
		// the private /tmp and /run: exec the file opened above instead.
		// (A script run this way finds no /dev/fd of itself: it must be
		// reachable by path.)
		if err2 := unix.Exec(fmt.Sprintf("/proc/self/fd/%d", exe.Fd()), spec.Argv, spec.Env); err2 != nil && !errors.Is(err2, unix.EACCES) && !errors.Is(err2, unix.ENOENT) {
			err = err2
		}
	}
	return fmt.Errorf("pod-exec: exec %s as uid %d gid %d: %w", spec.Path, spec.User.UID, spec.User.GID, err)
}

func joinNetns(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pod-exec: the pod's network namespace: %w", err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("pod-exec: join the pod's network namespace %s: %w", path, err)
	}
	return nil
}

// PrivateDir is a folder each container gets as its own tmpfs, as a
// container has its own /tmp and /run in its image's writable layer: what
// it writes there no other container sees, and it goes when the container
// does (its mount namespace ends with its last process).
type PrivateDir struct {
	Path string
	Mode string // octal, as tmpfs's mode= option
}

// PrivateDirs are the container's private folders.
var PrivateDirs = []PrivateDir{{Path: "/tmp", Mode: "1777"}, {Path: "/run", Mode: "0755"}}

func mountPrivateDirs() error {
	for _, d := range PrivateDirs {
		if err := unix.Mount("tmpfs", d.Path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode="+d.Mode); err != nil {
			return fmt.Errorf("pod-exec: private %s: %w", d.Path, err)
		}
	}
	return nil
}

// makeImageDir makes one of the image's folders in the private /tmp or /run.
func makeImageDir(d podspec.Dir) error {
	if !Private(d.Path) {
		return fmt.Errorf("pod-exec: image folder %s is not in the private /tmp or /run", d.Path)
	}
	p := resolve(d.Path)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("pod-exec: image folder %s: %w", d.Path, err)
	}
	if err := os.Chown(p, int(d.UID), int(d.GID)); err != nil {
		return fmt.Errorf("pod-exec: image folder %s: %w", d.Path, err)
	}
	// unix.Chmod: the mode as chmod(2) takes it, setgid and sticky included.
	if err := unix.Chmod(p, d.Mode); err != nil {
		return fmt.Errorf("pod-exec: image folder %s: %w", d.Path, err)
	}
	return nil
}

// Private tells whether path, once the host's symbolic links are followed
// (/var/run is usually a link to /run), lies in a container's private /tmp
// or /run: the agent leaves such mount targets to the child, which makes
// them inside its own tmpfs.
func Private(path string) bool {
	r := resolve(path)
	for _, d := range PrivateDirs {
		if r == d.Path || strings.HasPrefix(r, d.Path+"/") {
			return true
		}
	}
	return false
}

// resolve follows the symbolic links along p as the kernel would, as far as
// the path exists, and keeps the rest as written (unlike
// filepath.EvalSymlinks, which fails on a missing path).
func resolve(p string) string {
	out := "/"
	rest := strings.Split(p, "/")
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			out = filepath.Dir(out)
			continue
		}
		next := filepath.Join(out, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return filepath.Join(append([]string{next}, rest...)...)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			out = next
			continue
		}
		link, err := os.Readlink(next)
		if hops++; err != nil || hops > 40 { // ELOOP, as the kernel
			return filepath.Join(append([]string{next}, rest...)...)
		}
		if filepath.IsAbs(link) {
			out = "/"
		}
		rest = append(strings.Split(link, "/"), rest...)
	}
	return out
}

// bind mounts the source opened as src at m.Target. A missing target is
// made when it is in the private /tmp or /run (the agent prepared every
// other one).
func bind(m podspec.Mount, src *os.File) error {
	if _, err := os.Stat(m.Target); err != nil {
		if !Private(m.Target) {
			return fmt.Errorf("pod-exec: mount target %s is missing (the agent prepares it): %w", m.Target, err)
		}
		st, err := src.Stat()
		if err != nil {
			return fmt.Errorf("pod-exec: volume source %s: %w", m.Source, err)
		}
		if _, err := ensure(resolve(m.Target), !st.IsDir()); err != nil {
			return fmt.Errorf("pod-exec: %w", err)
		}
	}
	// The source by its open file: it may be hidden now by the private /tmp and /run.
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", src.Fd()), m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pod-exec: bind %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", m.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("pod-exec: make %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// setUser drops root for u, as a runtime does last before exec:
// supplementary groups, then the gid, then the uid (after which the
// capabilities are gone). The syscall package applies each to every thread.
func setUser(u podspec.User, noNewPrivs bool) error {
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("pod-exec: supplementary groups %v: %w", u.Groups, err)
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("pod-exec: gid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("pod-exec: uid %d: %w", u.UID, err)
	}
	if noNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("pod-exec: no_new_privs (allowPrivilegeEscalation: false): %w", err)
		}
	}
	return nil
}

// Enter builds the command that runs path with args inside the running
// container whose process is pid, as a runtime's exec does: in its mount,
// UTS and network namespaces (nsenter) and as its user (setpriv), both
// util-linux. Exec probes use it.
func Enter(ctx context.Context, pid int, u podspec.User, noNewPrivs bool, path string, args []string) *exec.Cmd {
	argv := []string{"-t", strconv.Itoa(pid), "-m", "-u", "-n", "--"}
	if u.UID != 0 || u.GID != 0 || len(u.Groups) > 0 || noNewPrivs {
		argv = append(argv, "setpriv", "--reuid="+strconv.FormatUint(uint64(u.UID), 10), "--regid="+strconv.FormatUint(uint64(u.GID), 10))
		if len(u.Groups) == 0 {
			argv = append(argv, "--clear-groups")
		} else {
			gs := make([]string, len(u.Groups))
			for i, g := range u.Groups {
				gs[i] = strconv.FormatUint(uint64(g), 10)
			}
			argv = append(argv, "--groups="+strings.Join(gs, ","))
		}
		if noNewPrivs {
			argv = append(argv, "--no-new-privs")
		}
		argv = append(argv, "--")
	}
	return exec.CommandContext(ctx, "nsenter", append(append(argv, path), args...)...)
}

// EnsureTargets makes every mount target that does not exist yet, as a
// folder or, when its source is a file, an empty file, and returns what it
// created (parents first) so it can be removed when the lab goes down.
// Targets in the private /tmp and /run are left to the child.
func EnsureTargets(mounts []podspec.Mount) ([]string, error) {
	var created []string
	for _, m := range mounts {
		if Private(m.Target) {
			continue // the child makes it in its private /tmp or /run
		}
		isFile := false
		if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
			isFile = true
		}
		made, err := ensure(filepath.Clean(m.Target), isFile)
		created = append(created, made...)
		if err != nil {
			return created, err
		}
	}
	return created, nil
}

func ensure(target string, isFile bool) ([]string, error) {
	if _, err := os.Lstat(target); err == nil {
		return nil, nil
	}
	made, err := ensure(filepath.Dir(target), false)
	if err != nil {
		return made, err
	}
	if isFile {
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return made, fmt.Errorf("create mount target %s: %w", target, err)
		}
		f.Close()
	} else if err := os.Mkdir(target, 0o755); err != nil {
		return made, fmt.Errorf("create mount target %s: %w", target, err)
	}
	return append(made, target), nil
}
