package fleet

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/radixops/radix/inference/fleet/demo"
	"github.com/radixops/radix/kube"
)

// GPUs reports the local machine: its NVIDIA GPUs as NVML sees them (none when there is no driver or
// no GPU), and always the CPU runtime, since radix's runtime serves on the CPU.
func (f *Fleet) GPUs(ctx context.Context) (*kube.GPUReport, error) {
	rt := &kube.LocalRuntime{Threads: runtime.NumCPU()}
	deps, _ := f.store.list("")
	for _, d := range deps {
		switch {
		case d.Model != "":
			rt.WeightBytes += dirSize(d.Model) * int64(countWorkers(d))
		case d.ModelNote != "":
			rt.WeightBytes += demoSize() * int64(countWorkers(d))
		}
		for _, st := range f.stats(d) {
			rt.KVTokens += st.MaxTotalTokens
			rt.KVUsed += int(st.TokenUsage * float64(st.MaxTotalTokens))
		}
	}
	nodes, why := localGPUs()
	rep := &kube.GPUReport{Nodes: nodes, Local: rt}
	if len(nodes) == 0 {
		rep.Note = "no NVIDIA GPU on this machine (" + why + "): radix's runtime serves on the CPU"
	} else {
		rep.Note = "these GPUs are this machine's, read through NVML; radix's runtime serves on the CPU"
	}
	return rep, nil
}

// demoSize is the size of the demo model's files, which every worker serving it holds in memory.
func demoSize() int64 {
	var n int64
	_ = fs.WalkDir(demo.Files(), ".", func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}

func dirSize(path string) int64 {
	var n int64
	_ = filepath.Walk(path, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}
