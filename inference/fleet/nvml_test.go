//go:build cgo && linux

package fleet

import (
	"context"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// fakeNVML stands in for libnvidia-ml: devices by index, and what Init answers.
type fakeNVML struct {
	initRet  nvml.Return
	devices  []nvml.Device
	shutdown int
}

func (f *fakeNVML) Init() nvml.Return                  { return f.initRet }
func (f *fakeNVML) Shutdown() nvml.Return              { f.shutdown++; return nvml.SUCCESS }
func (f *fakeNVML) DeviceGetCount() (int, nvml.Return) { return len(f.devices), nvml.SUCCESS }
func (f *fakeNVML) DeviceGetHandleByIndex(i int) (nvml.Device, nvml.Return) {
	if f.devices[i] == nil {
		return nil, nvml.ERROR_GPU_IS_LOST
	}
	return f.devices[i], nvml.SUCCESS
}

func gpuDevice(name string, used, total uint64, util uint32) *mock.Device {
	return &mock.Device{
		GetNameFunc:       func() (string, nvml.Return) { return name, nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) { return nvml.Memory{Used: used, Total: total}, nvml.SUCCESS },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: util}, nvml.SUCCESS
		},
	}
}

func TestReadNVMLMapsEachGPU(t *testing.T) {
	broken := &mock.Device{
		GetNameFunc:             func() (string, nvml.Return) { return "NVIDIA L4", nvml.SUCCESS },
		GetMemoryInfoFunc:       func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_NOT_SUPPORTED },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{}, nvml.ERROR_NOT_SUPPORTED },
	}
	lib := &fakeNVML{devices: []nvml.Device{
		gpuDevice("NVIDIA H100 80GB HBM3", 2<<30, 80<<30, 37), nil, broken,
	}}
	nodes, why := readNVML(lib)
	if why != "" || len(nodes) != 2 {
		t.Fatalf("want 2 GPUs (the lost one skipped), got %d (%q): %+v", len(nodes), why, nodes)
	}
	h := nodes[0]
	if h.Name != "localhost/gpu0" || h.Product != "NVIDIA H100 80GB HBM3" || h.Capacity != 1 || h.Allocatable != 1 {
		t.Errorf("gpu0 identity: %+v", h)
	}
	if h.MemUsedMiB != 2048 || h.MemTotalMiB != 80*1024 || h.Utilization != 37 {
		t.Errorf("gpu0 figures: used %v total %v util %v", h.MemUsedMiB, h.MemTotalMiB, h.Utilization)
	}
	l := nodes[1]
	if l.Name != "localhost/gpu2" || l.Product != "NVIDIA L4" {
		t.Errorf("gpu2 identity: %+v", l)
	}
	if l.MemUsedMiB >= 0 || l.MemTotalMiB >= 0 || l.Utilization >= 0 {
		t.Errorf("figures NVML could not read must be unknown (negative), got %+v", l)
	}
	if lib.shutdown != 1 {
		t.Errorf("NVML shut down %d times, want 1", lib.shutdown)
	}
}

func TestReadNVMLWithoutDriverOrGPU(t *testing.T) {
	for _, tc := range []struct {
		lib  *fakeNVML
		want string
	}{
		{&fakeNVML{initRet: nvml.ERROR_LIBRARY_NOT_FOUND}, "no NVIDIA driver library"},
		{&fakeNVML{initRet: nvml.ERROR_DRIVER_NOT_LOADED}, "NVML"},
		{&fakeNVML{}, "sees no GPU"},
		{&fakeNVML{devices: []nvml.Device{nil}}, "could not open"},
	} {
		nodes, why := readNVML(tc.lib)
		if len(nodes) != 0 || !strings.Contains(why, tc.want) {
			t.Errorf("init %v, %d devices: got %d GPUs, reason %q; want none and %q", tc.lib.initRet, len(tc.lib.devices), len(nodes), why, tc.want)
		}
	}
}

// TestGPUsOnThisMachine asks the real NVML. On a machine without a GPU (the usual test machine) the
// report has no GPU, says so, and still describes the CPU runtime; with one, each GPU is listed.
func TestGPUsOnThisMachine(t *testing.T) {
	f := open(t, "ok")
	rep, err := f.GPUs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Local == nil || rep.Local.Threads <= 0 {
		t.Fatalf("the CPU runtime is always described: %+v", rep.Local)
	}
	ret := nvml.New().Init()
	if ret == nvml.SUCCESS {
		defer nvml.Shutdown()
		n, _ := nvml.DeviceGetCount()
		t.Logf("NVML sees %d GPUs: %+v", n, rep.Nodes)
		if len(rep.Nodes) != n {
			t.Errorf("NVML sees %d GPUs, the report lists %d", n, len(rep.Nodes))
		}
		for _, g := range rep.Nodes {
			if g.Product == "" || g.MemTotalMiB <= 0 {
				t.Errorf("a GPU without name or memory: %+v", g)
			}
		}
		return
	}
	t.Logf("NVML: %s", nvml.ErrorString(ret))
	if len(rep.Nodes) != 0 || !strings.Contains(rep.Note, "no NVIDIA GPU") {
		t.Errorf("without NVML the report must list no GPU and say so: %+v", rep)
	}
}
