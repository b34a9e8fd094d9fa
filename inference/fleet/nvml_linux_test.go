//go:build linux && (amd64 || arm64)

package fleet

import (
	"context"
	"strings"
	"testing"
)

// TestGPUsOnThisMachine asks the real NVML. On a machine without a GPU (the usual test machine) the
// report has no GPU, says so, and still describes the CPU runtime; with one, each GPU is listed with
// its name and memory.
func TestGPUsOnThisMachine(t *testing.T) {
	f := open(t, "ok")
	rep, err := f.GPUs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Local == nil || rep.Local.Threads <= 0 {
		t.Fatalf("the CPU runtime is always described: %+v", rep.Local)
	}
	lib, err := openNVML()
	if err == nil {
		err = lib.Init()
	}
	if err != nil {
		t.Logf("NVML: %v", err)
		if len(rep.Nodes) != 0 || !strings.Contains(rep.Note, "no NVIDIA GPU") {
			t.Errorf("without NVML the report must list no GPU and say so: %+v", rep)
		}
		return
	}
	defer lib.Shutdown()
	n, err := lib.Count()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVML sees %d GPUs: %+v", n, rep.Nodes)
	if len(rep.Nodes) != n {
		t.Errorf("NVML sees %d GPUs, the report lists %d", n, len(rep.Nodes))
	}
	for _, g := range rep.Nodes {
		if g.Product == "" || g.MemTotalMiB <= 0 {
			t.Errorf("a GPU without name or memory: %+v", g)
		}
	}
}
