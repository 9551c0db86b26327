// Package pgtest starts a real, single PostgreSQL for tests: Debian's
// PostgreSQL 15 binaries (initdb, then postgres) in a temporary directory,
// listening on a free loopback port, with password (SCRAM) authentication
// for TCP clients and, when asked, TLS with a given key pair. It is for the
// tests of the PostgreSQL driver and of its backup; it must never be used
// outside tests, never listens beyond 127.0.0.1, and removes everything it
// made when the test ends.
//
// PostgreSQL refuses to run as root: when the test runs as root the server
// runs as the "postgres" user (Debian's package creates it).
package pgtest

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

	"github.com/jackc/pgx/v5"
)

// DefaultBinDir is where Debian's postgresql-15 package puts the server
// binaries. REBOUND_PG_BIN overrides it.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Superuser and Password are the credentials of the server's superuser.
const (
	Superuser = "postgres"
	Password  = "rebound-test-secret"
)

// Options change the server Start makes.
type Options struct {
	// CertPEM and KeyPEM, when set, make the server serve TLS with this
	// key pair (ssl = on). Clients may still connect without TLS unless
	// HBA says hostssl.
	CertPEM, KeyPEM []byte
	// ClientCAPEM, when set with CertPEM, is the CA client certificates
	// are verified against (ssl_ca_file), for HBA lines with clientcert.
	ClientCAPEM []byte
	// Conf are extra postgresql.conf lines ("wal_level = logical").
	Conf []string
	// HBA, when set, replaces the pg_hba.conf lines for TCP clients (the
	// default lets every user, and replication, in with a password from
	// 127.0.0.1). Local (socket) connections are always trusted.
	HBA []string
}

// Server is a running PostgreSQL.
type Server struct {
	Host string // 127.0.0.1
	Port int
	// Dir holds the data directory (Dir/data), the socket and the log;
	// it belongs to the user the server runs as.
	Dir     string
	DataDir string
	BinDir  string

	cred *syscall.Credential // nil when the test does not run as root
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// BinDir returns the directory of the PostgreSQL server binaries, or an
// error that names the fix when they are missing.
func BinDir() (string, error) {
	dir := os.Getenv("REBOUND_PG_BIN")
	if dir == "" {
		dir = DefaultBinDir
	}
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("PostgreSQL 15 server binaries not found in %s (%v): run `make deps` (Debian package postgresql), or set REBOUND_PG_BIN to their directory", dir, err)
		}
	}
	return dir, nil
}

// Start runs a new PostgreSQL for the test and stops and removes it when
// the test ends. It skips the test, naming `make deps`, when the binaries
// are missing.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Skip(err.Error())
	}
	s := &Server{Host: "127.0.0.1", BinDir: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and there is no postgres user to run PostgreSQL as (%v): run `make deps` (Debian package postgresql creates it)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "rebound-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.Dir, s.DataDir = dir, filepath.Join(dir, "data")
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	if err := s.initdb(o); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// A free port can be taken between our probe and the server's bind:
	// try a few.
	for attempt := 0; ; attempt++ {
		err = s.start()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(err.Error(), "could not bind") {
			t.Fatalf("pgtest: %v", err)
		}
	}
}

func (s *Server) chown(path string) error {
	if s.cred == nil {
		return nil
	}
	return os.Chown(path, int(s.cred.Uid), int(s.cred.Gid))
}

