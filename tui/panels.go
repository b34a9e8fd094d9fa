package tui

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

// tickMsg asks a polling view to fetch again; gen ties it to the view's current poll loop.
type tickMsg struct {
	to
	gen int
}

func tickAfter(d time.Duration, id, gen int) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{to{id}, gen} })
}

// gpu is the GPU panel: per node capacity, allocation and holders, DCGM figures when present, and the
// local runtime in the embedded environment. The interface offers no watch for it, so it polls.
type gpu struct {
	sh     *Shared
	id     int
	w, h   int
	gen    int
	rep    *kube.GPUReport
	err    error
	offset int
	cache  string
	dirty  bool
}

func newGPU(sh *Shared) *gpu { return &gpu{sh: sh, id: sh.newID(), dirty: true} }

func (v *gpu) ID() int          { return v.id }
func (v *gpu) Name() string     { return "gpu" }
func (v *gpu) Title() string    { return "gpu" }
func (v *gpu) Capturing() bool  { return false }
func (v *gpu) Close()           { v.gen++ }
func (v *gpu) SetSize(w, h int) { v.w, v.h, v.dirty = w, max(h, 2), true }
func (v *gpu) Bindings() []Binding {
	return append([]Binding{{Action: "refresh", Keys: []string{"r"}, Help: "refresh"}}, navBindings()...)
}

type gpuMsg struct {
	to
	gen int
	rep *kube.GPUReport
	err error
}

func (v *gpu) Init() tea.Cmd { return v.fetch() }

func (v *gpu) fetch() tea.Cmd {
	c, id, gen := v.sh.Cluster, v.id, v.gen
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := c.GPUs(ctx)
		return gpuMsg{to{id}, gen, r, err}
	}
}

func (v *gpu) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case gpuMsg:
		if msg.gen != v.gen {
			return nil
		}
		if !reflect.DeepEqual(msg.rep, v.rep) || (msg.err == nil) != (v.err == nil) {
			v.rep, v.err, v.dirty = msg.rep, msg.err, true
		}
		return tickAfter(v.sh.Opts.RefreshInterval, v.id, v.gen)
	case tickMsg:
		if msg.gen == v.gen {
			return v.fetch()
		}
	case actionMsg:
		if msg.Action == "refresh" {
			v.gen++ // a new poll loop; the old tick is ignored
			return v.fetch()
		}
		if o, ok := navigate(msg.Action, v.offset, 1000, v.h-1); ok {
			v.offset, v.dirty = o, true
		}
	}
	return nil
}

var gpuCols = []col{
	{title: "NODE", min: 12, max: 40}, {title: "POOL", min: 6, max: 24, drop: 4}, {title: "TYPE", min: 6, max: 14, drop: 5},
	{title: "PRODUCT", min: 7, max: 24, drop: 3}, {title: "GPU", min: 3, right: true}, {title: "REQ", min: 3, right: true},
	{title: "FREE", min: 4, right: true}, {title: "UTIL", min: 5, right: true}, {title: "MEM", min: 9, right: true, drop: 1},
	{title: "HOLDERS", min: 8, fill: true},
}

