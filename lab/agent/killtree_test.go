package agent

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// tagged lists the processes whose environment holds the container tag.
func tagged(tag string) []int {
	want := []byte(ContainerEnv + "=" + tag + "\x00")
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if bytes.Contains(st, []byte(") Z ")) {
			continue // a zombie is dead already
		}
		if env, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(env, want) {
			out = append(out, p)
		}
	}
	return out
}

// A daemon that left the container's process group and session (as
// PostgreSQL's postmaster under Patroni does) dies with the container.
func TestKillTreeReachesDaemons(t *testing.T) {
	tag := "test-uid/" + t.Name() + "/" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & sleep 300")
	cmd.Env = append(os.Environ(), ContainerEnv+"="+tag)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range tagged(tag) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); len(tagged(tag)) < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start: %v", tagged(tag))
		}
	}
	killTree(cmd.Process.Pid, tag, syscall.SIGKILL)
	_ = cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); len(tagged(tag)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("processes of the container left after killTree: %v", tagged(tag))
		}
	}
}
