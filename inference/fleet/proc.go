package fleet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// started is a process the fleet launched.
type started struct {
	PID   int
	Ticks uint64
}

// startProcess runs binary with args in a new session (so a console's terminal signals never reach it
// and it outlives the console), appending its output to logPath.
func startProcess(binary string, args []string, env []string, logPath string) (started, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return started{}, fmt.Errorf("opening log %s: %w", logPath, err)
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return started{}, fmt.Errorf("starting %s: %w", binary, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it exits while this process lives; after that, init does.
	go func() { _ = cmd.Wait() }() // the exit shows as a missing pid; its status is in the log
	ticks, err := startTicks(pid)
	if err != nil {
		return started{PID: pid}, nil // it already exited; the next status check reports it with its log
	}
	return started{PID: pid, Ticks: ticks}, nil
}

// alive reports whether the process the fleet started is still the one running under pid.
func alive(pid int, ticks uint64) bool {
	if pid <= 0 {
		return false
	}
	t, err := startTicks(pid)
	return err == nil && (ticks == 0 || t == ticks)
}

// stopProcess sends SIGTERM to the process's group, waits up to grace for it to leave, then SIGKILLs
// the group. It reports whether the kill was needed.
func stopProcess(pid int, ticks uint64, grace time.Duration) (killed bool) {
	if !alive(pid, ticks) {
		return false
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM) // the group: the process is its session's leader
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid, ticks) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for range 40 {
		if !alive(pid, ticks) {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return true
}

// freePort asks the kernel for a free loopback port, avoiding ports already promised to others.
func freePort(taken map[int]bool) (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !taken[port] {
			taken[port] = true
			return port, nil
		}
	}
	return 0, errors.New("finding a free port: every port offered was taken")
}
