package kernels

import (
	"fmt"
	"os"
)

// selectKernels picks the best kernels the CPU has, or the path named by the
// environment variable RADIX_KERNELS (portable, avx2, avx512, avx512vnni). An
// unusable name falls back to the best path with a warning on stderr: the
// variable is a tuning knob, and a typo should not stop a server. The
// architecture's init calls it once it has registered its paths.
func selectKernels() {
	if p := bestPath(); p.ok {
		fastFns = *p.fns
	}
	if err := UseKernels(os.Getenv("RADIX_KERNELS")); err != nil {
		fmt.Fprintf(os.Stderr, "radix: RADIX_KERNELS: %v; using %s\n", err, bestPath().name)
		_ = UseKernels("")
	}
}
