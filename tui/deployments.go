package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

// deployments is the home view: a live table of deployments fed by Cluster.Watch.
type deployments struct {
	sh     *Shared
	id     int
	w, h   int
	cancel context.CancelFunc
	gen    int // watch generation; snapshots of an older watch are dropped

	all    []kube.Deployment
	rows   []kube.Deployment // filtered and sorted
	err    error
	synced bool
	cursor int
	offset int

	filtering bool
	input     textinput.Model
	filter    *filter
	filterErr error

	sortBy   string // name, state, age, gpus
	sortDesc bool

	// cells caches the rendered text of every row; widths the column layout. Both are rebuilt only
	// when rows or size change, so View touches just the visible window.
	cells  [][]string
	widths []int
	cache  string
	dirty  bool
}

func newDeployments(sh *Shared) *deployments {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Cursor.SetMode(cursor.CursorStatic)
	return &deployments{sh: sh, id: sh.newID(), input: ti, sortBy: "name", dirty: true}
}

func (v *deployments) ID() int          { return v.id }
func (v *deployments) Name() string     { return "deployments" }
func (v *deployments) Capturing() bool  { return v.filtering }
func (v *deployments) SetSize(w, h int) { v.w, v.h, v.dirty = w, max(h, 3), true; v.layout() }
func (v *deployments) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

func (v *deployments) Title() string {
	ns := v.sh.Namespace
	if ns == "" {
		ns = "all"
	}
	return fmt.Sprintf("dgd(%s)[%d]", ns, len(v.rows))
}

func (v *deployments) Bindings() []Binding {
	if v.filtering {
		return []Binding{
			{Action: "filter-apply", Keys: []string{"enter"}, Help: "apply filter"},
			{Action: "filter-cancel", Keys: []string{"esc"}, Help: "clear filter"},
		}
	}
	bs := []Binding{
		{Action: "describe", Keys: []string{"enter", "d"}, Help: "describe"},
		{Action: "logs", Keys: []string{"l"}, Help: "logs", Needs: kube.ActionLogs},
		{Action: "yaml", Keys: []string{"y"}, Help: "yaml"},
		{Action: "chat", Keys: []string{"c"}, Help: "chat", Needs: kube.ActionPortForward},
		{Action: "delete", Keys: []string{"ctrl+d"}, Help: "delete", Mutating: true, Needs: kube.ActionDelete},
		{Action: "deploy", Keys: []string{"ctrl+n"}, Help: "deploy", Mutating: true, Needs: kube.ActionDeploy},
	}
	if p := v.sh.Opts.FirstDeploy; p != "" && v.sh.hasProfile(p) {
		bs = append(bs, Binding{Action: "deploy-now", Keys: []string{"n"}, Help: "deploy now", Mutating: true, Needs: kube.ActionDeploy})
	}
	bs = append(bs, []Binding{
		{Action: "filter", Keys: []string{"/"}, Help: "filter"},
		{Action: "all-namespaces", Keys: []string{"0"}, Help: "all namespaces"},
		{Action: "sort-name", Keys: []string{"N"}, Help: "sort by name", Hidden: true},
		{Action: "sort-state", Keys: []string{"S"}, Help: "sort by state", Hidden: true},
		{Action: "sort-age", Keys: []string{"A"}, Help: "sort by age", Hidden: true},
		{Action: "sort-gpus", Keys: []string{"G"}, Help: "sort by GPUs", Hidden: true},
	}...)
	for i, ns := range v.sh.Opts.Favourites {
		if i >= 9 {
			break
		}
		bs = append(bs, Binding{Action: "favourite-" + strconv.Itoa(i+1), Keys: []string{strconv.Itoa(i + 1)}, Help: ns})
	}
	return append(bs, navBindings()...)
}

type (
	rewatchMsg struct {
		to
		gen int
	}
	watchStartedMsg struct {
		to
		gen int
		ch  <-chan kube.Snapshot
		err error
	}
	watchSnapshotMsg struct {
		to
		gen  int
		snap kube.Snapshot
		ok   bool
		c    <-chan kube.Snapshot
	}
)

func (v *deployments) Init() tea.Cmd { return v.watch() }

// watch starts a fresh Watch in a command; the old one, if any, is cancelled.
func (v *deployments) watch() tea.Cmd {
	v.Close()
	v.gen++
	v.synced = false
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	c, ns, id, gen := v.sh.Cluster, v.sh.Namespace, v.id, v.gen
	return func() tea.Msg {
		ch, err := c.Watch(ctx, ns)
		return watchStartedMsg{to: to{id}, gen: gen, ch: ch, err: err}
	}
}

