package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/inference/client"
)

func init() {
	register(chatCmd)
	register(cacheTestCmd)
}

// chatTarget is the flags that pick the server: a deployment (port-forwarded) or an explicit URL.
type chatTarget struct {
	url   string
	model string
}

func (t *chatTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.url, "url", "", "talk to this OpenAI-compatible base URL instead of port-forwarding to the deployment")
	cmd.Flags().StringVar(&t.model, "model", "", "model name (default: the first of /v1/models)")
}

// open returns a client for the deployment (port-forwarding to its frontend) and its release.
func (t *chatTarget) open(ctx context.Context, g *globals, name string) (*client.Client, string, func(), error) {
	base, release := t.url, func() {}
	if base == "" {
		cl, err := openCluster(ctx, g)
		if err != nil {
			return nil, "", nil, err
		}
		base, release, err = cl.Endpoint(ctx, cl.Info().Namespace, name)
		if err != nil {
			return nil, "", nil, err
		}
	}
	c := client.New(base)
	model := t.model
	if model == "" {
		m, err := c.DefaultModel(ctx)
		if err != nil {
			release()
			return nil, "", nil, fmt.Errorf("finding the served model of %s: %w", name, err)
		}
		model = m
	}
	return c, model, release, nil
}

func chatCmd(g *globals) *cobra.Command {
	var (
		t         chatTarget
		system    string
		maxTokens int
		temp      float64
	)
	c := &cobra.Command{
		Use:   "chat NAME MESSAGE",
		Short: "Send one chat message to a deployment; the reply streams to stdout, stats to stderr",
		Example: `  radix chat sglang-aggregated-default "What is RadixAttention?"
  radix chat my-dgd "hi" --system "Answer in one sentence." --model Qwen/Qwen3-0.6B`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			cl, model, release, err := t.open(ctx, g, args[0])
			if err != nil {
				return err
			}
			defer release()
			var msgs []client.Message
			if system != "" {
				msgs = append(msgs, client.Message{Role: "system", Content: system})
			}
			msgs = append(msgs, client.Message{Role: "user", Content: args[1]})
			req := client.Request{Model: model, Messages: msgs, MaxTokens: maxTokens}
			if cmd.Flags().Changed("temperature") {
				req.Temperature = &temp
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			res, err := cl.ChatStream(ctx, req, func(d client.Delta) {
				if d.Reasoning != "" {
					fmt.Fprint(errw, d.Reasoning)
				}
				fmt.Fprint(out, d.Content)
			})
			fmt.Fprintln(out)
			if res != nil {
				printChatStats(errw, res)
			}
			return err
		},
	}
	t.flags(c)
	c.Flags().StringVar(&system, "system", "", "system prompt")
	c.Flags().IntVar(&maxTokens, "max-tokens", 512, "most tokens to generate")
	c.Flags().Float64Var(&temp, "temperature", 0, "sampling temperature (default: the server's)")
	return c
}

func printChatStats(w io.Writer, r *client.Result) {
	parts := []string{fmt.Sprintf("TTFT %s", r.TTFT.Round(time.Millisecond))}
	if tps := r.TokensPerSecond(); tps > 0 {
		parts = append(parts, fmt.Sprintf("%.1f tok/s", tps))
	}
	if r.UsageKnown {
		parts = append(parts, fmt.Sprintf("%d prompt tokens (%d cached)", r.Usage.PromptTokens, r.Usage.CachedTokens),
			fmt.Sprintf("%d output tokens", r.Usage.CompletionTokens))
	} else {
		parts = append(parts, fmt.Sprintf("%d output chunks (the server reported no usage)", r.Chunks))
	}
	if r.FinishReason != "" {
		parts = append(parts, "finish "+r.FinishReason)
	}
	fmt.Fprintln(w, strings.Join(parts, " · "))
}

// defaultCacheTestSystem is a long, fixed system prompt: long enough that its prefill dominates the
// first request's TTFT, so a cache hit on the repeats shows as a clear speedup, yet short enough for a
// 2,048-token context even under the demo model's small vocabulary (about 1,000 of its tokens).
var defaultCacheTestSystem = strings.Repeat("You are a meticulous assistant for operators of GPU inference clusters. "+
	"You answer precisely, cite the configuration flags involved, and explain the trade-offs between latency, "+
	"throughput and memory in prefix-cached serving with paged KV caches. ", 12)

