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
		if got := float64(d.Batch) / d.StepSeconds; got != d.TokPerSec {
			t.Fatalf("tok/s %g is not batch/step time %g", d.TokPerSec, got)
		}
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
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