func nextSnapshot(id, gen int, ch <-chan kube.Snapshot) tea.Cmd {
	return func() tea.Msg {
		s, ok := <-ch
		return watchSnapshotMsg{to: to{id}, gen: gen, snap: s, ok: ok, c: ch}
	}
}

func (v *deployments) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case watchStartedMsg:
		if msg.gen != v.gen {
			return nil
		}
		if msg.err != nil {
			v.err = msg.err
			v.dirty = true
			return flashErr(fmt.Errorf("watching deployments: %w", msg.err))
		}
		return nextSnapshot(v.id, v.gen, msg.ch)
	case watchSnapshotMsg:
		if msg.gen != v.gen {
			return nil
		}
		if !msg.ok {
			// The cluster ended the watch (not us: we bump gen when we cancel). Keep the last list
			// on screen, say so, and start a new watch shortly.
			v.err, v.dirty = fmt.Errorf("watch ended; reconnecting"), true
			id, gen := v.id, v.gen
			return tea.Tick(2*time.Second, func(time.Time) tea.Msg { return rewatchMsg{to{id}, gen} })
		}
		v.all, v.err, v.synced = msg.snap.Deployments, msg.snap.Err, true
		v.refresh()
		snap := msg.snap
		return tea.Batch(nextSnapshot(v.id, v.gen, msg.c), func() tea.Msg { return snapshotSeenMsg{snap} })
	case rewatchMsg:
		if msg.gen == v.gen {
			return v.watch()
		}
	case nsChangedMsg:
		v.cursor, v.offset = 0, 0
		v.all, v.rows = nil, nil
		v.refresh()
		return v.watch()
	case actionMsg:
		return v.action(msg.Action)
	case tea.KeyMsg:
		if v.filtering {
			var cmd tea.Cmd
			v.input, cmd = v.input.Update(msg)
			v.setFilter(v.input.Value())
			return cmd
		}
	}
	return nil
}

func (v *deployments) setFilter(src string) {
	f, err := parseFilter(src)
	v.filterErr = err
	if err == nil {
		v.filter = f
	}
	v.refresh()
}

func (v *deployments) action(a string) tea.Cmd {
	if c, ok := navigate(a, v.cursor, len(v.rows), v.h-3); ok {
		v.cursor = c
		v.dirty = true
		return nil
	}
	d, have := v.selected()
	need := func(f func() tea.Cmd) tea.Cmd {
		if !have {
			return flashErr(fmt.Errorf("no deployment selected"))
		}
		return f()
	}
	switch a {
	case "filter":
		v.filtering = true
		v.input.SetValue(srcOf(v.filter))
		v.input.CursorEnd()
		v.dirty = true
		return v.input.Focus()
	case "filter-apply":
		v.filtering = false
		v.input.Blur()
		v.dirty = true
		if v.filterErr != nil {
			return flashErr(v.filterErr)
		}
	case "filter-cancel":
		v.filtering = false
		v.input.Blur()
		v.input.SetValue("")
		v.setFilter("")
	case "describe":
		return need(func() tea.Cmd { return push(newDetail(v.sh, d, false)) })
	case "yaml":
		return need(func() tea.Cmd {
			dv := newDetail(v.sh, d, false)
			dv.yaml = true
			return push(dv)
		})
	case "logs":
		return need(func() tea.Cmd { return push(newLogs(v.sh, d)) })
	case "chat":
		return need(func() tea.Cmd { return push(newChat(v.sh, d)) })
	case "delete":
		return need(func() tea.Cmd { return confirmDelete(v.sh, d) })
	case "deploy":
		return push(newWizard(v.sh))
	case "deploy-now":
		w := newWizard(v.sh)
		w.now = v.sh.Opts.FirstDeploy
		return push(w)
	case "all-namespaces":
		return func() tea.Msg { return switchNSMsg{""} }
	case "sort-name", "sort-state", "sort-age", "sort-gpus":
		by := strings.TrimPrefix(a, "sort-")
		if v.sortBy == by {
			v.sortDesc = !v.sortDesc
		} else {
			v.sortBy, v.sortDesc = by, by == "gpus"
		}
		v.refresh()
	default:
		if n, ok := strings.CutPrefix(a, "favourite-"); ok {
			i, _ := strconv.Atoi(n)
			if i >= 1 && i <= len(v.sh.Opts.Favourites) {
				ns := v.sh.Opts.Favourites[i-1]
				return func() tea.Msg { return switchNSMsg{ns} }
			}
		}
	}
	return nil
}

