package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

// logPresets are the filters on keys: kube.LogPresets, the table `radix logs --filter` reads, so a key
// and --filter NAME select the same lines.
var logPresets = func() []struct{ action, key, help, re string } {
	out := make([]struct{ action, key, help, re string }, len(kube.LogPresets))
	for i, p := range kube.LogPresets {
		out[i] = struct{ action, key, help, re string }{"preset-" + p.Name, p.Key, p.Help, p.Pattern}
	}
	return out
}()

// sinceKeys are k9s's: 0 tail, 2–6 since 1m, 5m, 15m, 30m, 1h.
var sinceKeys = map[string]time.Duration{"0": 0, "2": time.Minute, "3": 5 * time.Minute, "4": 15 * time.Minute, "5": 30 * time.Minute, "6": time.Hour}

const maxLogBatch = 8192

// logs follows every pod of a deployment, merged, through a bounded ring with a filtered index.
type logs struct {
	sh     *Shared
	id     int
	w, h   int
	dep    kube.Deployment
	cancel context.CancelFunc
	gen    int
	ended  bool

	ring       *logRing
	since      time.Duration
	timestamps bool
	wrap       bool
	follow     bool   // autoscroll: stick to the newest line
	topSeq     uint64 // first line on screen while paused
	fullscreen bool

	filtering bool
	input     textinput.Model
	filter    *filter
	filterErr error
	preset    int // index into logPresets, -1 for none
	presetF   *filter

	cache string
	dirty bool
	// visible is the plain text of the rows on screen, for copy.
	visible []string
}

func newLogs(sh *Shared, d kube.Deployment) *logs {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Cursor.SetMode(cursor.CursorStatic)
	return &logs{sh: sh, id: sh.newID(), dep: d, ring: newLogRing(sh.Opts.LogBuffer), follow: true,
		input: ti, preset: -1, dirty: true}
}

func (v *logs) ID() int          { return v.id }
func (v *logs) Name() string     { return "logs" }
func (v *logs) Capturing() bool  { return v.filtering }
func (v *logs) Fullscreen() bool { return v.fullscreen }
func (v *logs) SetSize(w, h int) { v.w, v.h, v.dirty = w, max(h, 2), true }
func (v *logs) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}
func (v *logs) Title() string                     { return "logs(" + v.dep.Namespace + "/" + v.dep.Name + ")" }
func (v *logs) selected() (kube.Deployment, bool) { return v.dep, true }

func (v *logs) Bindings() []Binding {
	if v.filtering {
		return []Binding{
			{Action: "filter-apply", Keys: []string{"enter"}, Help: "apply filter"},
			{Action: "filter-cancel", Keys: []string{"esc"}, Help: "clear filter"},
		}
	}
	bs := []Binding{
		{Action: "filter", Keys: []string{"/"}, Help: "filter (!inverts)"},
		{Action: "autoscroll", Keys: []string{"s"}, Help: "autoscroll"},
		{Action: "wrap", Keys: []string{"w"}, Help: "wrap"},
		{Action: "timestamps", Keys: []string{"t"}, Help: "timestamps"},
		{Action: "fullscreen", Keys: []string{"f"}, Help: "fullscreen"},
		{Action: "copy", Keys: []string{"c"}, Help: "copy (OSC52)"},
		{Action: "save", Keys: []string{"ctrl+s"}, Help: "save"},
		{Action: "clear-filters", Keys: []string{"x"}, Help: "clear filters"},
	}
	for _, p := range logPresets {
		bs = append(bs, Binding{Action: p.action, Keys: []string{p.key}, Help: p.help})
	}
	for _, k := range []string{"0", "2", "3", "4", "5", "6"} {
		help := "tail"
		if d := sinceKeys[k]; d > 0 {
			help = "since " + shortDur(d)
		}
		bs = append(bs, Binding{Action: "since-" + k, Keys: []string{k}, Help: help, Hidden: k != "0" && k != "3"})
	}
	return append(bs, navBindings()...)
}

func shortDur(d time.Duration) string {
	if d >= time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}

type (
	logStartedMsg struct {
		to
		gen int
		ch  <-chan kube.LogLine
		err error
	}
	logBatchMsg struct {
		to
		gen    int
		lines  []kube.LogLine
		closed bool
		ch     <-chan kube.LogLine
	}
)

