package tui

import (
	"fmt"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/radixops/radix/kube"
	"github.com/radixops/radix/kube/kubefake"
)

func benchShared(b *testing.B, c kube.Cluster) *Model {
	b.Helper()
	m := New(Options{Cluster: c, Profile: termenv.TrueColor, Now: func() time.Time { return testNow }, RefreshInterval: time.Hour})
	m.Update(teaSize(200, 60))
	return m
}

// fleet makes n deployments with pods pods each, spread over 20 namespaces.
func fleet(n, pods int) []kube.Deployment {
	out := make([]kube.Deployment, n)
	states := []kube.State{kube.StateSuccessful, kube.StateSuccessful, kube.StateSuccessful, kube.StatePending, kube.StateFailed}
	for i := range out {
		out[i] = kube.Deployment{
			Name: fmt.Sprintf("dgd-%04d", i), Namespace: fmt.Sprintf("team-%02d", i%20), Backend: "sglang",
			Profile: "sglang-disaggregated-default", State: states[i%len(states)], Message: "Resources not ready: x: ImagePullBackOff",
			Services: []kube.Service{{Name: "Frontend", Replicas: 1, Ready: 1}, {Name: "SGLangDecodeWorker", Replicas: 2, Ready: 2, GPUs: 1}, {Name: "SGLangPrefillWorker", Replicas: 2, Ready: 1, GPUs: 1}},
			Model:    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", PageSize: 16, GPUs: 4, Pods: pods,
			Created: testNow.Add(-time.Duration(i) * time.Minute),
		}
	}
	return out
}

func benchDeploymentsView(b *testing.B, n int) {
	m := benchShared(b, kubefake.New(kube.Info{}))
	m.sh.Namespace = ""
	v := m.stack[0].(*deployments)
	v.Update(watchSnapshotMsg{to: to{v.id}, gen: v.gen, snap: kube.Snapshot{Deployments: fleet(n, 5)}, ok: true, c: make(chan kube.Snapshot)})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.dirty = true // a full redraw every time: the worst case, e.g. on every cursor move
		_ = m.View()
	}
}

// BenchmarkDeploymentsView: View() of the table, 1,000 deployments with 5 pods each (5,000 pods),
// against a 10-deployment baseline in the same run. Target ≤ 5 ms.
func BenchmarkDeploymentsView(b *testing.B) {
	b.Run("baseline-10", func(b *testing.B) { benchDeploymentsView(b, 10) })
	b.Run("1000-deployments-5000-pods", func(b *testing.B) { benchDeploymentsView(b, 1000) })
}

// BenchmarkDeploymentsSnapshot: taking in a new 1,000-deployment snapshot (filter, sort, cells).
func BenchmarkDeploymentsSnapshot(b *testing.B) {
	m := benchShared(b, kubefake.New(kube.Info{}))
	v := m.stack[0].(*deployments)
	v.setFilter("team-0[1-5]|failed")
	snap := kube.Snapshot{Deployments: fleet(1000, 5)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v.Update(watchSnapshotMsg{to: to{v.id}, gen: v.gen, snap: snap, ok: true, c: make(chan kube.Snapshot)})
		_ = m.View()
	}
}

func logLines(n int) []kube.LogLine {
	texts := []string{
		"Decode batch. #running-req: 7, #token: 3709, token usage: 0.02, cuda graph: True, gen throughput (token/s): 45.91, #queue-req: 0, ",
		"Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, ",
		`INFO:     10.0.17.4:51234 - "POST /v1/chat/completions HTTP/1.1" 200 OK`,
		"KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487",
	}
	out := make([]kube.LogLine, n)
	for i := range out {
		out[i] = kube.LogLine{Time: testNow.Add(time.Duration(i)), Pod: "dgd-sglangdecodeworker-abc12", Text: texts[i%len(texts)]}
	}
	return out
}

func benchLogIngest(b *testing.B, filterSrc string) {
	const total, batch = 100000, 1000
	lines := logLines(total)
	b.ReportAllocs()
	var v *logs
	for i := 0; i < b.N; i++ {
		m := benchShared(b, kubefake.New(kube.Info{}))
		v = newLogs(m.sh, kube.Deployment{Name: "dgd"})
		v.SetSize(200, 56)
		v.setFilter(filterSrc)
		for off := 0; off < total; off += batch {
			v.Update(logBatchMsg{to: to{v.id}, gen: v.gen, lines: lines[off : off+batch]})
			_ = v.View() // a frame per batch, as the program would draw
		}
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(v.ring.n), "lines-held")
	b.ReportMetric(float64(v.ring.dropped()), "lines-dropped")
}

// BenchmarkLogIngest: 100,000 lines through a 50,000-line buffer with a regex filter active, against
// the same without a filter. Target ≥ 50,000 lines/s; memory bounded by the buffer (lines-held).
func BenchmarkLogIngest(b *testing.B) {
	b.Run("baseline-no-filter", func(b *testing.B) { benchLogIngest(b, "") })
	b.Run("regex-filter", func(b *testing.B) { benchLogIngest(b, `cached-token: [1-9]\d*|retract|token usage: 0\.[5-9]`) })
}

// BenchmarkKeystrokeToFrame: a key press (toggle timestamps, which forces a full redraw) and the
// frame after it, while logs stream at 5,000 lines/s (83 lines arrive between 60 Hz frames) with a
// filter active; baseline: the same key with no stream.
func BenchmarkKeystrokeToFrame(b *testing.B) {
	run := func(b *testing.B, perFrame int) {
		m := benchShared(b, kubefake.New(kube.Info{}))
		v := newLogs(m.sh, kube.Deployment{Name: "dgd"})
		m.stack = append(m.stack, v)
		m.resize()
		v.setFilter("batch")
		lines := logLines(60000)
		v.Update(logBatchMsg{to: to{v.id}, gen: v.gen, lines: lines[:50000]}) // a full buffer
		key := keyMsg("t")
		off := 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if perFrame > 0 {
				b.StopTimer()
				if off+perFrame > len(lines) {
					off = 0
				}
				m.Update(logBatchMsg{to: to{v.id}, gen: v.gen, lines: lines[off : off+perFrame]})
				_ = m.View()
				off += perFrame
				b.StartTimer()
			}
			m.Update(key)
			_ = m.View()
		}
	}
	b.Run("baseline-idle", func(b *testing.B) { run(b, 0) })
	b.Run("streaming-5000-lines-per-s", func(b *testing.B) { run(b, 5000/60) })
}