func (v *gpu) View() string {
	if !v.dirty && v.cache != "" {
		return v.cache
	}
	st := v.sh.Styles
	lines := []string{st.Title.Render(" gpu ")}
	switch {
	case v.err != nil:
		lines = append(lines, st.Error.Render(" "+ansiFree(v.err.Error())))
	case v.rep == nil:
		lines = append(lines, st.Dim.Render(" loading…"))
	default:
		var rows [][]string
		tot, req := 0, 0
		for _, n := range v.rep.Nodes {
			util, mem := "-", "-"
			if n.Utilization >= 0 {
				util = fmt.Sprintf("%.0f%%", n.Utilization)
			}
			if n.MemUsedMiB >= 0 && n.MemTotalMiB > 0 {
				mem = fmt.Sprintf("%.1f/%.0fG", n.MemUsedMiB/1024, n.MemTotalMiB/1024)
			}
			tot += n.Allocatable
			req += n.Requested
			rows = append(rows, []string{n.Name, n.Pool, n.InstanceType, n.Product, strconv.Itoa(n.Allocatable),
				strconv.Itoa(n.Requested), strconv.Itoa(n.Allocatable - n.Requested), util, mem, strings.Join(n.Holders, ",")})
		}
		nat := make([]int, len(gpuCols))
		for _, r := range rows {
			for i, c := range r {
				nat[i] = max(nat[i], len(c))
			}
		}
		w := layoutCols(gpuCols, nat, v.w-1)
		var sb strings.Builder
		if len(rows) > 0 || v.rep.Local == nil {
			hdr := make([]string, len(gpuCols))
			for i, c := range gpuCols {
				hdr[i] = c.title
			}
			joinRow(&sb, hdr, gpuCols, w)
			lines = append(lines, st.Header.Render(" "+sb.String()))
		}
		for _, r := range rows {
			sb.Reset()
			joinRow(&sb, r, gpuCols, w)
			lines = append(lines, " "+sb.String())
		}
		if len(v.rep.Nodes) > 0 {
			lines = append(lines, st.Dim.Render(fmt.Sprintf(" %d nodes · %d GPUs · %d requested · %d free", len(v.rep.Nodes), tot, req, tot-req)))
		}
		if l := v.rep.Local; l != nil {
			if len(v.rep.Nodes) == 0 {
				lines = append(lines, st.Warn.Render(" no GPU on this machine — the CPU runtime serves every deployment"))
			}
			kv := func(k, val string) string { return st.Header.Render(fmt.Sprintf("   %-18s", k)) + " " + val }
			pool := "no worker running"
			if l.KVTokens > 0 {
				pool = fmt.Sprintf("%d of %d tokens in use (%.0f%%)", l.KVUsed, l.KVTokens, 100*float64(l.KVUsed)/math.Max(float64(l.KVTokens), 1))
			}
			lines = append(lines, "", st.Title.Render(" local CPU runtime"),
				kv("threads", strconv.Itoa(l.Threads)),
				kv("weights in memory", bytesHuman(l.WeightBytes)),
				kv("KV pool", pool))
		}
		if len(v.rep.Nodes) == 0 && v.rep.Local == nil {
			lines = append(lines, st.Dim.Render(" no GPU nodes found"))
		}
		if v.rep.Note != "" {
			lines = append(lines, "")
			for _, l := range strings.Split(ansi.Wordwrap("note: "+ansiFree(v.rep.Note), max(v.w-2, 20), " "), "\n") {
				lines = append(lines, st.Warn.Render(" "+l))
			}
		}
	}
	off := min(v.offset, max(len(lines)-v.h, 0))
	if off > 0 {
		lines = append(lines[:1], lines[1+off:]...)
	}
	v.cache = padLines(lines, v.w, v.h)
	v.dirty = false
	return v.cache
}

func bytesHuman(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%d B", b)
	}
}

// sparkline draws the last width values scaled to their own range.
func sparkline(vals []float64, width int) string {
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	if width <= 0 {
		return ""
	}
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range vals {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	var sb strings.Builder
	for _, x := range vals {
		i := 0
		if hi > lo {
			i = int((x - lo) / (hi - lo) * float64(len(runes)-1))
		} else if hi > 0 {
			i = len(runes) / 2
		}
		sb.WriteRune(runes[i])
	}
	return sb.String()
}

const historyLen = 120

// series is one worker's recent history of each figure.
type series struct {
	role, source string
	last         kube.WorkerStats
	vals         [6][]float64 // hit rate, token usage, running, queued, throughput, TTFT ms
}

// cache is the prefix-cache panel of one deployment, with a sparkline of each figure per worker.
type cache struct {
	sh     *Shared
	id     int
	w, h   int
	gen    int
	dep    kube.Deployment
	series map[string]*series
	order  []string
	err    error
	offset int
	cacheS string
	dirty  bool
}

func newCache(sh *Shared, d kube.Deployment) *cache {
	return &cache{sh: sh, id: sh.newID(), dep: d, series: map[string]*series{}, dirty: true}
}

func (v *cache) ID() int                           { return v.id }
func (v *cache) Name() string                      { return "cache" }
func (v *cache) Title() string                     { return "cache(" + v.dep.Namespace + "/" + v.dep.Name + ")" }
func (v *cache) Capturing() bool                   { return false }
func (v *cache) Close()                            { v.gen++ }
func (v *cache) SetSize(w, h int)                  { v.w, v.h, v.dirty = w, max(h, 2), true }
func (v *cache) selected() (kube.Deployment, bool) { return v.dep, true }
func (v *cache) Bindings() []Binding {
	return append([]Binding{{Action: "refresh", Keys: []string{"r"}, Help: "refresh"}}, navBindings()...)
}

type statsMsg struct {
	to
	gen   int
	stats []kube.WorkerStats
	err   error
}

func (v *cache) Init() tea.Cmd { return v.fetch() }

func (v *cache) fetch() tea.Cmd {
	c, d, id, gen := v.sh.Cluster, v.dep, v.id, v.gen
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := c.CacheStats(ctx, d.Namespace, d.Name)
		return statsMsg{to{id}, gen, s, err}
	}
}

