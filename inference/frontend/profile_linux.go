package frontend

import "syscall"

// childAttr makes a profile's children die with the parent, however it dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
