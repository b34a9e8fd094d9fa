package kernels

import "os"

// selectKernels picks the fast kernels when the CPU has them, unless the
// environment says RADIX_KERNELS=portable. The architecture's init calls it once
// it has filled fastFns.
func selectKernels() {
	if fastAvailable && os.Getenv("RADIX_KERNELS") != "portable" {
		active = &fastFns
	}
}
