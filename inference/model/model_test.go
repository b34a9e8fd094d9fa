package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/radixops/radix/inference/kvcache"
	"github.com/radixops/radix/inference/model/kernels"
)

// writeTemp writes a random model into a temp dir and returns the dir.
func writeTemp(t testing.TB, arch, shape string, gguf bool, dtype string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), arch+"-"+shape)
	if err := WriteRandom(dir, RandomOptions{Arch: arch, Shape: shape, Seed: 7, DType: dtype, GGUF: gguf}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustLoad(t testing.TB, path, dtype string) *Model {
	t.Helper()
	m, err := Load(path, LoadOptions{DType: dtype})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// contiguous returns slots 0..n-1 (pages in order).
func contiguous(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}

// runChunks prefills prompt in chunks of the given sizes and returns the last logits.
func runChunks(t testing.TB, m *Model, pool *kvcache.Pool, prompt []int32, slots []int32, chunks []int) []float32 {
	t.Helper()
	logits := make([][]float32, 1)
	pos := 0
	for _, n := range chunks {
		if err := m.Forward([]Seq{{Tokens: prompt[pos : pos+n], Pos: pos, Slots: slots}}, pool, logits); err != nil {
			t.Fatal(err)
		}
		pos += n
	}
	return logits[0]
}

func maxAbsDiff(a, b []float32) (d, scale float64) {
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		scale = math.Max(scale, math.Abs(float64(a[i])))
	}
	return d, scale
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// greedy decodes n tokens after prompt with contiguous slots.
func greedy(t testing.TB, m *Model, prompt []int32, n int) []int32 {
	t.Helper()
	pool, err := m.NewKVPool(len(prompt)+n+16, 16)
	if err != nil {
		t.Fatal(err)
	}
	slots := contiguous(len(prompt) + n)
	logits := make([][]float32, 1)
	if err := m.Forward([]Seq{{Tokens: prompt, Pos: 0, Slots: slots}}, pool, logits); err != nil {
		t.Fatal(err)
	}
	var out []int32
	for i := 0; i < n; i++ {
		tok := argmax(logits[0])
		out = append(out, tok)
		if err := m.Forward([]Seq{{Tokens: []int32{tok}, Pos: len(prompt) + i, Slots: slots}}, pool, logits); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestChunkedPrefillMatchesOneShot(t *testing.T) {
	for _, c := range []struct{ arch, shape string }{{ArchLlama, "tiny"}, {ArchQwen3, "tiny"}} {
		m := mustLoad(t, writeTemp(t, c.arch, c.shape, false, "bf16"), "f32")
		prompt := []int32{1, 50, 300, 7, 99, 12, 400, 3, 3, 8, 200, 150, 77}
		pool, _ := m.NewKVPool(64, 4)
		one := runChunks(t, m, pool, prompt, contiguous(len(prompt)), []int{len(prompt)})
		pool2, _ := m.NewKVPool(64, 4)
		// Scattered slots: the page table need not be contiguous.
		slots := make([]int32, len(prompt))
		for i := range slots {
			slots[i] = int32(60 - i*3)
		}
		chunked := runChunks(t, m, pool2, prompt, slots, []int{5, 1, 4, 3})
		if d, s := maxAbsDiff(one, chunked); d > 1e-5*s {
			t.Errorf("%s/%s: chunked prefill differs by %g (scale %g)", c.arch, c.shape, d, s)
		}
	}
}

func TestGGUFMatchesSafetensors(t *testing.T) {
	for _, c := range []struct{ arch, shape string }{{ArchLlama, "tiny"}, {ArchLlama, "tiny-llama2"}, {ArchQwen3, "tiny"}} {
		dir := writeTemp(t, c.arch, c.shape, true, "bf16")
		st := mustLoad(t, dir, "f32")
		gg := mustLoad(t, filepath.Join(dir, "model.gguf"), "f32")
		if st.Config().Tied != gg.Config().Tied || st.Config().Vocab != gg.Config().Vocab {
			t.Fatalf("configs differ: %+v vs %+v", st.Config(), gg.Config())
		}
		prompt := []int32{1, 2, 3, 40, 41, 42, 300}
		a, b := greedy(t, st, prompt, 24), greedy(t, gg, prompt, 24)
		if len(a) != len(b) {
			t.Fatal("length")
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s/%s: safetensors %v, gguf %v", c.arch, c.shape, a, b)
			}
		}
		pool, _ := st.NewKVPool(32, 16)
		pool2, _ := gg.NewKVPool(32, 16)
		la := runChunks(t, st, pool, prompt, contiguous(len(prompt)), []int{len(prompt)})
		lb := runChunks(t, gg, pool2, prompt, contiguous(len(prompt)), []int{len(prompt)})
		if d, s := maxAbsDiff(la, lb); d > 1e-5*s {
			t.Errorf("%s/%s: gguf logits differ by %g (scale %g)", c.arch, c.shape, d, s)
		}
		if st.Tokenizer() == nil || gg.Tokenizer() == nil {
			t.Fatal("tokenizer missing")
		}
		text := "Hello, world! 123"
		ea, eb := st.Tokenizer().Encode(text, true), gg.Tokenizer().Encode(text, true)
		if len(ea) != len(eb) {
			t.Fatalf("tokenizers differ: %v vs %v", ea, eb)
		}
		for i := range ea {
			if ea[i] != eb[i] {
				t.Fatalf("tokenizers differ: %v vs %v", ea, eb)
			}
		}
	}
}

func TestGenerateMatchesGreedy(t *testing.T) {
	m := mustLoad(t, filepath.Join("testdata", "llama3-tiny"), "f32")
	g := loadGolden(t, "llama3-tiny")
	c := g.Cases[2]
	var got []int32
	st, err := m.Generate(context.Background(), c.Prompt, GenerateOptions{MaxTokens: goldenSteps, PageSize: 4}, func(tok int32) error {
		got = append(got, tok)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(c.Greedy) || st.NewTokens != goldenSteps {
		t.Fatalf("generate %v (%+v), transformers %v", got, st, c.Greedy)
	}
	// A stop token ends generation before it is emitted.
	got = nil
	st, _ = m.Generate(context.Background(), c.Prompt, GenerateOptions{MaxTokens: goldenSteps, Stop: []int32{c.Greedy[3]}}, func(tok int32) error {
		got = append(got, tok)
		return nil
	})
	if !st.StoppedByToken || fmt.Sprint(got) != fmt.Sprint(c.Greedy[:3]) {
		t.Fatalf("with stop %d: %v %+v", c.Greedy[3], got, st)
	}
}

func TestSampleTemperature(t *testing.T) {
	logits := []float32{0, 1, 2, 0.5}
	rng := rand.New(rand.NewPCG(1, 2))
	if Sample(logits, 0, rng) != 2 {
		t.Fatal("greedy")
	}
	counts := make([]int, 4)
	const n = 20000
	for i := 0; i < n; i++ {
		counts[Sample(logits, 1, rng)]++
	}
	// softmax([0,1,2,0.5]) = [0.0784, 0.2131, 0.5793, 0.1292]
	for i, p := range []float64{0.0784, 0.2131, 0.5793, 0.1292} {
		if got := float64(counts[i]) / n; math.Abs(got-p) > 0.015 {
			t.Errorf("token %d drawn %.4f of the time, want %.4f", i, got, p)
		}
	}
}

// A GGUF whose matrices are ggml Q8_0 or Q4_0 blocks (q/k rows permuted as llama.cpp writes them) loads
// as that type and computes what the safetensors model quantised on load computes, up to the f16
// rounding of the block scales.
func TestGGUFQuantised(t *testing.T) {
	for _, q := range []string{"q8_0", "q4_0"} {
		for _, arch := range []string{ArchLlama, ArchQwen3} {
			dir := filepath.Join(t.TempDir(), arch+q)
			if err := WriteRandom(dir, RandomOptions{Arch: arch, Shape: "tiny", Seed: 3, GGUF: true, GGUFType: q}); err != nil {
				t.Fatal(err)
			}
			gg := mustLoad(t, filepath.Join(dir, "model.gguf"), "")
			st := mustLoad(t, dir, q)
			if gg.WeightType() != q || gg.layers[0].wq.Type.String() != q {
				t.Fatalf("%s %s: GGUF loaded as %s", arch, q, gg.WeightType())
			}
			// Weight by weight: the GGUF's blocks (unpacked, q/k rows restored) equal quantisation on load
			// up to the f16 rounding of each block's scale (2^-11 relative).
			for li := range gg.layers {
				lg, ls := &gg.layers[li], &st.layers[li]
				for wi, pair := range [][2]*kernels.Matrix{{lg.wq, ls.wq}, {lg.wk, ls.wk}, {lg.wv, ls.wv}, {lg.wo, ls.wo},
					{lg.wgate, ls.wgate}, {lg.wup, ls.wup}, {lg.wdown, ls.wdown}} {
					if d := matrixDiff(pair[0], pair[1]); d > 1e-3 {
						t.Fatalf("%s %s layer %d matrix %d: weights differ by %.3g of max|w|", arch, q, li, wi, d)
					}
				}
			}
			if d := matrixDiff(gg.output, st.output); d > 1e-3 {
				t.Fatalf("%s %s: output head differs by %.3g of max|w|", arch, q, d)
			}
			prompt := []int32{507, 1, 2, 3, 40, 41, 42, 300}
			p1, _ := gg.NewKVPool(16, 16)
			p2, _ := st.NewKVPool(16, 16)
			a := runChunks(t, gg, p1, prompt, contiguous(len(prompt)), []int{len(prompt)})
			b := runChunks(t, st, p2, prompt, contiguous(len(prompt)), []int{len(prompt)})
			// These random models amplify perturbations (q8_0 rounding of about 0.5% moves logits by up to
			// 6%), so the scales' 0.05% moves them by about 1.5%.
			if d, s := maxAbsDiff(a, b); d > 0.03*s {
				t.Errorf("%s %s: GGUF and quantised-on-load logits differ by %.3g (max %.3g)", arch, q, d, s)
			}
			// And against f32: the quantisation error stays modest.
			f := mustLoad(t, dir, "f32")
			p3, _ := f.NewKVPool(16, 16)
			c := runChunks(t, f, p3, prompt, contiguous(len(prompt)), []int{len(prompt)})
			d, s := maxAbsDiff(a, c)
			t.Logf("%s %s: GGUF vs f32 max|Δ| %.3g of max|logit| %.3g", arch, q, d/s, s)
		}
	}
}

// matrixDiff is max|a-b| over all weights (dequantised) relative to max|b|.
func matrixDiff(a, b *kernels.Matrix) float64 {
	ra, rb := make([]float32, a.Cols), make([]float32, b.Cols)
	d, s := 0.0, 0.0
	for r := 0; r < a.Rows; r++ {
		kernels.DecodeRow(ra, a, r)
		kernels.DecodeRow(rb, b, r)
		dd, ss := maxAbsDiff(rb, ra)
		d, s = math.Max(d, dd), math.Max(s, ss)
	}
	return d / s
}
