//go:build !amd64

package kernels

const (
	fastAvailable = false
	fastName      = "portable"
)

func init() { selectKernels() }