// CacheTestRun is one request of `radix cache-test`.
type CacheTestRun struct {
	Run          int           `json:"run"`
	TTFT         time.Duration `json:"ttftNs"`
	PromptTokens int           `json:"promptTokens"`
	CachedTokens int           `json:"cachedTokens"`
	OutputTokens int           `json:"outputTokens"`
	TokensPerSec float64       `json:"tokensPerSecond"`
	Speedup      float64       `json:"speedup"` // first run's TTFT / this run's
}

func cacheTestCmd(g *globals) *cobra.Command {
	var (
		t              chatTarget
		system, prompt string
		repeat         int
		maxTokens      int
		output         string
	)
	c := &cobra.Command{
		Use:   "cache-test NAME",
		Short: "The blueprint's cache test: the same long prompt repeated; TTFT and cached tokens per run, speedup",
		Long: `Send the same system and user prompt --repeat times (one after another, temperature 0) and report
each run's time to first token, prompt and cached tokens, and the speedup of each repeat over the first:
with prefix caching working, repeats report cached tokens close to the prompt length and a lower TTFT.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repeat < 2 {
				return fmt.Errorf("--repeat %d: need at least 2 runs to compare", repeat)
			}
			ctx, cancel := interruptible(cmd)
			defer cancel()
			cl, model, release, err := t.open(ctx, g, args[0])
			if err != nil {
				return err
			}
			defer release()
			zero := 0.0
			req := client.Request{Model: model, MaxTokens: maxTokens, Temperature: &zero, Messages: []client.Message{
				{Role: "system", Content: system}, {Role: "user", Content: prompt}}}
			var runs []CacheTestRun
			for i := 1; i <= repeat; i++ {
				res, err := cl.ChatStream(ctx, req, nil)
				if err != nil {
					return fmt.Errorf("run %d: %w", i, err)
				}
				r := CacheTestRun{Run: i, TTFT: res.TTFT, PromptTokens: res.Usage.PromptTokens,
					CachedTokens: res.Usage.CachedTokens, OutputTokens: res.OutputTokens(), TokensPerSec: res.TokensPerSecond()}
				if len(runs) > 0 && r.TTFT > 0 {
					r.Speedup = float64(runs[0].TTFT) / float64(r.TTFT)
				} else if len(runs) == 0 {
					r.Speedup = 1
				}
				runs = append(runs, r)
			}
			w := cmd.OutOrStdout()
			if done, err := printStructured(w, output, runs); done {
				return err
			}
			tw := newTable(w)
			fmt.Fprintln(tw, "RUN\tTTFT\tPROMPT\tCACHED\tOUTPUT\tTOK/S\tSPEEDUP")
			for _, r := range runs {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%.1f\t%.2fx\n", r.Run, r.TTFT.Round(time.Millisecond), r.PromptTokens,
					r.CachedTokens, r.OutputTokens, r.TokensPerSec, r.Speedup)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			var sum float64
			for _, r := range runs[1:] {
				sum += r.Speedup
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "mean TTFT speedup of the repeats over the first run: %.2fx\n", sum/float64(len(runs)-1))
			if runs[len(runs)-1].CachedTokens == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: the repeats report no cached tokens: prefix caching is off, or the server does not report cached_tokens")
			}
			return nil
		},
	}
	t.flags(c)
	c.Flags().StringVar(&system, "system", defaultCacheTestSystem, "system prompt (default: a fixed prompt of about 500 words)")
	c.Flags().StringVar(&prompt, "message", "Explain in three sentences why a shared prompt prefix lowers time to first token.", "user prompt")
	c.Flags().IntVar(&repeat, "repeat", 3, "number of runs (≥ 2)")
	c.Flags().IntVar(&maxTokens, "max-tokens", 64, "tokens to generate per run")
	outputFlag(c, &output)
	return c
}
