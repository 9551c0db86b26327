package postgres

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reboundhq/rebound/apps/postgres/internal/pgtest"
)

// startPG starts a real PostgreSQL on an existing data directory (a
// restored base backup), from the Debian binaries on a loopback port;
// pgtest starts new clusters only.

type pgServer struct {
	t    *testing.T
	data string
	port int
	cmd  *exec.Cmd
	log  string
}

// pgCred is the user PostgreSQL runs as: initdb and postgres refuse root.
func pgCred(t *testing.T) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("tests run as root and there is no postgres user to run PostgreSQL as (run make deps): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// pgTempDir is a folder the PostgreSQL user owns, removed after the test.
func pgTempDir(t *testing.T) string {
	if _, err := pgtest.BinDir(); err != nil {
		t.Skip(err.Error())
	}
	dir, err := os.MkdirTemp("", "rebound-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	chownPG(t, dir)
	return dir
}

func chownPG(t *testing.T, dir string) {
	c := pgCred(t)
	if c == nil {
		return
	}
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.Uid), int(c.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pgCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	bin, err := pgtest.BinDir()
	if err != nil {
		t.Skip(err.Error())
	}
	cmd := exec.Command(filepath.Join(bin, name), args...)
	if c := pgCred(t); c != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c}
	}
	return cmd
}

// startPG starts PostgreSQL on data with the settings given (name=value)
// and waits until it accepts connections; it is stopped after the test.
func startPG(t *testing.T, data string, settings ...string) *pgServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &pgServer{t: t, data: data, port: port, log: data + ".log"}
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", filepath.Dir(data), "-c", "listen_addresses=127.0.0.1", "-c", "logging_collector=off"}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	s.cmd = pgCommand(t, "postgres", args...)
	lf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = lf, lf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); lf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("postgres exited on start:\n%s", s.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgconn.ConnectConfig(ctx, s.config(t, "postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres does not accept connections after 60s: %v\n%s", err, s.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *pgServer) logTail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// config connects as user to database postgres.
func (s *pgServer) config(t *testing.T, user string) *pgconn.Config {
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", user, pgtest.Password, s.port))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// exec runs sql as the superuser.
func (s *pgServer) exec(t *testing.T, sql string) []*pgconn.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.ConnectConfig(ctx, s.config(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}
