package podexec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/reboundhq/rebound/lab/agent/podspec"
)

func TestEnsureTargetsRecordsWhatItMade(t *testing.T) {
	t.Parallel()
	root := hostDir(t)
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(root, "exists")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	created, err := EnsureTargets([]podspec.Mount{
		{Source: src, Target: filepath.Join(root, "var/lib/etcd")},
		{Source: file, Target: filepath.Join(root, "etc/app/conf.yaml")},
		{Source: src, Target: existing},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "var"), filepath.Join(root, "var/lib"), filepath.Join(root, "var/lib/etcd"),
		filepath.Join(root, "etc"), filepath.Join(root, "etc/app"), filepath.Join(root, "etc/app/conf.yaml"),
	}
	if !slices.Equal(created, want) {
		t.Errorf("created %v, want %v (parents first, nothing that existed)", created, want)
	}
	if st, err := os.Stat(filepath.Join(root, "etc/app/conf.yaml")); err != nil || st.IsDir() {
		t.Errorf("a file source needs a file mount target: %v", err)
	}
}

func TestEnsureTargetsLeavesThePrivateDirsToTheChild(t *testing.T) {
	t.Parallel()
	created, err := EnsureTargets([]podspec.Mount{
		{Source: t.TempDir(), Target: "/var/run/secrets/rebound-test-never-made"},
		{Source: t.TempDir(), Target: "/tmp/rebound-test-never-made/deeper"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) > 0 {
		t.Errorf("made %v on the host; targets under /tmp and /run belong in the container's private tmpfs", created)
	}
	for _, p := range []string{"/run/secrets/rebound-test-never-made", "/tmp/rebound-test-never-made"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on the host", p)
		}
	}
}

func TestResolveAndPrivate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "real/dir"), 0o755))
	must(os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "abs")))
	must(os.Symlink("real/dir", filepath.Join(root, "rel")))
	must(os.Symlink(filepath.Join(root, "gone/file"), filepath.Join(root, "dangling")))
	must(os.Symlink("loop", filepath.Join(root, "loop")))
	for in, want := range map[string]string{
		"real/dir/x/y":  "real/dir/x/y",
		"abs/dir/x":     "real/dir/x",
		"rel/x":         "real/dir/x",
		"rel/../x":      "real/x", // .. after a link goes up from where it points, as in the kernel
		"dangling":      "gone/file",
		"missing/a/../": "missing",
		"loop/x":        "loop/x",
	} {
		if got := resolve(root + "/" + in); got != filepath.Join(root, want) {
			t.Errorf("resolve(%s) = %s, want %s", in, got, filepath.Join(root, want))
		}
	}
	for p, want := range map[string]bool{
		"/tmp": true, "/tmp/a/b": true, "/run": true, "/run/secrets": true, "/tmpfoo": false,
		"/var/lib/etcd": false, "/etc/hosts": false, "/": false,
	} {
		if got := Private(p); got != want {
			t.Errorf("Private(%s) = %v, want %v", p, got, want)
		}
	}
	if st, err := os.Lstat("/var/run"); err == nil && st.Mode()&os.ModeSymlink != 0 {
		if !Private("/var/run/secrets/kubernetes.io/serviceaccount") {
			t.Error("/var/run links to /run here, so a mount under it is in the private /run")
		}
	}
}

func TestEnterRunsAsTheContainersUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user podspec.User
		nnp  bool
		want []string
	}{
		{"root: nsenter alone", podspec.User{}, false, []string{"nsenter", "-t", "42", "-m", "-u", "-n", "--", "/bin/sh", "-c", "true"}},
		{"a user with groups", podspec.User{UID: 1001, GID: 1002, Groups: []uint32{3000, 2000}}, true, []string{
			"nsenter", "-t", "42", "-m", "-u", "-n", "--",
			"setpriv", "--reuid=1001", "--regid=1002", "--groups=3000,2000", "--no-new-privs", "--", "/bin/sh", "-c", "true"}},
		{"a user without groups", podspec.User{UID: 1001}, false, []string{
			"nsenter", "-t", "42", "-m", "-u", "-n", "--", "setpriv", "--reuid=1001", "--regid=0", "--clear-groups", "--", "/bin/sh", "-c", "true"}},
	} {
		cmd := Enter(t.Context(), 42, tc.user, tc.nnp, "/bin/sh", []string{"-c", "true"})
		got := append([]string{filepath.Base(cmd.Path)}, cmd.Args[1:]...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// hostDir is a scratch folder outside /tmp and /run, whose mount targets
// the agent makes on the host (t.TempDir is usually under /tmp).
func hostDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "rebound-podexec-test-")
	if err != nil {
		t.Fatalf("a scratch folder outside /tmp: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestMain makes the test binary the re-executed child when the agent's
// spec is in its environment, as `rebound lab pod-exec` is.
func TestMain(m *testing.M) {
	if os.Getenv(specEnv) != "" {
		fmt.Fprintln(os.Stderr, Main())
		os.Exit(111)
	}
	os.Exit(m.Run())
}

func TestChildMountsAsRootThenRunsAsTheUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount namespaces and switching users need root, as the lab agent has")
	}
	t.Parallel()
	// Everything from the host sits under /tmp, which the child's private
	// /tmp hides: it must have opened it all before mounting that.
	hidden := t.TempDir()
	secret := filepath.Join(hidden, "secret")
	closed := filepath.Join(hidden, "closed") // root's alone, as ~/.cache/rebound/bin in root's home
	for _, d := range []string{secret, closed} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(secret, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "token"), []byte("tok"), 0o644); err != nil {
		t.Fatal(err)
	}
	shell, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(closed, "sh"), shell, 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(hidden, "hosts")
	if err := os.WriteFile(hosts, []byte("10.1.2.3\tpod-x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := hostDir(t)
	mnt := hostDir(t)
	target := filepath.Join(mnt, "data")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(mnt, 0o755); err != nil { // the user walks to the mount, as to /var/lib/…
		t.Fatal(err)
	}
	if err := os.Chown(vol, 1001, 1002); err != nil {
		t.Fatal(err)
	}
	script := `echo "id=$(id -u):$(id -g):$(id -G)"
echo "host=$(hostname)"
echo "pwd=$(pwd)"
echo "token=$(cat /var/run/secrets/rebound.test/sa/token)"
echo "nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \t')"
echo "tmp=$(ls -A /tmp | tr '\n' ' ')"
touch /tmp/mine && echo tmpwrite=ok
touch /run/mine 2>/dev/null && echo runwrite=ok || echo runwrite=denied
touch /var/run/app/sock && echo "appdir=$(stat -c %a:%u:%g /run/app)"
touch /var/run/secrets/rebound.test/sa/x 2>/dev/null && echo ro=writable || echo ro=denied
echo "hosts=$(cat /etc/hosts)"
echo data > ` + target + `/written && echo vol=ok
`
	cmd, err := Command(os.Args[0], nil, Spec{
		Path: filepath.Join(closed, "sh"), Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"},
		Dir: "/tmp/work", Hostname: "pod-x", HostsFile: hosts,
		Mounts: []podspec.Mount{
			{Source: vol, Target: target},
			{Source: secret, Target: "/var/run/secrets/rebound.test/sa", ReadOnly: true},
		},
		User: podspec.User{UID: 1001, GID: 1002, Groups: []uint32{3000, 2000}}, NoNewPrivs: true,
		Dirs: []podspec.Dir{{Path: "/var/run/app", UID: 1001, GID: 1002, Mode: 0o2770}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	for k, want := range map[string]string{
		"id":       "1001:1002:1002 2000 3000",
		"host":     "pod-x",
		"pwd":      "/tmp/work", // made in the private /tmp
		"token":    "tok",       // a mount under /var/run, a link to the private /run
		"nnp":      "NoNewPrivs:1",
		"tmp":      "work ", // nothing of the host's /tmp
		"tmpwrite": "ok",
		"runwrite": "denied",         // /run is root's 0755, as in an image
		"appdir":   "2770:1001:1002", // but the image's folder there is the user's
		"ro":       "denied",
		"hosts":    "10.1.2.3\tpod-x",
		"vol":      "ok",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], want, out)
		}
	}
	if st, err := os.Stat(filepath.Join(vol, "written")); err != nil || st.Sys().(*syscall.Stat_t).Uid != 1001 {
		t.Errorf("the file the container wrote is not on the volume as uid 1001: %v", err)
	}
	for _, p := range []string{"/tmp/mine", "/tmp/work", "/run/secrets/rebound.test", "/run/app"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is on the host: the container's /tmp and /run must be its own", p)
		}
	}
}
