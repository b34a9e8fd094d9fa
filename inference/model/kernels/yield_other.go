//go:build !linux

package kernels

import "runtime"

// osYield lets other goroutines run while a worker waits for its next job.
func osYield() { runtime.Gosched() }
