package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/radixops/radix/inference/client"
)

// Options describe a run. Lengths are in words of a fixed vocabulary (about one to two tokens each).
type Options struct {
	URLs        []string
	APIKey      string
	Model       string // default: the server's first model
	Workload    string // shared-prefix | multi-turn | random
	Concurrency int
	Seed        uint64

	// shared-prefix (SGLang's generated-shared-prefix; the paper's defaults are 64 × 16, 2048, 128, 256)
	Groups, PromptsPerGroup, SystemLen, QuestionLen, OutputLen int
	// multi-turn: Conversations of Turns user turns each, run turn after turn
	Conversations, Turns int
	// random: Requests prompts of 1..SystemLen+QuestionLen words
	Requests int
}

// Defaults fills unset options with CPU-sized values.
func (o *Options) Defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Concurrency, 8)
	def(&o.Groups, 4)
	def(&o.PromptsPerGroup, 8)
	def(&o.SystemLen, 400)
	def(&o.QuestionLen, 24)
	def(&o.OutputLen, 16)
	def(&o.Conversations, 8)
	def(&o.Turns, 4)
	def(&o.Requests, 32)
	if o.Workload == "" {
		o.Workload = "shared-prefix"
	}
}

// Report is one URL's results.
type Report struct {
	URL          string  `json:"url"`
	Workload     string  `json:"workload"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	Seconds      float64 `json:"seconds"`
	ReqPerSec    float64 `json:"req_per_s"`
	OutTokPerSec float64 `json:"output_tok_per_s"`
	TotTokPerSec float64 `json:"total_tok_per_s"`
	PromptTokens int     `json:"prompt_tokens"`
	CachedTokens int     `json:"cached_tokens"`
	OutputTokens int     `json:"output_tokens"`
	CacheHitRate float64 `json:"cache_hit_rate"`
	TTFTP50Ms    float64 `json:"ttft_p50_ms"`
	TTFTP99Ms    float64 `json:"ttft_p99_ms"`
	ITLP50Ms     float64 `json:"itl_p50_ms"`
	ITLP99Ms     float64 `json:"itl_p99_ms"`
	// From the server's /metrics when it is radix (negative when unknown).
	TreeTimeFraction float64 `json:"tree_time_fraction"`
	PrefillComputed  float64 `json:"prefill_computed_tokens"`
}

// conversation is a unit of work: one or more turns sent in order.
type conversation struct {
	system string
	turns  []string
}

var words = strings.Fields(`the a radix tree cache holds prefix tokens page pool request worker model
decode prefill batch schedule memory evict lock node match insert share system prompt user question answer
time first token latency throughput queue running ratio budget chunk stream server client router frontend
kernel vector matrix layer head attention key value rotary norm weight quantise block hash event metric`)

func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// workload builds the conversations of a run, the same for every URL.
func workload(o Options) ([]conversation, error) {
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	var cs []conversation
	switch o.Workload {
	case "shared-prefix":
		for range o.Groups {
			sys := text(r, o.SystemLen)
			for range o.PromptsPerGroup {
				cs = append(cs, conversation{system: sys, turns: []string{text(r, o.QuestionLen)}})
			}
		}
		r.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
	case "multi-turn":
		for range o.Conversations {
			c := conversation{system: text(r, o.SystemLen)}
			for range o.Turns {
				c.turns = append(c.turns, text(r, o.QuestionLen))
			}
			cs = append(cs, c)
		}
	case "random":
		for range o.Requests {
			cs = append(cs, conversation{turns: []string{text(r, 1+r.IntN(o.SystemLen+o.QuestionLen))}})
		}
	default:
		return nil, fmt.Errorf("unknown workload %q (shared-prefix, multi-turn, random)", o.Workload)
	}
	return cs, nil
}

type sample struct {
	res *client.Result
	itl []time.Duration
	err error
}

// Run sends the workload to every URL in turn and reports each.
func Run(ctx context.Context, o Options) ([]Report, error) {
	o.Defaults()
	if len(o.URLs) == 0 {
		return nil, errors.New("bench: at least one --url is needed")
	}
	cs, err := workload(o)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var out []Report
	for _, u := range o.URLs {
		rep, err := runOne(ctx, o, u, cs)
		if err != nil {
			return out, err
		}
		out = append(out, rep)
	}
	return out, nil
}

func runOne(ctx context.Context, o Options, url string, cs []conversation) (Report, error) {
	c := client.New(url)
	c.APIKey = o.APIKey
	model := o.Model
	if model == "" {
		m, err := c.DefaultModel(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("bench: asking %s for its model: %w", url, err)
		}
		model = m
	}
	before := scrape(ctx, url)
	var mu sync.Mutex
	var samples []sample
	work := make(chan conversation)
	var wg sync.WaitGroup
	zero := 0.0
	start := time.Now()
	for range min(o.Concurrency, len(cs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for conv := range work {
				var msgs []client.Message
				if conv.system != "" {
					msgs = append(msgs, client.Message{Role: "system", Content: conv.system})
				}
				for _, q := range conv.turns {
					msgs = append(msgs, client.Message{Role: "user", Content: q})
					var last time.Time
					var itl []time.Duration
					res, err := c.ChatStream(ctx, client.Request{
						Model: model, Messages: msgs, MaxTokens: o.OutputLen, Temperature: &zero,
						Extra: map[string]any{"ignore_eos": true},
					}, func(client.Delta) {
						now := time.Now()
						if !last.IsZero() {
							itl = append(itl, now.Sub(last))
						}
						last = now
					})
					mu.Lock()
					samples = append(samples, sample{res: res, itl: itl, err: err})
					mu.Unlock()
					if err != nil {
						break
					}
					msgs = append(msgs, client.Message{Role: "assistant", Content: res.Content})
				}
			}
		}()
	}
	for _, conv := range cs {
		select {
		case work <- conv:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	after := scrape(ctx, url)

	rep := Report{URL: url, Workload: o.Workload, Seconds: el.Seconds(), TreeTimeFraction: -1, PrefillComputed: -1}
	var ttft, itl []float64
	for _, s := range samples {
		rep.Requests++
		if s.err != nil {
			rep.Errors++
			if rep.FirstError == "" {
				rep.FirstError = s.err.Error()
			}
			continue
		}
		rep.PromptTokens += s.res.Usage.PromptTokens
		rep.CachedTokens += s.res.Usage.CachedTokens
		rep.OutputTokens += s.res.OutputTokens()
		ttft = append(ttft, ms(s.res.TTFT))
		for _, d := range s.itl {
			itl = append(itl, ms(d))
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("bench: %w", ctx.Err())
	}
	ok := float64(rep.Requests - rep.Errors)
	rep.ReqPerSec = ok / el.Seconds()
	rep.OutTokPerSec = float64(rep.OutputTokens) / el.Seconds()
	rep.TotTokPerSec = float64(rep.OutputTokens+rep.PromptTokens) / el.Seconds()
	if rep.PromptTokens > 0 {
		rep.CacheHitRate = float64(rep.CachedTokens) / float64(rep.PromptTokens)
	}
	rep.TTFTP50Ms, rep.TTFTP99Ms = pct(ttft, 50), pct(ttft, 99)
	rep.ITLP50Ms, rep.ITLP99Ms = pct(itl, 50), pct(itl, 99)
	if before != nil && after != nil {
		step := after[metricStep] - before[metricStep]
		if step > 0 {
			rep.TreeTimeFraction = (after[metricTree] - before[metricTree]) / step
		}
		rep.PrefillComputed = after[metricPrefill] - before[metricPrefill]
	}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// pct is the p-th percentile (nearest rank) of xs; 0 for none.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// The radix metrics bench reads (names as in inference/server).
const (
	metricStep    = "radix:scheduler_step_seconds_total"
	metricTree    = "radix:radix_tree_seconds_total"
	metricPrefill = "radix:prefill_computed_tokens_total"
)

// scrape reads the server's /metrics into name → value (summed over label sets); nil when unavailable.
func scrape(ctx context.Context, base string) map[string]float64 {
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/v1")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads Prometheus text exposition into name → value summed over label sets. Malformed
// lines are skipped.
func ParseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		rest := line[len(name):]
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndex(rest, "}")
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out
}

// WriteTable prints the reports side by side, with ratios to the first when there are several.
func WriteTable(w io.Writer, reps []Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(Report) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, r := range reps {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	f2 := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	row("url", func(r Report) string { return r.URL })
	row("workload", func(r Report) string { return r.Workload })
	row("requests (errors)", func(r Report) string { return fmt.Sprintf("%d (%d)", r.Requests, r.Errors) })
	row("duration s", func(r Report) string { return f2(r.Seconds) })
	row("req/s", func(r Report) string { return f2(r.ReqPerSec) })
	row("output tok/s", func(r Report) string { return f2(r.OutTokPerSec) })
	row("total tok/s", func(r Report) string { return f2(r.TotTokPerSec) })
	row("TTFT p50 ms", func(r Report) string { return f2(r.TTFTP50Ms) })
	row("TTFT p99 ms", func(r Report) string { return f2(r.TTFTP99Ms) })
	row("ITL p50 ms", func(r Report) string { return f2(r.ITLP50Ms) })
	row("ITL p99 ms", func(r Report) string { return f2(r.ITLP99Ms) })
	row("cache hit rate", func(r Report) string { return f2(r.CacheHitRate) })
	row("prefill computed tok", func(r Report) string {
		if r.PrefillComputed < 0 {
			return "-"
		}
		return strconv.FormatFloat(r.PrefillComputed, 'f', 0, 64)
	})
	row("tree time / step time", func(r Report) string {
		if r.TreeTimeFraction < 0 {
			return "-"
		}
		return fmt.Sprintf("%.4f%%", 100*r.TreeTimeFraction)
	})
	if len(reps) > 1 {
		b := reps[0]
		row("throughput × first", func(r Report) string { return ratio(r.ReqPerSec, b.ReqPerSec) })
		row("TTFT p50 first ÷ this", func(r Report) string { return ratio(b.TTFTP50Ms, r.TTFTP50Ms) })
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	for _, r := range reps {
		if r.FirstError != "" {
			fmt.Fprintf(w, "first error from %s: %s\n", r.URL, r.FirstError)
		}
	}
	return nil
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "×"
}

// WriteJSON writes the reports as a JSON array.
func WriteJSON(w io.Writer, reps []Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(reps); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
