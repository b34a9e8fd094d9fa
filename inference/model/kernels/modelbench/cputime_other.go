//go:build !unix

package modelbench

import "time"

// processCPU is unknown off unix; the report then shows no core counts.
func processCPU() time.Duration { return 0 }
