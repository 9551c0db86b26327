package kubeletapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// exec serves /exec/{namespace}/{pod}[/{uid}]/{container}?command=…: it
// works out the process before the upgrade, so a wrong pod, container or
// command gets a plain HTTP error, then hands the streams to the kubelet's
// remotecommand library.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	ns, pod, name := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		fail(w, err)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		fail(w, errors.New("query parameter command is required: the command to run in the container"))
		return
	}
	p, err := s.Pods.Exec(s.Node, ns, pod, name, cmd)
	if err == nil {
		err = checkUID(r, ns, pod, p.UID)
	}
	if err != nil {
		fail(w, err)
		return
	}
	s.Log.Info("exec", "pod", ns+"/"+pod, "container", name, "command", cmd, "tty", opts.TTY)
	remotecommand.ServeExec(w, r, processExecutor{p}, pod, string(p.UID), name, cmd, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// processExecutor runs one Process for the remotecommand library.
type processExecutor struct{ p Process }

// ExecInContainer runs the process, with a terminal when tty is set, and
// returns its exit status as a utilexec.ExitError.
func (e processExecutor) ExecInContainer(ctx context.Context, _, _, _ string, _ []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	cmd := e.p.Cmd
	var err error
	if tty {
		err = runTTY(ctx, cmd, e.p.Exited, in, out, resize)
	} else {
		err = runPlain(ctx, cmd, e.p.Exited, in, out, errw)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return utilexec.CodeExitError{Err: err, Code: code}
	}
	return err
}

// killOnEnd kills the process group of cmd when ctx ends or the container
// exits, until the returned stop is called.
func killOnEnd(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		case <-exited:
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()
	return func() { once.Do(func() { close(done) }) }
}

func runPlain(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}, in io.Reader, out, errw io.Writer) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out != nil {
		cmd.Stdout = out
	}
	if errw != nil {
		cmd.Stderr = errw
	}
	// The copy from the client's stdin is not waited for: the command may
	// end while the client still holds stdin open.
	var stdin io.WriteCloser
	if in != nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	// Output of children that outlive the command is cut after a while.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	stop := killOnEnd(ctx, cmd, exited)
	defer stop()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close()
		}()
	}
	return cmd.Wait()
}

func runTTY(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // pty adds Setsid and Setctty
	ptmx, err := pty.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s on a terminal: %w", cmd.Path, err)
	}
	defer ptmx.Close()
	stop := killOnEnd(ctx, cmd, exited)
	defer stop()
	go func() {
		for size := range resize {
			if size.Width > 0 && size.Height > 0 {
				_ = pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}
	}()
	if in != nil {
		go func() { _, _ = io.Copy(ptmx, in) }()
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if out != nil {
			_, _ = io.Copy(out, ptmx) // ends with EIO once no process holds the terminal
		} else {
			_, _ = io.Copy(io.Discard, ptmx)
		}
	}()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(2 * time.Second): // a child still holds the terminal
	}
	return err
}
