package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/radixops/radix/kube"
)

const (
	headerLines = 4
	footerLines = 1
	flashFor    = 5 * time.Second
)

// commands are the `:` verbs, in completion order.
var commands = []string{"dgd", "pods", "logs", "gpu", "cache", "chat", "deploy", "ctx", "ns", "help", "q", "quit"}

// Model is the root bubbletea model. It only routes: keys to the overlay, command line or top view;
// addressed messages to the view they name; and draws the header and footer around the top view.
type Model struct {
	sh    *Shared
	stack []view

	cmdMode bool
	cmdLine textinput.Model
	help    bool
	helpOff int
	confirm *confirmMsg

	flashText string
	flashErr  bool
	flashSeq  int

	namespaces map[string]bool // seen in snapshots; offered by :ns
	quitting   bool
}

// New builds the console for opts.
func New(opts Options) *Model {
	opts.defaults()
	info := opts.Cluster.Info()
	ns := opts.Namespace
	if ns == "" {
		ns = info.Namespace
	}
	if opts.AllNamespaces {
		ns = ""
	}
	sh := &Shared{
		Opts: opts, Cluster: opts.Cluster, Info: info, Namespace: ns,
		Width: 80, Height: 24,
		Styles: NewStyles(DefaultTheme().Merge(opts.Theme), opts.Profile),
		Keys:   NewKeymap(opts.Keymap),
	}
	ti := textinput.New()
	ti.Prompt = ":"
	ti.Cursor.SetMode(cursor.CursorStatic)
	m := &Model{sh: sh, cmdLine: ti, namespaces: map[string]bool{}}
	for _, f := range opts.Favourites {
		m.namespaces[f] = true
	}
	if ns != "" {
		m.namespaces[ns] = true
	}
	m.stack = []view{newDeployments(sh)}
	m.resize()
	if bad := unknownOverrides(opts.Keymap); len(bad) > 0 {
		m.flashText, m.flashErr = fmt.Sprintf("config.yaml keymap: no action named %s (press ? for the actions)", strings.Join(bad, ", ")), true
	}
	return m
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.stack[0].Init(), m.checkPerms())
}

// checkPerms asks the cluster, in a command, which actions are allowed in the current namespace.
func (m *Model) checkPerms() tea.Cmd {
	c, ns := m.sh.Cluster, m.sh.Namespace
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p := map[kube.Action]bool{}
		for _, a := range []kube.Action{kube.ActionDeploy, kube.ActionDelete, kube.ActionLogs, kube.ActionPortForward, kube.ActionCreateSecret} {
			p[a] = c.Allowed(ctx, a, ns)
		}
		return permsMsg{ns: ns, perms: p}
	}
}

func (m *Model) top() view { return m.stack[len(m.stack)-1] }

func (m *Model) bodyHeight() int {
	if fs, ok := m.top().(interface{ Fullscreen() bool }); ok && fs.Fullscreen() {
		return max(m.sh.Height-footerLines, 1)
	}
	return max(m.sh.Height-headerLines-footerLines, 1)
}

func (m *Model) resize() {
	for _, v := range m.stack {
		v.SetSize(m.sh.Width, m.bodyHeight())
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.sh.Width, m.sh.Height = max(msg.Width, 20), max(msg.Height, 6)
		m.resize()
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	case tea.MouseMsg:
		// Only delivered when config.yaml turns the mouse on: the wheel scrolls the top view.
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			return m, m.top().Update(actionMsg{Action: "up"})
		case tea.MouseButtonWheelDown:
			return m, m.top().Update(actionMsg{Action: "down"})
		}
		return m, nil
	case targeted:
		for _, v := range m.stack {
			if v.ID() == msg.target() {
				cmd := v.Update(msg)
				m.resize() // a view may have toggled fullscreen
				return m, cmd
			}
		}
		return m, nil // its view is gone: drop
	case flashMsg:
		m.flashText, m.flashErr = msg.text, msg.err
		m.flashSeq++
		seq := m.flashSeq
		return m, tea.Tick(flashFor, func(time.Time) tea.Msg { return flashExpireMsg{seq} })
	case flashExpireMsg:
		if msg.seq == m.flashSeq {
			m.flashText = ""
		}
		return m, nil
	case pushMsg:
		return m, m.pushView(msg.v)
	case popMsg:
		m.pop()
		return m, nil
	case confirmMsg:
		m.confirm = &msg
		return m, nil
	case permsMsg:
		if msg.ns == m.sh.Namespace {
			m.sh.perms = msg.perms
		}
		return m, nil
	case snapshotSeenMsg:
		for _, d := range msg.snap.Deployments {
			m.namespaces[d.Namespace] = true
		}
		var cmds []tea.Cmd
		for _, v := range m.stack[1:] {
			if l, ok := v.(interface{ snapshot(kube.Snapshot) tea.Cmd }); ok {
				cmds = append(cmds, l.snapshot(msg.snap))
			}
		}
		return m, tea.Batch(cmds...)
	case switchNSMsg:
		return m, m.switchNamespace(msg.ns)
	case switchCtxMsg:
		return m, m.switchContext(msg)
	}
	return m, nil
}

