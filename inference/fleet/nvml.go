//go:build cgo && linux

package fleet

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/radixops/radix/kube"
)

// nvmlAPI is the part of NVML the GPU panel reads; nvml.New() provides it, tests a fake.
type nvmlAPI interface {
	Init() nvml.Return
	Shutdown() nvml.Return
	DeviceGetCount() (int, nvml.Return)
	DeviceGetHandleByIndex(int) (nvml.Device, nvml.Return)
}

// localGPUs asks NVML (libnvidia-ml, loaded at run time) for this machine's GPUs. With no driver
// library or no GPU it returns none and says why.
func localGPUs() ([]kube.GPUNode, string) {
	return readNVML(nvml.New())
}

func readNVML(lib nvmlAPI) ([]kube.GPUNode, string) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			return nil, "no NVIDIA driver library"
		}
		return nil, "NVML: " + nvml.ErrorString(ret)
	}
	defer lib.Shutdown()
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, "NVML device count: " + nvml.ErrorString(ret)
	}
	if n == 0 {
		return nil, "the NVIDIA driver sees no GPU"
	}
	var nodes []kube.GPUNode
	for i := range n {
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue // a GPU that fell off the bus is not one the panel can describe
		}
		node := kube.GPUNode{
			Name: fmt.Sprintf("localhost/gpu%d", i), InstanceType: "local", Capacity: 1, Allocatable: 1,
			Utilization: -1, MemUsedMiB: -1, MemTotalMiB: -1, CPUMilli: -1,
		}
		if name, ret := dev.GetName(); ret == nvml.SUCCESS {
			node.Product = name
		}
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			node.MemUsedMiB = float64(mem.Used) / (1 << 20)
			node.MemTotalMiB = float64(mem.Total) / (1 << 20)
		}
		if u, ret := dev.GetUtilizationRates(); ret == nvml.SUCCESS {
			node.Utilization = float64(u.Gpu)
		}
		nodes = append(nodes, node)
	}
	if len(nodes) == 0 {
		return nil, "NVML could not open any of its GPUs"
	}
	return nodes, ""
}
