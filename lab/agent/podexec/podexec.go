package podexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
func Main() error {
	raw := os.Getenv(specEnv)
	if raw == "" {
		return errors.New("pod-exec is started by the lab node agent, not by hand")
	}
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("pod-exec: decode spec: %w", err)
	}
	// Namespaces of the network kind are per thread: join the pod's on
	// this locked thread, which is the one that execs below.
	runtime.LockOSThread()
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
		if _, err := os.Stat("/etc/resolv.conf"); err == nil {
			mounts = append(mounts, podspec.Mount{Source: spec.ResolvFile, Target: "/etc/resolv.conf", ReadOnly: true})
		}
	}
	for _, m := range mounts {
		if err := bind(m); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("pod-exec: sethostname: %w", err)
		}
	}
	if err := os.Chdir(spec.Dir); err != nil {
		return fmt.Errorf("pod-exec: workingDir %q: %w", spec.Dir, err)
	}
	if err := unix.Exec(spec.Path, spec.Argv, spec.Env); err != nil {
		return fmt.Errorf("pod-exec: exec %s: %w", spec.Path, err)
	}
	return nil
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

func bind(m podspec.Mount) error {
	if _, err := os.Stat(m.Target); err != nil {
		return fmt.Errorf("pod-exec: mount target %s is missing (the agent prepares it): %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pod-exec: bind %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", m.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("pod-exec: make %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// EnsureTargets makes every mount target that does not exist yet, as a
// folder or, when its source is a file, an empty file, and returns what it
// created (parents first) so it can be removed when the lab goes down.
func EnsureTargets(mounts []podspec.Mount) ([]string, error) {
	var created []string
	for _, m := range mounts {
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
