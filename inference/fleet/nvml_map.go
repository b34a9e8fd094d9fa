package fleet

import (
	"fmt"

	"github.com/radixops/radix/kube"
)

// nvmlAPI is the part of NVML the GPU panel reads: the loaded library, or a fake in tests.
type nvmlAPI interface {
	Init() error
	Shutdown()
	Count() (int, error)
	Device(i int) (nvmlDevice, error)
}

// nvmlDevice is what NVML told of one GPU; figures it could not read are negative.
type nvmlDevice struct {
	Name              string
	MemUsed, MemTotal float64 // bytes
	Util              float64 // percent
}

func readNVML(lib nvmlAPI) ([]kube.GPUNode, string) {
	if err := lib.Init(); err != nil {
		return nil, err.Error()
	}
	defer lib.Shutdown()
	n, err := lib.Count()
	if err != nil {
		return nil, "NVML device count: " + err.Error()
	}
	if n == 0 {
		return nil, "the NVIDIA driver sees no GPU"
	}
	var nodes []kube.GPUNode
	for i := range n {
		dev, err := lib.Device(i)
		if err != nil {
			continue // a GPU that fell off the bus is not one the panel can describe
		}
		node := kube.GPUNode{
			Name: fmt.Sprintf("localhost/gpu%d", i), InstanceType: "local", Capacity: 1, Allocatable: 1,
			Product: dev.Name, Utilization: dev.Util, MemUsedMiB: -1, MemTotalMiB: -1, CPUMilli: -1,
		}
		if dev.MemTotal >= 0 {
			node.MemUsedMiB, node.MemTotalMiB = dev.MemUsed/(1<<20), dev.MemTotal/(1<<20)
		}
		nodes = append(nodes, node)
	}
	if len(nodes) == 0 {
		return nil, "NVML could not open any of its GPUs"
	}
	return nodes, ""
}
