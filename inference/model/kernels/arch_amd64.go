//go:build amd64

package kernels

const fastName = "avx2"

var fastAvailable = false

func init() {
	fastFns = portableFns
	selectKernels()
}
