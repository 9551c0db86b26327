package repo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The crash test re-runs this test binary as a backup process and kills
// it with SIGKILL mid-backup. TestMain turns the binary into that process
// when crashHelperEnv is set.
const crashHelperEnv = "REBOUND_REPO_CRASH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

// crashHelper backs up $SRC into $REPO and says "started" once some
// chunks are stored, then keeps going slowly until it is killed.
func crashHelper() int {
	key, err := KeyFromEnv("REBOUND_REPO_KEY")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	r, err := Open(ctx, os.Getenv("REBOUND_REPO_URL"), key, WithWorkers(2))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	said := false
	_, err = r.Backup(ctx, os.Getenv("REBOUND_REPO_SRC"), BackupOptions{Progress: func(p Progress) {
		if p.ChunksNew >= 3 && !said {
			fmt.Println("started")
			said = true
		}
		if said {
			time.Sleep(20 * time.Millisecond)
		}
	}})
	fmt.Fprintln(os.Stderr, "backup finished before it was killed:", err)
	return 3
}

func TestCrashMidBackup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		crash func(t *testing.T, url string, key []byte, src string)
	}{
		{"kill -9", killedBackup},
		{"context cancelled", cancelledBackup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, dir, key := newTestRepo(t)
			ctx := context.Background()
			src1 := t.TempDir()
			writeTree(t, src1, map[string]fileSpec{"first": {size: 3 << 20}, "small": {size: 100, text: true}})
			first, err := r.Backup(ctx, src1, BackupOptions{})
			if err != nil {
				t.Fatal(err)
			}
			src2 := t.TempDir()
			writeTree(t, src2, map[string]fileSpec{"huge": {size: 160 << 20}})

			tt.crash(t, dir, key, src2)

			r2, err := Open(ctx, dir, key, WithWorkers(2))
			if err != nil {
				t.Fatalf("Open after the crash: %v", err)
			}
			defer r2.Close()
			rep, err := r2.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify after the crash: %v", err)
			}
			if rep.Unreferenced == 0 {
				t.Errorf("the interrupted backup left no chunks: the test did not crash mid-backup")
			}
			snaps, err := r2.List(ctx)
			if err != nil || len(snaps) != 1 || snaps[0].ID != first.ID {
				t.Fatalf("List after the crash = %d snapshots, %v; want only the first", len(snaps), err)
			}
			dst := t.TempDir()
			if err := r2.Restore(ctx, first.ID, dst, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			compareDirs(t, src1, dst)
			prep, err := r2.Prune(ctx)
			if err != nil {
				t.Fatalf("Prune after the crash: %v", err)
			}
			if prep.Removed != rep.Unreferenced {
				t.Errorf("Prune removed %d chunks, Verify counted %d unreferenced", prep.Removed, rep.Unreferenced)
			}
			t.Logf("prune: %+v", prep)
			rep, err = r2.Verify(ctx)
			if err != nil || rep.Unreferenced != 0 {
				t.Errorf("Verify after prune: %v, %d unreferenced", err, rep.Unreferenced)
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "data", "*", "*.tmp"))
			if len(leftovers) > 0 {
				t.Errorf("temp files left after prune: %v", leftovers)
			}
		})
	}
}

func killedBackup(t *testing.T, url string, key []byte, src string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1", "REBOUND_REPO_URL="+url,
		"REBOUND_REPO_KEY="+EncodeKey(key), "REBOUND_REPO_SRC="+src)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "started" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, want started", line)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("helper ended with %v, want killed by a signal", err)
	}
}

func cancelledBackup(t *testing.T, url string, key []byte, src string) {
	r, err := Open(context.Background(), url, key, WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = r.Backup(ctx, src, BackupOptions{Progress: func(p Progress) {
		if p.ChunksNew >= 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Backup: %v, want context.Canceled", err)
	}
}

func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