func (m *Model) pushView(v view) tea.Cmd {
	m.stack = append(m.stack, v)
	m.resize()
	return v.Init()
}

func (m *Model) pop() {
	if len(m.stack) == 1 {
		return
	}
	m.top().Close()
	m.stack = m.stack[:len(m.stack)-1]
	m.resize()
}

func (m *Model) popToRoot() {
	for len(m.stack) > 1 {
		m.pop()
	}
}

func (m *Model) switchNamespace(ns string) tea.Cmd {
	m.popToRoot()
	m.sh.Namespace = ns
	if ns != "" {
		m.namespaces[ns] = true
	}
	m.sh.perms = nil
	label := ns
	if ns == "" {
		label = "all namespaces"
	}
	return tea.Batch(m.stack[0].Update(nsChangedMsg{}), m.checkPerms(), flash("namespace: "+label))
}

func (m *Model) switchContext(msg switchCtxMsg) tea.Cmd {
	for len(m.stack) > 0 {
		m.top().Close()
		m.stack = m.stack[:len(m.stack)-1]
	}
	m.sh.Cluster = msg.cluster
	m.sh.Info = msg.cluster.Info()
	if m.sh.Info.Namespace != "" {
		m.sh.Namespace = m.sh.Info.Namespace
	}
	m.sh.perms = nil
	m.namespaces = map[string]bool{m.sh.Namespace: true}
	m.stack = []view{newDeployments(m.sh)}
	m.resize()
	return tea.Batch(m.stack[0].Init(), m.checkPerms(), flash("context: "+msg.name))
}

// globalBindings work in every view unless the view claims the key.
func globalBindings() []Binding {
	return []Binding{
		{Action: "command", Keys: []string{":"}, Help: "command"},
		{Action: "help", Keys: []string{"?"}, Help: "help"},
		{Action: "back", Keys: []string{"esc"}, Help: "back"},
		{Action: "quit", Keys: []string{"ctrl+c"}, Help: "quit", Hidden: true},
	}
}

func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	// Keys typed quickly (or sent over a slow link) can arrive as one message of several runes, like
	// "/rout"; each is a key press, and the first may change where the rest go.
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste {
		var cmds []tea.Cmd
		for _, r := range k.Runes {
			cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}))
		}
		return tea.Batch(cmds...)
	}
	ks := k.String()
	if ks == "ctrl+c" {
		return m.quit()
	}
	if m.confirm != nil {
		c := m.confirm
		switch ks {
		case "y", "Y":
			m.confirm = nil
			return c.yes
		case "n", "N", "esc", "enter", "q":
			m.confirm = nil
			return flash("cancelled")
		}
		return nil
	}
	if m.help {
		switch ks {
		case "down", "j":
			m.helpOff++
		case "up", "k":
			m.helpOff = max(m.helpOff-1, 0)
		default:
			m.help = false
		}
		return nil
	}
	if m.cmdMode {
		return m.commandKey(k)
	}
	v := m.top()
	if b, ok := lookup(m.sh.bindings(v), ks); ok {
		cmd := v.Update(actionMsg{Action: b.Action, Key: ks})
		m.resize()
		return cmd
	}
	if v.Capturing() {
		return v.Update(k)
	}
	if b, ok := lookup(m.sh.Keys.Resolve("global", globalBindings(), nil), ks); ok {
		switch b.Action {
		case "command":
			m.cmdMode = true
			m.cmdLine.SetValue("")
			return m.cmdLine.Focus()
		case "help":
			m.help, m.helpOff = true, 0
		case "back":
			m.pop()
		case "quit":
			return m.quit()
		}
	}
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	for _, v := range m.stack {
		v.Close()
	}
	return tea.Quit
}

