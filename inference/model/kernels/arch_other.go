//go:build !amd64

package kernels

const fastAvailable = false

func init() { selectKernels() }
