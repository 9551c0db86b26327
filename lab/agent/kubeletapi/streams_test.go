package kubeletapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
)

// execURL is the kubelet URL the API server calls for kubectl exec.
func (h *harness) execURL(t *testing.T, cmd []string, stdin, tty bool) *url.URL {
	q := url.Values{"command": cmd, "output": {"1"}}
	if stdin {
		q.Set("input", "1")
	}
	if tty {
		q.Set("tty", "1")
	} else {
		q.Set("error", "1")
	}
	u, err := url.Parse(h.url + "/exec/ns/p/c?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestExec runs commands through the kubelet's remotecommand protocol as
// kubectl exec does (SPDY, through client-go); the stand-in's commands run
// on the host, as the agent's would in a container.
func TestExec(t *testing.T) {
	h := newHarness(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	h.pods.command = func(argv []string) *exec.Cmd {
		cmd := exec.Command(sh, argv[1:]...)
		cmd.Env, cmd.Dir = []string{"PATH=/usr/bin:/bin", "FROM_POD=yes"}, dir
		return cmd
	}
	for name, tc := range map[string]struct {
		script   string
		stdin    string
		tty      bool
		wantOut  string
		wantErr  string
		wantCode int
	}{
		"stdout, stderr and the container's env and dir": {script: `echo "$FROM_POD"; pwd; echo oops >&2`, wantOut: "yes\n" + dir + "\n", wantErr: "oops\n"},
		"stdin to the end":  {script: `cat; echo end`, stdin: "line 1\nline 2\n", wantOut: "line 1\nline 2\nend\n"},
		"exit code":         {script: `exit 7`, wantCode: 7},
		"a terminal":        {script: `test -t 0 && test -t 1 && echo tty`, tty: true, wantOut: "tty\r\n"},
		"no terminal asked": {script: `test -t 1 || echo plain`, wantOut: "plain\n"},
	} {
		t.Run(name, func(t *testing.T) {
			u := h.execURL(t, []string{"sh", "-c", tc.script}, tc.stdin != "", tc.tty)
			ex, err := remotecommand.NewSPDYExecutor(h.rc, http.MethodPost, u)
			if err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			opts := remotecommand.StreamOptions{Stdout: &out, Tty: tc.tty}
			if !tc.tty {
				opts.Stderr = &errb
			}
			if tc.stdin != "" {
				opts.Stdin = strings.NewReader(tc.stdin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = ex.StreamWithContext(ctx, opts)
			code := 0
			var ce interface{ ExitStatus() int }
			if errors.As(err, &ce) {
				code = ce.ExitStatus()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || out.String() != tc.wantOut || errb.String() != tc.wantErr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q", code, out.String(), errb.String(), tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}

// TestExecEndsWithTheContainer: a session whose container exits is killed,
// as a runtime ends the exec sessions of a container that stops.
func TestExecEndsWithTheContainer(t *testing.T) {
	h := newHarness(t)
	exited := make(chan struct{})
	h.pods.exited = exited
	h.pods.command = func(argv []string) *exec.Cmd { return exec.Command("sleep", "600") }
	ex, err := remotecommand.NewSPDYExecutor(h.rc, http.MethodPost, h.execURL(t, []string{"sleep", "600"}, false, false))
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(500*time.Millisecond, func() { close(exited) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
	var ce interface{ ExitStatus() int }
	if !errors.As(err, &ce) || ce.ExitStatus() != 137 {
		t.Errorf("exec when the container exits: %v, want exit code 137 (SIGKILL)", err)
	}
}

func TestExecErrorsBeforeTheUpgrade(t *testing.T) {
	h := newHarness(t)
	h.pods.execErr = fmt.Errorf("container %q in pod %q is not running (CrashLoopBackOff): nothing to exec into", "c", "p")
	for name, tc := range map[string]struct {
		url  string
		want string
	}{
		"a container that does not run": {"/exec/ns/p/c?command=true&output=1", "is not running (CrashLoopBackOff)"},
		"no command":                    {"/exec/ns/p/c?output=1", "query parameter command is required"},
		"no stream":                     {"/exec/ns/p/c?command=true", "you must specify at least 1 of stdin, stdout, stderr"},
		"another pod":                   {"/exec/ns/q/c?command=true&output=1", "not found"},
	} {
		t.Run(name, func(t *testing.T) {
			u, _ := url.Parse(h.url + tc.url)
			ex, err := remotecommand.NewSPDYExecutor(h.rc, http.MethodPost, u)
			if err != nil {
				t.Fatal(err)
			}
			err = ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestPortForward forwards a local port to a "pod" (an echo server on
// loopback) through the kubelet's portforward protocol, as kubectl
// port-forward does through the API server.
func TestPortForward(t *testing.T) {
	h := newHarness(t)
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	h.pods.addr = "127.0.0.1"
	podPort := echo.Addr().(*net.TCPAddr).Port

	transport, upgrader, err := spdy.RoundTripperFor(h.rc)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(h.url + "/portForward/ns/p")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", podPort)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	defer func() {
		close(stop)
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatal(err)
	}
	ports, err := pf.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // two connections over one forward
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		msg := fmt.Sprintf("hello %d\n", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Errorf("connection %d echoed %q (%v), want %q", i, got, err, msg)
		}
		c.Close()
	}
}