func srcOf(f *filter) string {
	if f == nil {
		return ""
	}
	return f.src
}

func (v *deployments) selected() (kube.Deployment, bool) {
	if v.cursor < 0 || v.cursor >= len(v.rows) {
		return kube.Deployment{}, false
	}
	return v.rows[v.cursor], true
}

var stateRank = map[kube.State]int{kube.StateFailed: 0, kube.StatePending: 1, kube.StateInitializing: 2, kube.StateDeleting: 3, kube.StateUnknown: 4, kube.StateSuccessful: 5}

// refresh re-filters and re-sorts, keeping the cursor on the same deployment when it survives.
func (v *deployments) refresh() {
	prev, had := v.selected()
	v.rows = v.rows[:0]
	for _, d := range v.all {
		if v.filter == nil || v.filter.match(filterText(d)) {
			v.rows = append(v.rows, d)
		}
	}
	less := func(a, b kube.Deployment) bool {
		switch v.sortBy {
		case "state":
			if stateRank[a.State] != stateRank[b.State] {
				return stateRank[a.State] < stateRank[b.State]
			}
		case "age":
			if !a.Created.Equal(b.Created) {
				return a.Created.After(b.Created)
			}
		case "gpus":
			if a.GPUs != b.GPUs {
				return a.GPUs < b.GPUs
			}
		case "name":
			if a.Name != b.Name {
				return a.Name < b.Name
			}
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	}
	sort.SliceStable(v.rows, func(i, j int) bool {
		if v.sortDesc {
			return less(v.rows[j], v.rows[i])
		}
		return less(v.rows[i], v.rows[j])
	})
	v.cursor = min(v.cursor, max(len(v.rows)-1, 0))
	if had {
		for i, d := range v.rows {
			if d.Name == prev.Name && d.Namespace == prev.Namespace {
				v.cursor = i
				break
			}
		}
	}
	v.buildCells()
	v.layout()
}

// filterText is what `/` matches against: every column a user sees.
func filterText(d kube.Deployment) string {
	return strings.Join([]string{d.Namespace, d.Name, d.Backend, d.Profile, string(d.State), d.Model, d.Message}, " ")
}

var depCols = []col{
	{title: "NAMESPACE", min: 9, max: 20, drop: 2},
	{title: "NAME", min: 12, max: 40},
	{title: "BACKEND", min: 7, drop: 5},
	{title: "PROFILE", min: 8, max: 30, drop: 1},
	{title: "STATE", min: 12},
	{title: "READY", min: 5, max: 16},
	{title: "GPUS", min: 4, right: true},
	{title: "PODS", min: 4, right: true, drop: 6},
	{title: "MODEL", min: 10, max: 40, drop: 3},
	{title: "PAGE", min: 4, right: true, drop: 7},
	{title: "AGE", min: 3, right: true},
	{title: "MESSAGE", min: 10, fill: true, drop: 4},
}

func (v *deployments) buildCells() {
	now := v.sh.Opts.Now()
	v.cells = v.cells[:0]
	for _, d := range v.rows {
		ready := make([]string, 0, len(d.Services))
		for _, s := range d.Services {
			ready = append(ready, fmt.Sprintf("%d/%d", s.Ready, s.Replicas))
		}
		page := ""
		if d.PageSize > 0 {
			page = strconv.Itoa(d.PageSize)
		}
		msg := ""
		if d.State != kube.StateSuccessful {
			msg = d.Message
		}
		v.cells = append(v.cells, []string{d.Namespace, d.Name, d.Backend, d.Profile, string(d.State),
			strings.Join(ready, " "), strconv.Itoa(d.GPUs), strconv.Itoa(d.Pods), d.Model, page,
			age(now.Sub(d.Created)), msg})
	}
	v.dirty = true
}

func (v *deployments) layout() {
	natural := make([]int, len(depCols))
	for _, row := range v.cells {
		for i, c := range row {
			natural[i] = max(natural[i], len(c))
		}
	}
	cols := depCols
	if v.sh.Namespace != "" {
		natural[0] = 0 // one namespace: the column says nothing
	}
	v.widths = layoutCols(cols, natural, v.w)
	if v.sh.Namespace != "" {
		v.widths[0] = 0
		v.widths = layoutCols(cols, natural, v.w+depCols[0].min+gap) // give its room back
		v.widths[0] = 0
	}
	v.dirty = true
}

func (v *deployments) View() string {
	if !v.dirty && v.cache != "" {
		return v.cache
	}
	st := v.sh.Styles
	lines := make([]string, 0, v.h)
	title := " " + v.Title() + " "
	if v.filtering {
		title += v.input.View()
	} else if v.filter != nil {
		title += st.Key.Render("</" + v.filter.src + ">")
	}
	if v.filterErr != nil {
		title += " " + st.Error.Render("bad regex")
	}
	if v.err != nil {
		title += " " + st.Error.Render("watch: "+ansiFree(v.err.Error()))
	}
	lines = append(lines, st.Title.Render(title))
	var sb strings.Builder
	header := make([]string, len(depCols))
	for i, c := range depCols {
		header[i] = c.title
	}
	joinRow(&sb, header, depCols, v.widths)
	lines = append(lines, st.Header.Render(padRight(sb.String(), v.w)))
	// The status line(s): the selected deployment's Ready message when it is not ready — the reason
	// must be readable at 80 columns, where the MESSAGE column is dropped.
	var status []string
	if d, ok := v.selected(); ok && d.State != kube.StateSuccessful && d.Message != "" {
		wrapped := strings.Split(ansi.Wordwrap(fmt.Sprintf(" %s: %s", d.Name, ansiFree(d.Message)), v.w, " "), "\n")
		for _, l := range wrapped[:min(len(wrapped), 2)] {
			status = append(status, st.State(d.State).Render(l))
		}
	} else if ok && d.Note != "" {
		// What is served is worth saying (the demo model standing in for the blueprint's).
		wrapped := strings.Split(ansi.Wordwrap(fmt.Sprintf(" %s: %s", d.Name, ansiFree(d.Note)), v.w, " "), "\n")
		for _, l := range wrapped[:min(len(wrapped), 2)] {
			status = append(status, st.Dim.Render(l))
		}
	}
	rowsH := max(v.h-2-max(len(status), 1), 1)
	v.offset = scrollWindow(v.cursor, v.offset, rowsH, len(v.rows))
	for i := v.offset; i < len(v.rows) && i < v.offset+rowsH; i++ {
		sb.Reset()
		joinRow(&sb, v.cells[i], depCols, v.widths)
		line := padRight(sb.String(), v.w)
		if i == v.cursor {
			line = st.Selected.Render(line)
		} else {
			line = st.State(v.rows[i].State).Render(line)
		}
		lines = append(lines, line)
	}
	switch {
	case !v.synced && v.err == nil:
		lines = append(lines, st.Dim.Render("  waiting for the first snapshot…"))
	case len(v.rows) == 0 && v.filter != nil:
		lines = append(lines, st.Dim.Render("  nothing matches the filter"))
	case len(v.rows) == 0:
		lines = append(lines, v.invitation()...)
	}
	for len(lines) < v.h-max(len(status), 1) {
		lines = append(lines, "")
	}
	lines = append(lines[:v.h-max(len(status), 1)], status...)
	v.cache = padLines(lines, v.w, v.h)
	v.dirty = false
	return v.cache
}

// invitation is what an empty table says: on a fresh machine, the one key that deploys the first
// profile, then the wizard. Keys come from the resolved keymap, so overrides and read-only mode show.
func (v *deployments) invitation() []string {
	st := v.sh.Styles
	keys := map[string]string{}
	for _, b := range v.sh.bindings(v) {
		keys[b.Action] = keyLabel(b.Keys[0])
	}
	now, wizard := keys["deploy-now"], keys["deploy"]
	switch {
	case now != "":
		out := []string{
			"  no deployments here yet — press " + st.Key.Render(now) + " to deploy " + st.Info.Render(v.sh.Opts.FirstDeploy),
			"  with its defaults and watch it come up.",
		}
		if keys["chat"] != "" && keys["logs"] != "" {
			out = append(out, "  Then "+st.Key.Render(keys["chat"])+" chats with it and "+st.Key.Render(keys["logs"])+" follows its logs.")
		}
		if wizard != "" {
			out = append(out, "", st.Dim.Render("  "+wizard+" (or :deploy) chooses a profile and its overrides · 0 all namespaces"))
		}
		return out
	case wizard != "":
		return []string{st.Dim.Render("  no deployments here — " + wizard + " (or :deploy) to create one, 0 for all namespaces")}
	}
	return []string{st.Dim.Render("  no deployments here — 0 for all namespaces")}
}
