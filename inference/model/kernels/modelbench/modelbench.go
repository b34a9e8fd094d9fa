package modelbench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/model/kernels"
)

// Options say what to measure. Zero values take the defaults of `radix bench model`.
type Options struct {
	Threads        int   // worker threads for the kernels; 0: all cores
	PromptLens     []int // prefill lengths timed at batch 1 (default 64, 512)
	DecodeSteps    int   // timed decode steps per batch size (default 16)
	DecodeContext  int   // prompt length before decode is timed (default 64)
	Batches        []int // decode batch sizes (default 1, 4, 8)
	BandwidthBytes int64 // size of the streaming-read buffer (default 512 MiB)
	Seed           uint64
	Log            io.Writer // progress lines; nil: none
}

func (o *Options) defaults() {
	if len(o.PromptLens) == 0 {
		o.PromptLens = []int{64, 512}
	}
	if o.DecodeSteps <= 0 {
		o.DecodeSteps = 16
	}
	if o.DecodeContext <= 0 {
		o.DecodeContext = 64
	}
	if len(o.Batches) == 0 {
		o.Batches = []int{1, 4, 8}
	}
	if o.BandwidthBytes <= 0 {
		o.BandwidthBytes = 512 << 20
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Prefill is one timed prompt.
type Prefill struct {
	Tokens    int
	Seconds   float64
	TokPerSec float64
	Cores     float64 // CPU seconds per wall second the process got meanwhile (0: unknown)
	// PeakFraction is the matrix multiply-adds per second over Result.Int8Peak
	// (0 when there is no peak).
	PeakFraction float64
}

// Decode is the decode throughput at one batch size.
type Decode struct {
	Batch       int
	Steps       int
	StepSeconds float64 // mean time of one step (one new token per sequence)
	TokPerSec   float64 // Batch / StepSeconds
	// BytesPerStep is what one step reads: the weights once, plus each sequence's KV.
	BytesPerStep float64
	// Bandwidth is the median of streaming-read passes taken one before each
	// timed step (on a shared machine it drifts by tens of percent within a
	// minute); BandwidthFraction is the median over steps of the step's read rate
	// (BytesPerStep over its time) divided by the pass just before it.
	Bandwidth         float64
	BandwidthFraction float64
	Cores             float64 // CPU seconds per wall second during the timed steps
	PeakFraction      float64 // matrix multiply-adds per second over Result.Int8Peak (0: no peak)
}

// Result is one run of the benchmark.
type Result struct {
	Config      model.Config
	WeightType  string // as the model reports it (f32, bf16, q8_0, q4_0)
	Kernels     string // instruction set of the kernels in use
	Threads     int
	WeightBytes int64   // bytes of weight matrices one decode step streams (the model's count)
	KVBytes     float64 // bytes per attended position per sequence (all layers, K and V)
	Bandwidth   float64 // bytes/s, streaming read on Threads threads, same run
	// Int8Peak is the int8 multiply-adds per second the kernels' instruction
	// pair can issue on Threads threads (kernels.MeasureInt8Peak), measured in
	// this run when the kernels in use are the AVX2 ones; 0 otherwise.
	Int8Peak float64
	// MatMACs is the multiply-adds of one token's matrix products (every
	// layer's projections and the logits), the work prefill does per token.
	MatMACs float64
	Prefill []Prefill
	Decode  []Decode
}

// Run measures m with the kernels' worker pool set to o.Threads threads (restored
// afterwards).
func Run(ctx context.Context, m *model.Model, o Options) (*Result, error) {
	o.defaults()
	old := kernels.Threads()
	kernels.SetThreads(o.Threads)
	defer kernels.SetThreads(old)
	cfg := m.Config()
	r := &Result{Config: cfg, WeightType: m.WeightType(), Kernels: kernels.Accelerated(), Threads: kernels.Threads(), WeightBytes: m.WeightBytes()}

	fmt.Fprintf(o.Log, "measuring streaming read bandwidth over %d MiB on %d threads...\n", o.BandwidthBytes>>20, r.Threads)
	// One buffer serves the opening measurement and the passes between decode
	// steps; the pool already runs r.Threads threads.
	probe, err := kernels.NewBandwidthProbe(o.BandwidthBytes)
	if err != nil {
		return nil, fmt.Errorf("bench model: %w", err)
	}
	r.Bandwidth = probe.Best(3)
	if r.Kernels == "avx2" {
		fmt.Fprintf(o.Log, "measuring the int8 multiply-add peak on %d threads...\n", r.Threads)
		r.Int8Peak, _ = kernels.MeasureInt8Peak()
	}
	r.MatMACs = matMACs(cfg)

	maxBatch := 1
	for _, b := range o.Batches {
		maxBatch = max(maxBatch, b)
	}
	longest := o.DecodeContext + o.DecodeSteps + 1
	for _, p := range o.PromptLens {
		longest = max(longest, p)
	}
	const pageSize = 16
	pool, err := m.NewKVPool(maxBatch*(longest+pageSize)+pageSize, pageSize)
	if err != nil {
		return nil, fmt.Errorf("bench model: making the KV pool: %w", err)
	}
	r.KVBytes = float64(cfg.Layers*2*cfg.KVHeads*cfg.HeadDim) * float64(pool.DType().Size())
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	logits := make([][]float32, maxBatch)
	for i := range logits {
		logits[i] = make([]float32, cfg.Vocab)
	}

	// Warm-up: one short step pages in the weights (they may be a fresh mmap).
	fmt.Fprintf(o.Log, "warming up...\n")
	if _, err := prefill(ctx, m, pool, rng, 8, logits); err != nil {
		return nil, err
	}
	for _, n := range o.PromptLens {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "prefill %d tokens...\n", n)
		c0 := processCPU()
		sec, err := prefill(ctx, m, pool, rng, n, logits)
		if err != nil {
			return nil, err
		}
		p := Prefill{Tokens: n, Seconds: sec, TokPerSec: float64(n) / sec, Cores: (processCPU() - c0).Seconds() / sec}
		if r.Int8Peak > 0 {
			p.PeakFraction = p.TokPerSec * r.MatMACs / r.Int8Peak
		}
		r.Prefill = append(r.Prefill, p)
	}
	for _, b := range o.Batches {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "decode at batch %d...\n", b)
		bytesPerStep := float64(r.WeightBytes) + float64(b)*r.KVBytes*(float64(o.DecodeContext)+float64(o.DecodeSteps)/2)
		d, err := decode(ctx, m, pool, rng, b, o.DecodeContext, o.DecodeSteps, logits, probe, bytesPerStep)
		if err != nil {
			return nil, err
		}
		if r.Int8Peak > 0 {
			d.PeakFraction = d.TokPerSec * r.MatMACs / r.Int8Peak
		}
		r.Decode = append(r.Decode, d)
	}
	return r, nil
}