func (v *cache) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case statsMsg:
		if msg.gen != v.gen {
			return nil
		}
		v.err = msg.err
		v.add(msg.stats)
		v.dirty = true
		return tickAfter(v.sh.Opts.RefreshInterval, v.id, v.gen)
	case tickMsg:
		if msg.gen == v.gen {
			return v.fetch()
		}
	case actionMsg:
		if msg.Action == "refresh" {
			v.gen++
			return v.fetch()
		}
		if o, ok := navigate(msg.Action, v.offset, 1000, v.h-1); ok {
			v.offset, v.dirty = o, true
		}
	}
	return nil
}

// add appends one sample per worker; a sample with the same At as the last is not history.
func (v *cache) add(stats []kube.WorkerStats) {
	for _, s := range stats {
		se := v.series[s.Pod]
		if se == nil {
			se = &series{}
			v.series[s.Pod] = se
			v.order = append(v.order, s.Pod)
		} else if s.At.Equal(se.last.At) && !s.At.IsZero() {
			continue
		}
		se.role, se.source, se.last = s.Role, s.Source, s
		x := [6]float64{s.CacheHitRate, s.TokenUsage, float64(s.Running), float64(s.Queued), s.GenThroughput, float64(s.TTFT) / float64(time.Millisecond)}
		for i := range se.vals {
			se.vals[i] = append(se.vals[i], x[i])
			if len(se.vals[i]) > historyLen {
				se.vals[i] = se.vals[i][1:]
			}
		}
	}
}

// sourceText says where a worker's figures come from: one source, or the load figures from /metrics
// and the cache figures from the log lines (or from nowhere) when /metrics had no cache figure.
func sourceText(l kube.WorkerStats) string {
	switch {
	case l.Role == "frontend" || l.CacheSource == l.Source:
		return "from " + l.Source
	case l.CacheSource == "":
		return "from " + l.Source + ", no cache data"
	}
	return "load from " + l.Source + ", cache from " + l.CacheSource
}

func (v *cache) View() string {
	if !v.dirty && v.cacheS != "" {
		return v.cacheS
	}
	st := v.sh.Styles
	lines := []string{st.Title.Render(" " + v.Title() + " ")}
	if v.err != nil {
		lines = append(lines, st.Error.Render(" "+ansiFree(v.err.Error())))
	}
	if len(v.order) == 0 && v.err == nil {
		lines = append(lines, st.Dim.Render(" no worker statistics yet (workers need --enable-metrics, or SGLang log lines)"))
	}
	names := []string{"hit rate", "token usage", "running", "queued", "gen tok/s", "TTFT"}
	sw := max(v.w-30, 8)
	for _, pod := range v.order {
		se := v.series[pod]
		l := se.last
		cached := ""
		if l.PromptTokens > 0 {
			cached = fmt.Sprintf(" · cached %.0f / prompt %.0f tokens", l.CachedTokens, l.PromptTokens)
		}
		lines = append(lines, st.Header.Render(" "+pod)+st.Dim.Render(fmt.Sprintf(" (%s, %s)%s", se.role, sourceText(l), cached)))
		if l.Role == "frontend" && l.Requests > 0 {
			lines = append(lines, st.Dim.Render(fmt.Sprintf("   %.0f requests, %.0f failed", l.Requests, l.Errors)))
		}
		if l.CacheNote != "" && l.CacheSource != l.Source {
			lines = append(lines, st.Dim.Render("   cache: "+ansiFree(l.CacheNote)))
		}
		vals := []string{fmt.Sprintf("%.1f%%", 100*l.CacheHitRate), fmt.Sprintf("%.1f%%", 100*l.TokenUsage),
			strconv.Itoa(l.Running), strconv.Itoa(l.Queued), fmt.Sprintf("%.1f", l.GenThroughput), l.TTFT.Round(time.Millisecond).String()}
		for i, n := range names {
			lines = append(lines, fmt.Sprintf("   %-12s %9s  ", n, vals[i])+st.Spark.Render(sparkline(se.vals[i], sw)))
		}
	}
	off := min(v.offset, max(len(lines)-v.h, 0))
	if off > 0 {
		lines = append(lines[:1], lines[1+off:]...)
	}
	v.cacheS = padLines(lines, v.w, v.h)
	v.dirty = false
	return v.cacheS
}
