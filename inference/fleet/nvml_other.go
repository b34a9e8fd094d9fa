//go:build !(cgo && linux)

package fleet

import "github.com/radixops/radix/kube"

// localGPUs needs NVML, which go-nvml reaches through cgo on Linux only.
func localGPUs() ([]kube.GPUNode, string) {
	return nil, "GPU detection needs a Linux build with cgo"
}