type seqState struct {
	pages  []int32
	slots  []int32
	tokens []int32
}

func newSeq(pool *kvcache.Pool, rng *rand.Rand, vocab, prompt, room int) (*seqState, error) {
	pages, err := pool.Alloc(pool.PagesFor(room))
	if err != nil {
		return nil, fmt.Errorf("bench model: allocating KV pages for %d tokens: %w", room, err)
	}
	s := &seqState{pages: pages}
	for range prompt {
		s.tokens = append(s.tokens, int32(rng.IntN(vocab)))
	}
	return s, nil
}

func prefill(ctx context.Context, m *model.Model, pool *kvcache.Pool, rng *rand.Rand, n int, logits [][]float32) (float64, error) {
	s, err := newSeq(pool, rng, m.Config().Vocab, n, n)
	if err != nil {
		return 0, err
	}
	defer pool.Free(s.pages)
	slots := pool.Slots(nil, s.pages, n)
	start := time.Now()
	if err := m.Forward([]model.Seq{{Tokens: s.tokens, Pos: 0, Slots: slots}}, pool, logits[:1]); err != nil {
		return 0, fmt.Errorf("bench model: prefill of %d tokens: %w", n, err)
	}
	return time.Since(start).Seconds(), ctx.Err()
}

// decode times steps decode steps of batch sequences after a prompt of prompt
// tokens each, with one pass of probe just before every timed step.
func decode(ctx context.Context, m *model.Model, pool *kvcache.Pool, rng *rand.Rand, batch, prompt, steps int, logits [][]float32, probe *kernels.BandwidthProbe, bytesPerStep float64) (Decode, error) {
	vocab := m.Config().Vocab
	seqs := make([]*seqState, batch)
	defer func() {
		for _, s := range seqs {
			if s != nil {
				pool.Free(s.pages)
			}
		}
	}()
	for i := range seqs {
		s, err := newSeq(pool, rng, vocab, prompt, prompt+steps+1)
		if err != nil {
			return Decode{}, err
		}
		seqs[i] = s
		slots := pool.Slots(nil, s.pages, prompt)
		if err := m.Forward([]model.Seq{{Tokens: s.tokens, Pos: 0, Slots: slots}}, pool, logits[:1]); err != nil {
			return Decode{}, fmt.Errorf("bench model: prompt of sequence %d: %w", i, err)
		}
	}
	batchSeqs := make([]model.Seq, batch)
	var total, cpu time.Duration
	var bws, fracs []float64
	// Step 0 is untimed: it settles caches and the worker pool at this batch size.
	for step := 0; step <= steps; step++ {
		if err := ctx.Err(); err != nil {
			return Decode{}, err
		}
		pos := prompt + step
		for i, s := range seqs {
			tok := int32(rng.IntN(vocab)) // the benchmark measures speed, not text: no sampling
			s.slots = pool.Slots(s.slots[:0], s.pages, pos+1)
			batchSeqs[i] = model.Seq{Tokens: []int32{tok}, Pos: pos, Slots: s.slots}
		}
		var bw float64
		if step > 0 {
			bw = probe.Pass()
		}
		start, c0 := time.Now(), processCPU()
		if err := m.Forward(batchSeqs, pool, logits[:batch]); err != nil {
			return Decode{}, fmt.Errorf("bench model: decode step %d at batch %d: %w", step, batch, err)
		}
		if step > 0 {
			el := time.Since(start)
			total += el
			cpu += processCPU() - c0
			bws = append(bws, bw)
			fracs = append(fracs, bytesPerStep/el.Seconds()/bw)
		}
	}
	st := total.Seconds() / float64(steps)
	return Decode{Batch: batch, Steps: steps, StepSeconds: st, TokPerSec: float64(batch) / st, Cores: cpu.Seconds() / total.Seconds(),
		BytesPerStep: bytesPerStep, Bandwidth: median(bws), BandwidthFraction: median(fracs)}, nil
}

