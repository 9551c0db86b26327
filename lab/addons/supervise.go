package addons

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is one add-on process, run inside the lab network namespace.
type process struct {
	name string   // kube-proxy, coredns
	path string   // its binary
	args []string // its arguments
}

// Restart back-off of a supervised process: doubled after each exit, back
// to the start once a run lasted resetAfter.
const (
	restartFirst = time.Second
	restartMax   = 30 * time.Second
	resetAfter   = time.Minute
	stopGrace    = 5 * time.Second
)

// command is how p starts: nsenter puts it in the lab network namespace and
// execs it, so the process the supervisor waits for is p's own. It carries
// REBOUND_LAB so `lab down` finds a stray, and dies with the agent.
func (s *supervisor) command(p process) *exec.Cmd {
	args := append([]string{"--net=" + s.cfg.Netns, "--", p.path}, p.args...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/", "REBOUND_LAB=" + s.cfg.Lab}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

type supervisor struct {
	cfg *Config
	log *slog.Logger
}

// run keeps p running until ctx ends, restarting it with a back-off when
// it exits, and then stops it: SIGTERM, SIGKILL after stopGrace. Its output
// goes to LogDir/<name>.log.
func (s *supervisor) run(ctx context.Context, p process) {
	delay := restartFirst
	for {
		started := time.Now()
		err := s.once(ctx, p)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > resetAfter {
			delay = restartFirst
		}
		s.log.Warn("lab add-on exited; restarting", "addon", p.name, "err", err, "in", delay, "log", s.logPath(p))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, restartMax)
	}
}

func (s *supervisor) logPath(p process) string { return filepath.Join(s.cfg.LogDir, p.name+".log") }

// once runs p until it exits or ctx ends.
func (s *supervisor) once(ctx context.Context, p process) error {
	logf, err := os.OpenFile(s.logPath(p), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := s.command(p)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	s.log.Info("lab add-on started", "addon", p.name, "pid", cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		return ctx.Err()
	}
}
