package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/inference/server"
)

func init() {
	register(func(g *globals) *cobra.Command {
		var o server.ServeOptions
		var topo topology
		c := &cobra.Command{
			Use:   "serve --model PATH",
			Short: "Serve a model over an OpenAI-compatible API with RadixAttention prefix caching",
			Long: `Runs one aggregated worker: POST /v1/chat/completions and /v1/completions (streaming or not),
GET /v1/models, /health (503 until the model is loaded), /live, /metrics (sglang:* and
dynamo_component_kvstats_* names) and /debug/invariant. Logs SGLang's scheduler lines to stderr
(grep -i "cache\|radix\|hit"). SIGTERM or Ctrl-C drains in-flight requests, then exits.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				o.Log = cmd.ErrOrStderr()
				if handled, err := runTopology(ctx, cmd, o, &topo); handled {
					return err
				}
				return server.Serve(ctx, o)
			},
		}
		f := c.Flags()
		f.StringVar(&o.Model, "model", "", "Hugging Face model directory or .gguf file (required)")
		f.StringVar(&o.Host, "host", "127.0.0.1", "address to bind")
		f.IntVar(&o.Port, "port", 30000, "port to listen on")
		f.StringVar(&o.ServedModelName, "served-model-name", "", "model name in the API (default: the model path's base name)")
		f.IntVar(&o.PageSize, "page-size", 16, "KV cache page size in tokens")
		f.IntVar(&o.MaxTotalTokens, "max-total-tokens", 0, "KV pool size in tokens (default: 16 contexts, at most 65536)")
		f.IntVar(&o.ChunkedPrefillSize, "chunked-prefill-size", 512, "prefill tokens per scheduler step; longer prompts are chunked")
		f.IntVar(&o.MaxRunningRequests, "max-running-requests", 64, "requests decoding at once")
		f.StringVar(&o.SchedulePolicy, "schedule-policy", "lpm", "waiting-queue order: lpm (longest cached prefix first) or fcfs")
		f.BoolVar(&o.DisableRadixCache, "disable-radix-cache", false, "turn prefix caching off (for comparison)")
		f.StringVar(&o.APIKey, "api-key", "", "require Authorization: Bearer <key> on /v1/*")
		f.StringVar(&o.DType, "dtype", "", "weight compute type: f32, bf16, q8_0, q4_0 (default: auto)")
		f.StringVar(&o.KVDType, "kv-cache-dtype", "", "KV cache element type: f32 (default) or bf16")
		addTopologyFlags(f, &topo)
		return c
	})
}