func (v *logs) Init() tea.Cmd { return v.start() }

// start (re)opens the stream with the current since; the buffer starts empty.
func (v *logs) start() tea.Cmd {
	v.Close()
	v.gen++
	v.ended = false
	v.ring = newLogRing(v.sh.Opts.LogBuffer)
	v.ring.setFilters([]*filter{v.presetF, v.filter})
	v.dirty = true
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	req := kube.LogRequest{Namespace: v.dep.Namespace, Deployment: v.dep.Name, Follow: true, Since: v.since, Tail: v.sh.Opts.LogTail, Timestamps: true}
	if v.since > 0 {
		req.Tail = -1
	}
	c, id, gen := v.sh.Cluster, v.id, v.gen
	return func() tea.Msg {
		ch, err := c.Logs(ctx, req)
		return logStartedMsg{to: to{id}, gen: gen, ch: ch, err: err}
	}
}

// readLogs waits for one line, then gathers what else arrives within one frame (16 ms, up to
// maxLogBatch lines): a fast stream costs at most about 60 messages and redraws a second, however
// many lines it carries, so following logs never burns the CPU.
func readLogs(id, gen int, ch <-chan kube.LogLine) tea.Cmd {
	return func() tea.Msg {
		l, ok := <-ch
		if !ok {
			return logBatchMsg{to: to{id}, gen: gen, closed: true, ch: ch}
		}
		batch := make([]kube.LogLine, 1, 64)
		batch[0] = l
		frame := time.NewTimer(16 * time.Millisecond)
		defer frame.Stop()
		for len(batch) < maxLogBatch {
			select {
			case l, ok := <-ch:
				if !ok {
					return logBatchMsg{to: to{id}, gen: gen, lines: batch, closed: true, ch: ch}
				}
				batch = append(batch, l)
			case <-frame.C:
				return logBatchMsg{to: to{id}, gen: gen, lines: batch, ch: ch}
			}
		}
		return logBatchMsg{to: to{id}, gen: gen, lines: batch, ch: ch}
	}
}

func (v *logs) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case logStartedMsg:
		if msg.gen != v.gen {
			return nil
		}
		if msg.err != nil {
			v.ended = true
			v.dirty = true
			return flashErr(fmt.Errorf("following logs of %s: %w", v.dep.Name, msg.err))
		}
		return readLogs(v.id, v.gen, msg.ch)
	case logBatchMsg:
		if msg.gen != v.gen {
			return nil
		}
		v.ingest(msg.lines)
		if msg.closed {
			v.ended = true
			v.dirty = true
			return nil
		}
		return readLogs(v.id, v.gen, msg.ch)
	case tea.KeyMsg:
		if v.filtering {
			var cmd tea.Cmd
			v.input, cmd = v.input.Update(msg)
			v.setFilter(v.input.Value())
			return cmd
		}
	case actionMsg:
		return v.action(msg.Action)
	}
	return nil
}

// ingest adds lines to the ring; the screen is marked for redraw only when something visible changed.
func (v *logs) ingest(lines []kube.LogLine) {
	shown := false
	for _, l := range lines {
		if v.ring.push(logEntry{t: l.Time, pod: l.Pod, text: l.Text, err: l.Err}) {
			shown = true
		}
	}
	if shown && v.follow || len(lines) > 0 {
		v.dirty = true // the counters in the title moved even when no new line passes
	}
}

func (v *logs) setFilter(src string) {
	f, err := parseFilter(src)
	v.filterErr = err
	if err == nil {
		v.filter = f
		v.ring.setFilters([]*filter{v.presetF, v.filter})
	}
	v.dirty = true
}

func (v *logs) pageRows() int { return max(v.h-1, 1) }

