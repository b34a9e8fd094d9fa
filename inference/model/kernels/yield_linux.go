//go:build linux

package kernels

import "syscall"

// osYield gives the core to another runnable thread, if any, while a worker
// waits for its next job: on a shared machine spinning must not starve the
// thread that will hand it that job.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
