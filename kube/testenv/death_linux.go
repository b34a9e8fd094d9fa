package testenv

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the child if the test binary dies without cleaning up, so no stray API server
// outlives a crashed test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