func (v *logs) action(a string) tea.Cmd {
	v.dirty = true
	n := v.ring.count()
	switch a {
	case "filter":
		v.filtering = true
		v.input.SetValue(srcOf(v.filter))
		v.input.CursorEnd()
		return v.input.Focus()
	case "filter-apply":
		v.filtering = false
		v.input.Blur()
		if v.filterErr != nil {
			return flashErr(v.filterErr)
		}
	case "filter-cancel":
		v.filtering = false
		v.input.Blur()
		v.input.SetValue("")
		v.setFilter("")
	case "clear-filters":
		v.preset, v.presetF = -1, nil
		v.input.SetValue("")
		v.setFilter("")
	case "autoscroll":
		v.follow = !v.follow
		if !v.follow {
			v.topSeq = v.ring.total // nothing passes yet: the next line to arrive is the top
			if n > 0 {
				v.topSeq = v.ring.seqOf(max(n-v.pageRows(), 0))
			}
		}
	case "wrap":
		v.wrap = !v.wrap
	case "timestamps":
		v.timestamps = !v.timestamps
	case "fullscreen":
		v.fullscreen = !v.fullscreen
	case "copy":
		return v.copyVisible()
	case "save":
		return v.save()
	case "up", "down", "pageup", "pagedown", "top", "bottom":
		if n == 0 {
			return nil
		}
		top := max(n-v.pageRows(), 0)
		if !v.follow {
			top = v.ring.position(v.topSeq)
		}
		c, _ := navigate(a, top, n, v.pageRows())
		if a == "bottom" || c >= max(n-v.pageRows(), 0) && (a == "down" || a == "pagedown") {
			v.follow = true
			return nil
		}
		v.follow = false
		v.topSeq = v.ring.seqOf(c)
	default:
		for i, p := range logPresets {
			if a == p.action {
				if v.preset == i {
					v.preset, v.presetF = -1, nil
				} else {
					v.preset = i
					v.presetF, _ = parseFilter(p.re)
				}
				v.ring.setFilters([]*filter{v.presetF, v.filter})
				return nil
			}
		}
		if k, ok := strings.CutPrefix(a, "since-"); ok {
			if d, ok := sinceKeys[k]; ok {
				v.since = d
				v.follow = true
				return v.start()
			}
		}
	}
	return nil
}

// row renders one line as text; styled adds highlighting of matches.
func (v *logs) row(e *logEntry, styled bool) string {
	st := v.sh.Styles
	var sb strings.Builder
	if v.timestamps {
		ts := e.t.Format("15:04:05.000 ")
		if styled {
			ts = st.Dim.Render(ts)
		}
		sb.WriteString(ts)
	}
	pod := shortPod(e.pod, v.dep.Name)
	if styled {
		pod = st.Key.Render(pod)
	}
	sb.WriteString(pod)
	sb.WriteByte(' ')
	text := strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1 // log text must not drive the terminal
		}
		if r == '\t' {
			return ' '
		}
		return r
	}, e.text)
	if !styled {
		sb.WriteString(text)
		return sb.String()
	}
	if e.err {
		sb.WriteString(st.Error.Render(text))
		return sb.String()
	}
	var hl [][]int
	for _, f := range []*filter{v.presetF, v.filter} {
		hl = append(hl, f.highlights(text)...)
	}
	if len(hl) == 0 {
		sb.WriteString(text)
		return sb.String()
	}
	mark := make([]bool, len(text))
	for _, h := range hl {
		for i := h[0]; i < h[1]; i++ {
			mark[i] = true
		}
	}
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && mark[j] == mark[i] {
			j++
		}
		if mark[i] {
			sb.WriteString(st.Match.Render(text[i:j]))
		} else {
			sb.WriteString(text[i:j])
		}
		i = j
	}
	return sb.String()
}

// shortPod drops the deployment prefix of a pod name: sglang-agg-sglangworker-x1 → sglangworker-x1.
func shortPod(pod, dep string) string {
	if s, ok := strings.CutPrefix(pod, dep+"-"); ok {
		return s
	}
	return pod
}