// median of xs (which it sorts); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// matMACs counts the multiply-adds of one token's matrix products: per layer
// q, k, v, o and the three SwiGLU projections, then the logits.
func matMACs(c model.Config) float64 {
	q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	layer := c.Hidden*(q+2*kv) + q*c.Hidden + 3*c.Hidden*c.FFN
	return float64(c.Layers*layer + c.Vocab*c.Hidden)
}

// Write prints the result as the table `radix bench model` shows.
func (r *Result) Write(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "model: %s, %d layers, hidden %d, ffn %d, heads %d/%d, vocab %d; weights %s; kernels %s; %d threads\n",
		c.Arch, c.Layers, c.Hidden, c.FFN, c.Heads, c.KVHeads, c.Vocab, r.WeightType, r.Kernels, r.Threads)
	fmt.Fprintf(w, "read bandwidth (streaming sum, %d threads, this run): %.1f GB/s at start; decode rows: median of passes taken one before each step, and the median of each step's ratio to its pass\n", r.Threads, r.Bandwidth/1e9)
	if r.Int8Peak > 0 {
		fmt.Fprintf(w, "int8 multiply-add peak (VPMADDUBSW+VPMADDWD chains, %d threads, this run): %.0f GMAC/s; %.2f GMAC of matrix products per token: prefill ceiling %.0f tok/s\n",
			r.Threads, r.Int8Peak/1e9, r.MatMACs/1e9, r.Int8Peak/r.MatMACs)
	}
	fmt.Fprintf(w, "weights read per decoded token: %.3f GB (+ %.1f KiB of KV per attended position)\n", float64(r.WeightBytes)/1e9, r.KVBytes/1024)
	if len(r.Decode) > 0 {
		d := r.Decode[0]
		fmt.Fprintf(w, "decode ceiling at batch %d (bandwidth / bytes per step): %.1f tok/s\n", d.Batch, float64(d.Batch)*d.Bandwidth/d.BytesPerStep)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	peak := func(f float64) string {
		if f <= 0 {
			return ""
		}
		return fmt.Sprintf("%.0f%%", 100*f)
	}
	fmt.Fprintln(tw, "\nphase\tbatch\ttokens\ttok/s\tms/step\tGB/step\tGB/s read\tof bandwidth\tof int8 peak\tcores used\t")
	for _, p := range r.Prefill {
		fmt.Fprintf(tw, "prefill\t1\t%d\t%.1f\t%.0f\t\t\t\t%s\t%.2f\t\n", p.Tokens, p.TokPerSec, p.Seconds*1e3, peak(p.PeakFraction), p.Cores)
	}
	for _, d := range r.Decode {
		fmt.Fprintf(tw, "decode\t%d\t%d\t%.2f\t%.1f\t%.3f\t%.1f\t%.0f%% of %.1f\t%s\t%.2f\t\n", d.Batch, d.Steps*d.Batch, d.TokPerSec, d.StepSeconds*1e3,
			d.BytesPerStep/1e9, d.BytesPerStep/d.StepSeconds/1e9, 100*d.BandwidthFraction, d.Bandwidth/1e9, peak(d.PeakFraction), d.Cores)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Decode) > 1 && r.Decode[0].Batch == 1 {
		last := r.Decode[len(r.Decode)-1]
		fmt.Fprintf(w, "batch-%d / batch-1 decode throughput: %.2fx\n", last.Batch, last.TokPerSec/r.Decode[0].TokPerSec)
	}
	_, err := fmt.Fprintf(w, "cores used: CPU time / wall time of the process; below %d means the machine was shared and the rows are not comparable\n", r.Threads)
	return err
}