func (s *Server) writeFile(name string, data []byte) error {
	p := filepath.Join(s.Dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	return s.chown(p)
}

// Command returns a command running the named PostgreSQL binary (pg_ctl,
// pg_basebackup, …) as the user the server runs as.
func (s *Server) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGPASSWORD="+Password)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *Server) initdb(o Options) error {
	if err := s.chown(s.Dir); err != nil {
		return err
	}
	if err := s.writeFile("pwfile", []byte(Password+"\n")); err != nil {
		return err
	}
	out, err := s.Command(context.Background(), "initdb", "-D", s.DataDir, "-U", Superuser, "--pwfile", filepath.Join(s.Dir, "pwfile"),
		"-E", "UTF8", "--locale", "C", "--auth-local", "trust", "--auth-host", "scram-sha-256", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	hba := o.HBA
	if hba == nil {
		hba = []string{
			"host all all 127.0.0.1/32 scram-sha-256",
			"host replication all 127.0.0.1/32 scram-sha-256",
		}
	}
	hba = append([]string{"local all all trust", "local replication all trust"}, hba...)
	if err := os.WriteFile(filepath.Join(s.DataDir, "pg_hba.conf"), []byte(strings.Join(hba, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	conf := []string{"unix_socket_directories = '" + s.Dir + "'", "listen_addresses = '127.0.0.1'", "max_connections = 50"}
	if len(o.CertPEM) > 0 {
		if err := s.writeFile("server.crt", o.CertPEM); err != nil {
			return err
		}
		if err := s.writeFile("server.key", o.KeyPEM); err != nil {
			return err
		}
		conf = append(conf, "ssl = on", "ssl_cert_file = '"+filepath.Join(s.Dir, "server.crt")+"'", "ssl_key_file = '"+filepath.Join(s.Dir, "server.key")+"'")
		if len(o.ClientCAPEM) > 0 {
			if err := s.writeFile("client-ca.crt", o.ClientCAPEM); err != nil {
				return err
			}
			conf = append(conf, "ssl_ca_file = '"+filepath.Join(s.Dir, "client-ca.crt")+"'")
		}
	}
	conf = append(conf, o.Conf...)
	f, err := os.OpenFile(filepath.Join(s.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\n# pgtest\n" + strings.Join(conf, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	s.log = filepath.Join(s.Dir, "postgres.log")
	return s.launch()
}

// launch runs postgres on s.Port and waits until it takes connections.
func (s *Server) launch() error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	if err := s.chown(s.log); err != nil {
		return err
	}
	cmd := s.Command(context.Background(), "postgres", "-D", s.DataDir, "-p", strconv.Itoa(s.Port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.SocketURL())
		if err == nil {
			_ = c.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-s.done:
			s.cmd = nil
			return fmt.Errorf("postgres exited at start: %s", s.Log())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("postgres did not accept connections within 60s (last: %v): %s", err, s.Log())
		}
	}
}

// Log returns the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is a postgres:// URL of the server's postgres database, without
// credentials (the driver gets them apart, as from a Secret).
func (s *Server) URL() string { return "postgres://" + s.Addr() + "/postgres" }

// SuperuserURL is URL with the superuser's credentials, TLS off.
func (s *Server) SuperuserURL() string {
	return fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable", Superuser, Password, s.Addr())
}

// SocketURL is the superuser's URL through the server's Unix socket,
// which pg_hba.conf always trusts (TCP may be limited to TLS).
func (s *Server) SocketURL() string {
	return fmt.Sprintf("postgres://%s@/postgres?host=%s&port=%d", Superuser, s.Dir, s.Port)
}

// Connect opens a superuser connection through the Unix socket, closed
// when the test ends.
func (s *Server) Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.SocketURL())
	if err != nil {
		t.Fatalf("pgtest: connect as superuser: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Exec runs SQL as the superuser and fails the test on error.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	c := s.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	_ = c.Close(ctx)
}

// Stop shuts the server down (fast shutdown: open sessions are ended),
// killing it when it has not stopped within 30s. Safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
}

// Restart stops the server and starts it again on the same port.
func (s *Server) Restart() error {
	s.Stop()
	return s.launch()
}

// StartStandby runs a streaming replica of primary (pg_basebackup -R over
// the primary's Unix socket), stopped and removed when the test ends. It
// answers pg_is_in_recovery() = true until promoted.
func StartStandby(t testing.TB, primary *Server) *Server {
	t.Helper()
	s := &Server{Host: "127.0.0.1", BinDir: primary.BinDir, cred: primary.cred}
	dir, err := os.MkdirTemp("", "rebound-pgtest-standby-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.Dir, s.DataDir = dir, filepath.Join(dir, "data")
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	if err := s.chown(dir); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	out, err := s.Command(context.Background(), "pg_basebackup", "-h", primary.Dir, "-p", strconv.Itoa(primary.Port), "-U", Superuser,
		"-D", s.DataDir, "-R", "-X", "stream", "-c", "fast", "--no-sync").CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: pg_basebackup: %v: %s", err, out)
	}
	// The copy's postgresql.conf names the primary's socket folder.
	f, err := os.OpenFile(filepath.Join(s.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	_, err = f.WriteString("\n# pgtest standby\nunix_socket_directories = '" + dir + "'\ncluster_name = 'standby'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: standby: %v", err)
	}
	return s
}
