package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/inference/server/bench"
)

func init() {
	benchSubs = append(benchSubs, func(g *globals) *cobra.Command {
		var (
			o        bench.Options
			jsonPath string
		)
		c := &cobra.Command{
			Use:   "serve --url URL [--url URL2] --workload shared-prefix|multi-turn|random",
			Short: "Load-test OpenAI-compatible servers: throughput, TTFT, inter-token latency, cache hit rate",
			Long: `Sends the same generated workload to each --url in turn (streamed chat completions at temperature 0
with ignore_eos, so output lengths are fixed) and prints a table, with ratios to the first URL when there are
several — e.g. a server with --disable-radix-cache first and one with the cache second. shared-prefix is
SGLang's generated-shared-prefix workload (groups × prompts per group sharing a system prompt), multi-turn
sends 4-turn chats turn after turn, random sends unrelated prompts. Lengths are in words (about 1–2 tokens).`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				reps, err := bench.Run(cmd.Context(), o)
				if err != nil {
					return err
				}
				if err := bench.WriteTable(cmd.OutOrStdout(), reps); err != nil {
					return err
				}
				switch jsonPath {
				case "":
				case "-":
					return bench.WriteJSON(cmd.OutOrStdout(), reps)
				default:
					f, err := os.Create(jsonPath)
					if err != nil {
						return fmt.Errorf("bench serve: %w", err)
					}
					defer f.Close()
					return bench.WriteJSON(f, reps)
				}
				return nil
			},
		}
		f := c.Flags()
		f.StringSliceVar(&o.URLs, "url", nil, "server base URL (repeatable; ratios are against the first)")
		f.StringVar(&o.APIKey, "api-key", "", "bearer token")
		f.StringVar(&o.Model, "model", "", "model name (default: the server's first)")
		f.StringVar(&o.Workload, "workload", "shared-prefix", "shared-prefix, multi-turn or random")
		f.IntVar(&o.Concurrency, "concurrency", 8, "requests in flight")
		f.Uint64Var(&o.Seed, "seed", 1, "workload seed")
		f.IntVar(&o.Groups, "groups", 4, "shared-prefix: groups (paper: 64)")
		f.IntVar(&o.PromptsPerGroup, "prompts-per-group", 8, "shared-prefix: prompts per group (paper: 16)")
		f.IntVar(&o.SystemLen, "system-prompt-len", 400, "system prompt length in words (paper: 2048 tokens)")
		f.IntVar(&o.QuestionLen, "question-len", 24, "question length in words (paper: 128 tokens)")
		f.IntVar(&o.OutputLen, "output-len", 16, "max tokens per answer (paper: 256)")
		f.IntVar(&o.Conversations, "conversations", 8, "multi-turn: conversations")
		f.IntVar(&o.Turns, "turns", 4, "multi-turn: turns per conversation")
		f.IntVar(&o.Requests, "requests", 32, "random: requests")
		f.StringVar(&jsonPath, "json", "", "also write the reports as JSON to this file (- for stdout)")
		return c
	})
}