func (v *logs) title() string {
	st := v.sh.Styles
	parts := []string{" " + v.Title()}
	if v.since > 0 {
		parts = append(parts, "since "+shortDur(v.since))
	}
	parts = append(parts, fmt.Sprintf("%d/%d lines", v.ring.count(), v.ring.n))
	if d := v.ring.dropped(); d > 0 {
		parts = append(parts, st.Warn.Render(fmt.Sprintf("%d dropped (buffer %d)", d, v.ring.capacity())))
	}
	if v.preset >= 0 {
		parts = append(parts, st.Key.Render("["+logPresets[v.preset].help+"]"))
	}
	if v.filtering {
		parts = append(parts, v.input.View())
	} else if v.filter != nil {
		parts = append(parts, st.Key.Render("</"+v.filter.src+">"))
	}
	if v.filterErr != nil {
		parts = append(parts, st.Error.Render("bad regex"))
	}
	mode := "following"
	if !v.follow {
		mode = "paused"
	}
	if v.ended {
		mode = "stream ended"
	}
	flags := []string{mode}
	if v.wrap {
		flags = append(flags, "wrap")
	}
	if v.timestamps {
		flags = append(flags, "ts")
	}
	parts = append(parts, st.Dim.Render(strings.Join(flags, " ")))
	return st.Title.Render(parts[0]) + " " + strings.Join(parts[1:], " · ")
}

func (v *logs) View() string {
	if !v.dirty && v.cache != "" {
		return v.cache
	}
	rowsH := v.pageRows()
	n := v.ring.count()
	var rows, plain []string
	if v.follow {
		// Walk back from the newest line until the screen is full.
		for i := n - 1; i >= 0 && len(rows) < rowsH; i-- {
			e := v.ring.get(i)
			r := v.wrapRow(v.row(e, true))
			p := v.row(e, false)
			for k := len(r) - 1; k >= 0 && len(rows) < rowsH; k-- {
				rows = append(rows, r[k])
			}
			plain = append(plain, p)
		}
		reverse(rows)
		reverse(plain)
	} else {
		for i := v.ring.position(v.topSeq); i < n && len(rows) < rowsH; i++ {
			e := v.ring.get(i)
			for _, r := range v.wrapRow(v.row(e, true)) {
				if len(rows) < rowsH {
					rows = append(rows, r)
				}
			}
			plain = append(plain, v.row(e, false))
		}
	}
	if n == 0 {
		msg := "waiting for log lines…"
		if v.ring.n > 0 {
			msg = "no line matches the filter (the whole buffer was searched)"
		}
		rows = append(rows, v.sh.Styles.Dim.Render(" "+msg))
	}
	v.visible = plain
	v.cache = padLines(append([]string{v.title()}, rows...), v.w, v.h)
	v.dirty = false
	return v.cache
}

func (v *logs) wrapRow(s string) []string {
	if !v.wrap || ansi.StringWidth(s) <= v.w {
		return []string{s}
	}
	return strings.Split(ansi.Hardwrap(s, v.w, true), "\n")
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// copyVisible puts the lines on screen on the clipboard with OSC52, which the terminal (not this
// process) handles, so it works over SSH; inside tmux it is wrapped in tmux's passthrough.
func (v *logs) copyVisible() tea.Cmd {
	v.View()
	text := strings.Join(v.visible, "\n")
	n := len(v.visible)
	w := v.sh.Opts.Clipboard
	seq := osc52.New(text)
	if v.sh.Opts.Getenv("TMUX") != "" {
		seq = seq.Tmux()
	} else if strings.HasPrefix(v.sh.Opts.Getenv("TERM"), "screen") {
		seq = seq.Screen()
	}
	return func() tea.Msg {
		if _, err := seq.WriteTo(w); err != nil {
			return flashMsg{text: "copying to the clipboard: " + err.Error(), err: true}
		}
		return flashMsg{text: fmt.Sprintf("copied %d lines to the clipboard (OSC52)", n)}
	}
}

// save writes every line that passes the filters to a file, in a command.
func (v *logs) save() tea.Cmd {
	n := v.ring.count()
	lines := make([]string, 0, n)
	for i := 0; i < n; i++ {
		e := v.ring.get(i)
		lines = append(lines, e.t.UTC().Format(time.RFC3339Nano)+" "+e.pod+" "+e.text)
	}
	dir := v.sh.Opts.SaveDir
	name := fmt.Sprintf("%s-%s-%s.log", v.dep.Namespace, v.dep.Name, v.sh.Opts.Now().UTC().Format("20060102-150405"))
	return func() tea.Msg {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return flashMsg{text: fmt.Sprintf("saving logs: %v", err), err: true}
		}
		return flashMsg{text: fmt.Sprintf("saved %d lines to %s", len(lines), path)}
	}
}