func (m *Model) commandKey(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.cmdMode = false
		m.cmdLine.Blur()
		return nil
	case "enter":
		m.cmdMode = false
		m.cmdLine.Blur()
		return m.run(m.cmdLine.Value())
	case "tab":
		m.cmdLine.SetValue(m.complete(m.cmdLine.Value()))
		m.cmdLine.CursorEnd()
		return nil
	}
	var cmd tea.Cmd
	m.cmdLine, cmd = m.cmdLine.Update(k)
	return cmd
}

// candidates lists completions of a partial command line.
func (m *Model) candidates(line string) []string {
	verb, arg, hasArg := strings.Cut(strings.TrimLeft(line, " "), " ")
	var pool []string
	prefix := ""
	if !hasArg {
		pool = commands
		arg = verb
	} else {
		prefix = verb + " "
		switch verb {
		case "ns":
			pool = m.namespaceList()
		case "ctx":
			pool = []string{m.sh.Info.Context, kube.EmbeddedContext}
		}
	}
	var out []string
	for _, p := range pool {
		if strings.HasPrefix(p, arg) {
			out = append(out, prefix+p)
		}
	}
	return out
}

// complete extends line to the longest common prefix of its candidates.
func (m *Model) complete(line string) string {
	c := m.candidates(line)
	if len(c) == 0 {
		return line
	}
	p := c[0]
	for _, s := range c[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	if len(c) == 1 && !strings.Contains(p, " ") && (p == "ns" || p == "ctx") {
		return p + " "
	}
	return p
}

func (m *Model) namespaceList() []string {
	var out []string
	for ns := range m.namespaces {
		if ns != "" {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// selected finds the deployment the user is looking at: the topmost view that has one.
func (m *Model) selected() (kube.Deployment, bool) {
	for i := len(m.stack) - 1; i >= 0; i-- {
		if s, ok := m.stack[i].(interface {
			selected() (kube.Deployment, bool)
		}); ok {
			if d, ok := s.selected(); ok {
				return d, true
			}
		}
	}
	return kube.Deployment{}, false
}

// run executes a `:` command line.
func (m *Model) run(line string) tea.Cmd {
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	needDep := func(open func(kube.Deployment) view) tea.Cmd {
		d, ok := m.selected()
		if !ok {
			return flashErr(fmt.Errorf(":%s needs a deployment: select one in :dgd first", verb))
		}
		return m.pushView(open(d))
	}
	switch verb {
	case "":
		return nil
	case "q", "quit", "q!":
		return m.quit()
	case "dgd", "dgds", "deployments":
		m.popToRoot()
		return nil
	case "pods", "po":
		return needDep(func(d kube.Deployment) view { return newDetail(m.sh, d, true) })
	case "logs":
		return needDep(func(d kube.Deployment) view { return newLogs(m.sh, d) })
	case "cache":
		return needDep(func(d kube.Deployment) view { return newCache(m.sh, d) })
	case "gpu", "gpus":
		return m.pushView(newGPU(m.sh))
	case "chat":
		d, _ := m.selected()
		return m.pushView(newChat(m.sh, d))
	case "deploy":
		if !m.sh.allowed(Binding{Mutating: true, Needs: kube.ActionDeploy}) {
			return flashErr(fmt.Errorf("deploying is not allowed here (read-only or RBAC)"))
		}
		return m.pushView(newWizard(m.sh))
	case "ctx", "context", "contexts":
		if arg != "" {
			return openContext(m.sh, arg)
		}
		return m.pushView(newContexts(m.sh))
	case "ns", "namespace", "namespaces":
		if arg != "" {
			if arg == "all" || arg == "-A" {
				arg = ""
			}
			return m.switchNamespace(arg)
		}
		return m.pushView(newNamespaces(m.sh, m.namespaceList()))
	case "help":
		m.help, m.helpOff = true, 0
		return nil
	}
	return flashErr(fmt.Errorf("unknown command %q; try one of :%s", verb, strings.Join(commands, " :")))
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	var sb strings.Builder
	bh := m.bodyHeight()
	if bh == m.sh.Height-headerLines-footerLines {
		sb.WriteString(m.header())
		sb.WriteByte('\n')
	}
	switch {
	case m.help:
		sb.WriteString(m.helpView(bh))
	case m.confirm != nil:
		sb.WriteString(m.confirmView(bh))
	default:
		sb.WriteString(m.top().View())
	}
	sb.WriteByte('\n')
	sb.WriteString(m.footer())
	return sb.String()
}

func (m *Model) header() string {
	st := m.sh.Styles
	w := m.sh.Width
	ctxName := m.sh.Info.Context
	if m.sh.Info.Embedded && ctxName == "" {
		ctxName = kube.EmbeddedContext
	}
	ns := m.sh.Namespace
	if ns == "" {
		ns = "all"
	}
	ro := ""
	if m.sh.Opts.ReadOnly || m.sh.Info.ReadOnly {
		ro = " [read-only]"
	}
	left := []string{
		st.Header.Render("Context:") + " " + ctxName,
		st.Header.Render("Cluster:") + " " + m.sh.Info.Server,
		st.Header.Render("Namespace:") + " " + ns + ro,
		st.Header.Render("View:") + " " + m.top().Title(),
	}
	leftW := min(max(w/3, 30), w)
	var hints []string
	bs := append(m.sh.bindings(m.top()), m.sh.Keys.Resolve("global", globalBindings(), nil)...)
	seen := map[string]bool{}
	for _, b := range bs {
		if b.Hidden || seen[b.Keys[0]] {
			continue
		}
		seen[b.Keys[0]] = true
		hints = append(hints, st.Key.Render("<"+keyLabel(b.Keys[0])+">")+" "+st.Dim.Render(b.Help))
	}
	const hintW = 22
	cols := max((w-leftW)/hintW, 0)
	lines := make([]string, headerLines)
	for i := range lines {
		lines[i] = padRight(left[i], leftW-1) + " "
		for c := 0; c < cols; c++ {
			if j := c*headerLines + i; j < len(hints) {
				lines[i] += padRight(hints[j], hintW)
			}
		}
		lines[i] = padRight(lines[i], w)
	}
	return strings.Join(lines, "\n")
}

func (m *Model) footer() string {
	st := m.sh.Styles
	w := m.sh.Width
	if m.cmdMode {
		line := m.cmdLine.View()
		if c := m.candidates(m.cmdLine.Value()); len(c) > 1 && len(c) < 12 {
			line += "  " + st.Dim.Render(strings.Join(c, " "))
		}
		return padRight(line, w)
	}
	if m.flashText != "" {
		s := st.Info
		if m.flashErr {
			s = st.Error
		}
		return padRight(s.Render(ansiFree(m.flashText)), w)
	}
	var crumbs []string
	for _, v := range m.stack {
		crumbs = append(crumbs, "<"+v.Name()+">")
	}
	return padRight(st.Dim.Render(strings.Join(crumbs, " ")), w)
}

// ansiFree keeps one line of a message and strips control characters, so a flash cannot break the frame.
func ansiFree(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func (m *Model) helpView(h int) string {
	st := m.sh.Styles
	v := m.top()
	sections := []struct {
		title string
		bs    []Binding
	}{
		{strings.ToUpper(v.Name()), m.sh.bindings(v)},
		{"GENERAL", m.sh.Keys.Resolve("global", globalBindings(), nil)},
	}
	lines := []string{st.Title.Render("Help") + st.Dim.Render("  (any key closes, j/k scroll)")}
	for _, s := range sections {
		lines = append(lines, "", st.Header.Render(s.title))
		for _, b := range s.bs {
			keys := make([]string, len(b.Keys))
			for i, k := range b.Keys {
				keys[i] = keyLabel(k)
			}
			flag := ""
			if b.Mutating {
				flag = st.Warn.Render(" (changes the cluster)")
			}
			lines = append(lines, "  "+st.Key.Render(fit(strings.Join(keys, " "), 16, false))+" "+b.Help+flag)
		}
	}
	if v.Name() == "deployments" || v.Name() == "detail" {
		lines = append(lines, "", st.Header.Render("COMMANDS"), "  :"+strings.Join(commands, " :"))
	}
	off := min(m.helpOff, max(len(lines)-h, 0))
	return padLines(lines[off:], m.sh.Width, h)
}

func (m *Model) confirmView(h int) string {
	st := m.sh.Styles
	lines := []string{""}
	for _, l := range strings.Split(m.confirm.prompt, "\n") {
		lines = append(lines, "  "+l)
	}
	lines = append(lines, "", "  "+st.Warn.Render("Press y to confirm, n or esc to cancel."))
	lines[1] = "  " + st.Error.Render(strings.TrimPrefix(lines[1], "  "))
	return padLines(lines, m.sh.Width, h)
}

// nsChangedMsg tells the root view the namespace changed.
type nsChangedMsg struct{}
