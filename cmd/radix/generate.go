package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/tokenizer"
)

func init() {
	register(func(g *globals) *cobra.Command {
		var (
			path, prompt, dtype, kvType string
			opts                        model.GenerateOptions
			chat                        bool
		)
		c := &cobra.Command{
			Use:   "generate --model PATH --prompt TEXT",
			Short: "Run a model on one prompt on this CPU and print the completion as it is generated",
			Long: `Loads a Hugging Face model directory or a GGUF file and continues --prompt, streaming the text to
stdout: greedy at --temperature 0, sampled from the softmax at higher temperatures. With --chat the prompt is
sent as a user message through the model's chat template. Timing goes to stderr.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if path == "" || prompt == "" {
					return fmt.Errorf("generate: --model and --prompt are required")
				}
				t0 := time.Now()
				m, err := model.Load(path, model.LoadOptions{DType: dtype, KVDType: kvType})
				if err != nil {
					return fmt.Errorf("generate: %w", err)
				}
				defer m.Close()
				tok := m.Tokenizer()
				if tok == nil {
					return fmt.Errorf("generate: %s has no tokenizer", path)
				}
				var ids []int32
				if chat {
					if ids, err = tok.EncodeChat([]tokenizer.Message{{Role: "user", Content: prompt}}, true); err != nil {
						return fmt.Errorf("generate: %w", err)
					}
				} else {
					ids = tok.Encode(prompt, true)
				}
				opts.Stop = tok.StopIDs()
				load := time.Since(t0)
				out := cmd.OutOrStdout()
				stream := tok.NewStream()
				t1 := time.Now()
				var first time.Duration
				st, err := m.Generate(cmd.Context(), ids, opts, func(id int32) error {
					if first == 0 {
						first = time.Since(t1)
					}
					_, err := fmt.Fprint(out, stream.Add(id))
					return err
				})
				fmt.Fprintln(out, stream.Flush())
				if err != nil {
					return fmt.Errorf("generate: %w", err)
				}
				total := time.Since(t1)
				rate := 0.0
				if st.NewTokens > 1 {
					rate = float64(st.NewTokens-1) / (total - first).Seconds()
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "load %.2fs (%s weights), prompt %d tokens, first token %.0f ms, %d new tokens at %.1f tok/s\n",
					load.Seconds(), m.WeightType(), st.PromptTokens, float64(first.Microseconds())/1000, st.NewTokens, rate)
				return nil
			},
		}
		f := c.Flags()
		f.StringVar(&path, "model", "", "model directory (Hugging Face layout) or .gguf file")
		f.StringVar(&prompt, "prompt", "", "the text to continue")
		f.IntVar(&opts.MaxTokens, "max-tokens", 128, "new tokens at most")
		f.Float64Var(&opts.Temperature, "temperature", 0, "sampling temperature; 0 is greedy")
		f.Uint64Var(&opts.Seed, "seed", 0, "sampling seed")
		f.BoolVar(&chat, "chat", false, "wrap the prompt as a user message in the model's chat template")
		f.StringVar(&dtype, "dtype", "", "weight compute type: f32, bf16, q8_0 (default: q8_0 where shapes allow, else bf16)")
		f.StringVar(&kvType, "kv-dtype", "", "KV cache element type: f32 or bf16 (default f32)")
		return c
	})
}
