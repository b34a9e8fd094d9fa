//go:build !(linux && (amd64 || arm64))

package fleet

import "github.com/radixops/radix/kube"

// localGPUs reads NVML on Linux (amd64, arm64) only.
func localGPUs() ([]kube.GPUNode, string) {
	return nil, "GPU detection is implemented for Linux only"
}
