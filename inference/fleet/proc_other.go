//go:build !linux

package fleet

import (
	"errors"
	"syscall"
)

// startTicks has no portable source outside Linux: a live pid reports 0, so only liveness is checked
// and pid reuse goes unnoticed there.
func startTicks(pid int) (uint64, error) {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, err
	}
	return 0, nil
}
