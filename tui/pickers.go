package tui

import (
	"context"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/radixops/radix/kube"
)

// picker is a list to choose one item from: contexts and namespaces.
type picker struct {
	sh     *Shared
	id     int
	w, h   int
	name   string
	title  string
	items  []string
	marked string // the current one
	cursor int
	err    error
	choose func(string) tea.Cmd
	load   tea.Cmd
}

func (v *picker) ID() int          { return v.id }
func (v *picker) Name() string     { return v.name }
func (v *picker) Title() string    { return v.title }
func (v *picker) Capturing() bool  { return false }
func (v *picker) Close()           {}
func (v *picker) SetSize(w, h int) { v.w, v.h = w, max(h, 2) }
func (v *picker) Init() tea.Cmd    { return v.load }
func (v *picker) Bindings() []Binding {
	return append([]Binding{{Action: "choose", Keys: []string{"enter"}, Help: "use"}}, navBindings()...)
}

type itemsMsg struct {
	to
	items []string
	err   error
}

func (v *picker) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case itemsMsg:
		v.err = msg.err
		for _, it := range msg.items {
			if !contains(v.items, it) {
				v.items = append(v.items, it)
			}
		}
		if msg.err != nil {
			return flashErr(msg.err)
		}
	case actionMsg:
		if c, ok := navigate(msg.Action, v.cursor, len(v.items), v.h-2); ok {
			v.cursor = c
			return nil
		}
		if msg.Action == "choose" && v.cursor < len(v.items) {
			return v.choose(v.items[v.cursor])
		}
	}
	return nil
}

func (v *picker) View() string {
	st := v.sh.Styles
	lines := []string{st.Title.Render(fmt.Sprintf(" %s[%d] ", v.title, len(v.items)))}
	off := scrollWindow(v.cursor, 0, v.h-1, len(v.items))
	for i := off; i < len(v.items) && len(lines) < v.h; i++ {
		mark := "  "
		if v.items[i] == v.marked {
			mark = "* "
		}
		line := mark + v.items[i]
		if i == v.cursor {
			line = st.Selected.Render(padRight(line, v.w))
		}
		lines = append(lines, line)
	}
	if v.err != nil {
		lines = append(lines, st.Error.Render(" "+ansiFree(v.err.Error())))
	}
	return padLines(lines, v.w, v.h)
}

// newContexts lists kubeconfig contexts (read in a command) and the embedded environment.
func newContexts(sh *Shared) *picker {
	v := &picker{sh: sh, id: sh.newID(), name: "contexts", title: "contexts", marked: sh.Info.Context}
	v.items = []string{kube.EmbeddedContext}
	if sh.Info.Context != "" && sh.Info.Context != kube.EmbeddedContext {
		v.items = append([]string{sh.Info.Context}, v.items...)
	}
	v.choose = func(name string) tea.Cmd { return openContext(sh, name) }
	if list := sh.Opts.Contexts; list != nil {
		id := v.id
		v.load = func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			items, err := list(ctx)
			if err != nil {
				err = fmt.Errorf("listing contexts: %w", err)
			}
			return itemsMsg{to{id}, items, err}
		}
	}
	return v
}

// openContext switches to a context in a command.
func openContext(sh *Shared, name string) tea.Cmd {
	sw := sh.Opts.SwitchContext
	if sw == nil {
		return flashErr(fmt.Errorf("switching contexts is not available here"))
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := sw(ctx, name)
		if err != nil {
			return flashMsg{text: fmt.Sprintf("opening context %s: %v", name, err), err: true}
		}
		return switchCtxMsg{cluster: c, name: name}
	}
}

// newNamespaces lists namespaces seen so far, favourites first, and "all".
func newNamespaces(sh *Shared, seen []string) *picker {
	v := &picker{sh: sh, id: sh.newID(), name: "namespaces", title: "namespaces", marked: sh.Namespace}
	v.items = append(v.items, sh.Opts.Favourites...)
	for _, ns := range seen {
		if !contains(v.items, ns) {
			v.items = append(v.items, ns)
		}
	}
	v.items = append(v.items, "all")
	if sh.Namespace == "" {
		v.marked = "all"
	}
	v.choose = func(ns string) tea.Cmd {
		if ns == "all" {
			ns = ""
		}
		return func() tea.Msg { return switchNSMsg{ns} }
	}
	// Namespaces with deployments elsewhere are learnt from one all-namespace snapshot.
	c, id := sh.Cluster, v.id
	v.load = func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ch, err := c.Watch(ctx, "")
		if err != nil {
			return itemsMsg{to: to{id}, err: fmt.Errorf("listing namespaces: %w", err)}
		}
		var items []string
		if s, ok := <-ch; ok {
			for _, d := range s.Deployments {
				if !contains(items, d.Namespace) {
					items = append(items, d.Namespace)
				}
			}
		}
		return itemsMsg{to: to{id}, items: items}
	}
	return v
}
