package modelbench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/radixops/radix/inference/model"
)

// TestRunOnTinyModel runs the whole benchmark on a seeded tiny model and checks
// the report is complete and self-consistent (never how fast anything is).
func TestRunOnTinyModel(t *testing.T) {
	dir := t.TempDir()
	if err := model.WriteRandom(dir, model.RandomOptions{Arch: model.ArchLlama, Shape: "tiny", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.LoadOptions{DType: "q8_0"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, err := Run(context.Background(), m, Options{Threads: 2, PromptLens: []int{8, 40}, DecodeSteps: 3, DecodeContext: 5, Batches: []int{1, 3}, BandwidthBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Prefill) != 2 || r.Prefill[1].Tokens != 40 || len(r.Decode) != 2 || r.Decode[1].Batch != 3 {
		t.Fatalf("incomplete result: %+v", r)
	}
	if r.WeightBytes != m.WeightBytes() || r.WeightType != "q8_0" || r.Bandwidth <= 0 {
		t.Fatalf("weights %d (model says %d), type %q, bandwidth %g", r.WeightBytes, m.WeightBytes(), r.WeightType, r.Bandwidth)
	}
	for _, d := range r.Decode {
		if !(d.TokPerSec > 0) || d.BytesPerStep <= float64(r.WeightBytes) || !(d.BandwidthFraction > 0) {
			t.Fatalf("decode row %+v", d)
		}
		if !(d.Bandwidth > 0) {
			t.Fatalf("decode row without its interleaved bandwidth: %+v", d)
		}
		if (r.Int8Peak > 0) != (d.PeakFraction > 0) {
			t.Fatalf("decode row's peak fraction %g with an int8 peak of %g", d.PeakFraction, r.Int8Peak)
		}
		if got := float64(d.Batch) / d.StepSeconds; got != d.TokPerSec {
			t.Fatalf("tok/s %g is not batch/step time %g", d.TokPerSec, got)
		}
	}
	if r.Kernels == "avx2" && !(r.Int8Peak > 0 && r.Prefill[0].PeakFraction > 0) {
		t.Fatalf("avx2 kernels but no int8 peak (%g) or prefill fraction (%g)", r.Int8Peak, r.Prefill[0].PeakFraction)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if r.Int8Peak > 0 && !strings.Contains(buf.String(), "int8 multiply-add peak") {
		t.Fatalf("report lacks the int8 peak:\n%s", buf.String())
	}
	for _, want := range []string{"read bandwidth", "prefill", "decode", "of bandwidth", "batch-3 / batch-1"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestRunHonoursCancellation(t *testing.T) {
	dir := t.TempDir()
	if err := model.WriteRandom(dir, model.RandomOptions{Arch: model.ArchLlama, Shape: "tiny", Seed: 2}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, m, Options{BandwidthBytes: 2 << 20, PromptLens: []int{4}, Batches: []int{1}, DecodeSteps: 1}); err == nil {
		t.Fatal("no error from a cancelled run")
	}
}

func TestMatMACsCountsEveryProjection(t *testing.T) {
	// tinyllama-1.1b: 22 layers, hidden 2048, 32 heads and 4 KV heads of 64, ffn 5632, vocab 32000.
	c := model.Config{Layers: 22, Hidden: 2048, Heads: 32, KVHeads: 4, HeadDim: 64, FFN: 5632, Vocab: 32000}
	layer := 2048*(2048+2*256) + 2048*2048 + 3*2048*5632
	if got, want := matMACs(c), float64(22*layer+32000*2048); got != want {
		t.Fatalf("matMACs = %g, want %g", got, want)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %g, want %g", c.in, got, c.want)
		}
	}
}
