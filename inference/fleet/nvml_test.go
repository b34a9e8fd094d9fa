package fleet

import (
	"errors"
	"strings"
	"testing"
)

// fakeNVML stands in for libnvidia-ml: devices by index (nil: lost), and what Init answers.
type fakeNVML struct {
	initErr  error
	devices  []*nvmlDevice
	shutdown int
}

func (f *fakeNVML) Init() error         { return f.initErr }
func (f *fakeNVML) Shutdown()           { f.shutdown++ }
func (f *fakeNVML) Count() (int, error) { return len(f.devices), nil }
func (f *fakeNVML) Device(i int) (nvmlDevice, error) {
	if f.devices[i] == nil {
		return nvmlDevice{}, errors.New("NVML: GPU is lost")
	}
	return *f.devices[i], nil
}

func TestReadNVMLMapsEachGPU(t *testing.T) {
	lib := &fakeNVML{devices: []*nvmlDevice{
		{Name: "NVIDIA H100 80GB HBM3", MemUsed: 2 << 30, MemTotal: 80 << 30, Util: 37},
		nil,
		{Name: "NVIDIA L4", MemUsed: -1, MemTotal: -1, Util: -1},
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
		{&fakeNVML{initErr: errors.New("NVML: driver not loaded")}, "driver not loaded"},
		{&fakeNVML{}, "sees no GPU"},
		{&fakeNVML{devices: []*nvmlDevice{nil}}, "could not open"},
	} {
		nodes, why := readNVML(tc.lib)
		if len(nodes) != 0 || !strings.Contains(why, tc.want) {
			t.Errorf("%d devices: got %d GPUs, reason %q; want none and %q", len(tc.lib.devices), len(nodes), why, tc.want)
		}
	}
}
