package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/inference/model"
)

func init() {
	register(func(g *globals) *cobra.Command {
		c := &cobra.Command{
			Use:   "model",
			Short: "Model files: write seeded random models, show a model's shape",
		}
		c.AddCommand(modelRandomCmd(), modelInfoCmd())
		return c
	})
}

func modelRandomCmd() *cobra.Command {
	var (
		opts model.RandomOptions
		out  string
	)
	c := &cobra.Command{
		Use:   "random --arch llama|qwen3 --shape NAME --out DIR",
		Short: "Write a seeded random model directory (config, safetensors, tokenizer, chat template), optionally also GGUF",
		Long: fmt.Sprintf(`Writes a model with seeded random weights for tests and benchmarks: config.json, model.safetensors,
tokenizer.json (a synthetic byte-level BPE) and tokenizer_config.json with a chat template; with --gguf also
model.gguf holding the same weights and tokenizer. Shapes: llama: %s; qwen3: %s.`,
			strings.Join(model.Shapes(model.ArchLlama), ", "), strings.Join(model.Shapes(model.ArchQwen3), ", ")),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("model random: --out DIR is required")
			}
			if err := model.WriteRandom(out, opts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s %s (seed %d) to %s\n", opts.Arch, opts.Shape, opts.Seed, out)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.Arch, "arch", model.ArchLlama, "architecture: llama or qwen3")
	f.StringVar(&opts.Shape, "shape", "tiny", "named shape (see above)")
	f.Uint64Var(&opts.Seed, "seed", 1, "random seed")
	f.StringVar(&opts.DType, "dtype", "bf16", "element type of the stored weights: bf16 or f32")
	f.BoolVar(&opts.GGUF, "gguf", false, "also write model.gguf")
	f.StringVar(&opts.GGUFType, "gguf-type", "", "quantise the GGUF's matrices: q8_0 or q4_0 (default: as --dtype)")
	f.StringVar(&out, "out", "", "output directory")
	return c
}

func modelInfoCmd() *cobra.Command {
	var dtype string
	c := &cobra.Command{
		Use:   "info PATH",
		Short: "Load a model (directory or .gguf) and print its shape and weight size",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0], model.LoadOptions{DType: dtype})
			if err != nil {
				return err
			}
			defer m.Close()
			c := m.Config()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "architecture  %s\nlayers        %d\nhidden        %d\nheads         %d (kv %d, head dim %d)\nffn           %d\nvocab         %d\ncontext       %d\nrope theta    %g\n",
				c.Arch, c.Layers, c.Hidden, c.Heads, c.KVHeads, c.HeadDim, c.FFN, c.Vocab, c.ContextLen, c.RopeTheta)
			if c.RopeScaling != nil {
				fmt.Fprintf(w, "rope scaling  %s factor %g low %g high %g original %d\n", c.RopeScaling.Type, c.RopeScaling.Factor,
					c.RopeScaling.LowFreqFactor, c.RopeScaling.HighFreqFactor, c.RopeScaling.OriginalMaxPos)
			}
			fmt.Fprintf(w, "tied head     %v\nqk norm       %v\nweights       %s, %.1f MB read per decoded token\n",
				c.Tied, c.QKNorm, m.WeightType(), float64(m.WeightBytes())/1e6)
			return nil
		},
	}
	c.Flags().StringVar(&dtype, "dtype", "", "compute type to load as: f32, bf16, q8_0 (default auto)")
	return c
}
