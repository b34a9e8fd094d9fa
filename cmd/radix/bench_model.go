package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/model/kernels"
	"github.com/radixops/radix/inference/model/kernels/modelbench"
)

func init() {
	benchSubs = append(benchSubs, func(g *globals) *cobra.Command {
		var (
			path, dtype, kvType string
			kernelPath          string
			cpuProfile          string
			opts                modelbench.Options
			portable            bool
		)
		c := &cobra.Command{
			Use:   "model --model PATH",
			Short: "Prefill and decode throughput of a model on this CPU, against the measured read bandwidth",
			Long: `Loads a model (Hugging Face directory or GGUF file) and measures, at batch 1, prefill tokens/s for
each prompt length and decode tokens/s; then decode throughput at the larger batch sizes (weights read once
per step for all sequences). It reports the bytes of weights a decoded token reads and the fraction of the
machine's streaming read bandwidth, measured in the same run, that decode achieves.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if path == "" {
					return fmt.Errorf("bench model: --model PATH is required (make one with: radix model random --shape tinyllama-1.1b)")
				}
				if portable {
					kernels.UsePortable(true)
				} else if kernelPath != "" {
					if err := kernels.UseKernels(kernelPath); err != nil {
						return fmt.Errorf("bench model: --kernels: %w", err)
					}
				}
				m, err := model.Load(path, model.LoadOptions{DType: dtype, KVDType: kvType})
				if err != nil {
					return fmt.Errorf("bench model: %w", err)
				}
				defer m.Close()
				opts.Log = cmd.ErrOrStderr()
				if cpuProfile != "" {
					f, err := os.Create(cpuProfile)
					if err != nil {
						return fmt.Errorf("bench model: --cpuprofile: %w", err)
					}
					defer f.Close()
					if err := pprof.StartCPUProfile(f); err != nil {
						return fmt.Errorf("bench model: --cpuprofile: %w", err)
					}
					defer pprof.StopCPUProfile()
				}
				r, err := modelbench.Run(cmd.Context(), m, opts)
				if err != nil {
					return err
				}
				return r.Write(cmd.OutOrStdout())
			},
		}
		f := c.Flags()
		f.StringVar(&path, "model", "", "model directory (Hugging Face layout) or .gguf file")
		f.StringVar(&dtype, "dtype", "", "weight compute type: f32, bf16 or q8_0 (default: as the model loader chooses)")
		f.StringVar(&kvType, "kv-dtype", "", "KV cache element type: f32 or bf16 (default f32)")
		f.IntVar(&opts.Threads, "threads", 0, "kernel worker threads (default: all cores)")
		f.IntSliceVar(&opts.PromptLens, "prompt", []int{64, 512}, "prefill prompt lengths to time")
		f.IntSliceVar(&opts.Batches, "batch", []int{1, 4, 8}, "decode batch sizes")
		f.IntVar(&opts.DecodeSteps, "steps", 16, "timed decode steps per batch size")
		f.IntVar(&opts.DecodeContext, "context", 64, "prompt length of each sequence before decode is timed")
		f.Int64Var(&opts.BandwidthBytes, "bandwidth-bytes", 512<<20, "buffer size of the streaming-read bandwidth measurement")
		f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
		f.BoolVar(&portable, "portable", false, "use the portable Go kernels (baseline for the assembly)")
		f.StringVar(&kernelPath, "kernels", "", fmt.Sprintf("kernel path to use, one of %v on this CPU (default: the best; env RADIX_KERNELS does the same)", kernels.KernelPaths()))
		return c
	})
}
