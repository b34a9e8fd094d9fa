//go:build !linux

package frontend

import "syscall"

// childAttr: without Pdeathsig, children are stopped by RunProfile on its way out.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
