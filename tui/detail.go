package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

// detail is one deployment: services, pods, conditions and events, or (y) its rendered manifest.
type detail struct {
	sh     *Shared
	id     int
	w, h   int
	dep    kube.Deployment
	det    *kube.Detail
	err    error
	yaml   bool
	pods   bool // opened from :pods: start scrolled to the pods
	offset int
	gen    int
	lines  []string
	dirty  bool
}

func newDetail(sh *Shared, d kube.Deployment, pods bool) *detail {
	return &detail{sh: sh, id: sh.newID(), dep: d, pods: pods, dirty: true}
}

func (v *detail) ID() int          { return v.id }
func (v *detail) Name() string     { return "detail" }
func (v *detail) Capturing() bool  { return false }
func (v *detail) Close()           {}
func (v *detail) SetSize(w, h int) { v.w, v.h, v.dirty = w, max(h, 2), true }
func (v *detail) Title() string {
	if v.yaml {
		return "yaml(" + v.dep.Namespace + "/" + v.dep.Name + ")"
	}
	return "describe(" + v.dep.Namespace + "/" + v.dep.Name + ")"
}

func (v *detail) selected() (kube.Deployment, bool) { return v.dep, true }

func (v *detail) Bindings() []Binding {
	help := "yaml"
	if v.yaml {
		help = "describe"
	}
	return append([]Binding{
		{Action: "yaml", Keys: []string{"y"}, Help: help},
		{Action: "logs", Keys: []string{"l"}, Help: "logs", Needs: kube.ActionLogs},
		{Action: "chat", Keys: []string{"c"}, Help: "chat", Needs: kube.ActionPortForward},
		{Action: "cache", Keys: []string{"p"}, Help: "prefix cache"},
		{Action: "refresh", Keys: []string{"r"}, Help: "refresh"},
		{Action: "delete", Keys: []string{"ctrl+d"}, Help: "delete", Mutating: true, Needs: kube.ActionDelete},
	}, navBindings()...)
}

type describedMsg struct {
	to
	gen int
	det *kube.Detail
	err error
}

func (v *detail) Init() tea.Cmd { return v.fetch() }

func (v *detail) fetch() tea.Cmd {
	v.gen++
	c, d, id, gen := v.sh.Cluster, v.dep, v.id, v.gen
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		det, err := c.Describe(ctx, d.Namespace, d.Name)
		return describedMsg{to: to{id}, gen: gen, det: det, err: err}
	}
}

// snapshot re-describes when the watch shows this deployment changed.
func (v *detail) snapshot(s kube.Snapshot) tea.Cmd {
	for _, d := range s.Deployments {
		if d.Name == v.dep.Name && d.Namespace == v.dep.Namespace {
			if !sameDeployment(d, v.dep) {
				v.dep = d
				return v.fetch()
			}
			return nil
		}
	}
	return nil
}

func sameDeployment(a, b kube.Deployment) bool {
	if a.State != b.State || a.Message != b.Message || a.Pods != b.Pods || len(a.Services) != len(b.Services) {
		return false
	}
	for i := range a.Services {
		if a.Services[i] != b.Services[i] {
			return false
		}
	}
	return true
}

func (v *detail) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case describedMsg:
		if msg.gen != v.gen {
			return nil
		}
		v.err = msg.err
		if msg.err == nil {
			v.det = msg.det
			v.dep = msg.det.Deployment
		}
		v.dirty = true
		if msg.err != nil {
			return flashErr(fmt.Errorf("describing %s: %w", v.dep.Name, msg.err))
		}
		if v.pods {
			v.pods = false
			v.build()
			for i, l := range v.lines {
				if strings.Contains(l, "PODS") {
					v.offset = i
					break
				}
			}
		}
	case actionMsg:
		if o, ok := navigate(msg.Action, v.offset, len(v.lines), v.h-1); ok {
			v.offset = o
			v.dirty = true
			return nil
		}
		switch msg.Action {
		case "yaml":
			v.yaml = !v.yaml
			v.offset = 0
			v.dirty = true
		case "logs":
			return push(newLogs(v.sh, v.dep))
		case "chat":
			return push(newChat(v.sh, v.dep))
		case "cache":
			return push(newCache(v.sh, v.dep))
		case "refresh":
			return v.fetch()
		case "delete":
			return confirmDelete(v.sh, v.dep)
		}
	}
	return nil
}

func (v *detail) build() {
	st := v.sh.Styles
	now := v.sh.Opts.Now()
	var l []string
	add := func(s ...string) { l = append(l, s...) }
	if v.det == nil {
		if v.err != nil {
			add(st.Error.Render(" " + ansiFree(v.err.Error())))
		} else {
			add(st.Dim.Render(" loading…"))
		}
		v.lines = l
		return
	}
	if v.yaml {
		for _, s := range strings.Split(strings.TrimRight(v.det.Manifest, "\n"), "\n") {
			add(" " + s)
		}
		v.lines = l
		return
	}
	d := v.det.Deployment
	kv := func(k, val string) string { return st.Header.Render(fmt.Sprintf(" %-10s", k)) + " " + val }
	add(kv("Name:", d.Namespace+"/"+d.Name),
		kv("State:", st.State(d.State).Render(string(d.State))+"  "+d.Reason),
		kv("Profile:", d.Profile+"  ("+d.Backend+")"),
		kv("Model:", d.Model+"  page size "+strconv.Itoa(d.PageSize)+"  GPUs "+strconv.Itoa(d.GPUs)),
		kv("Age:", age(now.Sub(d.Created))))
	if d.Message != "" {
		add(kv("Message:", ansiFree(d.Message)))
	}
	if d.Note != "" {
		for i, l := range strings.Split(ansi.Wordwrap(ansiFree(d.Note), max(v.w-13, 20), " "), "\n") {
			k := ""
			if i == 0 {
				k = "Note:"
			}
			add(kv(k, st.Warn.Render(l)))
		}
	}
	table := func(title string, cols []col, rows [][]string) {
		add("", st.Title.Render(" "+title))
		nat := make([]int, len(cols))
		for _, r := range rows {
			for i, c := range r {
				nat[i] = max(nat[i], len(c))
			}
		}
		w := layoutCols(cols, nat, v.w-1)
		var sb strings.Builder
		hdr := make([]string, len(cols))
		for i, c := range cols {
			hdr[i] = c.title
		}
		joinRow(&sb, hdr, cols, w)
		add(st.Header.Render(" " + sb.String()))
		for _, r := range rows {
			sb.Reset()
			joinRow(&sb, r, cols, w)
			add(" " + sb.String())
		}
		if len(rows) == 0 {
			add(st.Dim.Render(" none"))
		}
	}
	var svc [][]string
	for _, s := range d.Services {
		svc = append(svc, []string{s.Name, s.ComponentType, s.SubType, fmt.Sprintf("%d/%d", s.Ready, s.Replicas), strconv.Itoa(s.GPUs), s.Args})
	}
	table("SERVICES", []col{{title: "NAME", min: 8}, {title: "TYPE", min: 4}, {title: "SUB", min: 3, drop: 2},
		{title: "READY", min: 5}, {title: "GPU", min: 3, right: true}, {title: "ARGS", min: 10, fill: true, drop: 1}}, svc)
	if len(v.det.Components) > 0 {
		var comps [][]string
		for _, c := range v.det.Components {
			dcd, dep, cond := "missing", "none", ""
			if c.Exists {
				dcd = "yes"
			}
			if c.Desired >= 0 {
				dep = fmt.Sprintf("%d/%d", c.Ready, c.Desired)
			}
			for _, x := range c.Conditions {
				if x.Status != "True" {
					cond = strings.TrimSpace(x.Type + " " + x.Reason + ": " + ansiFree(x.Message))
					break
				}
			}
			comps = append(comps, []string{c.Service, c.Name, dcd, dep, cond})
		}
		table("COMPONENTS", []col{{title: "SERVICE", min: 7}, {title: "DCD / DEPLOYMENT", min: 16, max: 48}, {title: "DCD", min: 3},
			{title: "READY", min: 5}, {title: "NOT READY BECAUSE", min: 10, fill: true, drop: 1}}, comps)
	}
	var pods [][]string
	for _, p := range v.det.Pods {
		ready := "0/1"
		if p.Ready {
			ready = "1/1"
		}
		pods = append(pods, []string{shortPod(p.Name, d.Name), p.Component, p.Phase, ready, strconv.Itoa(p.Restarts), p.Node,
			strconv.Itoa(p.GPUs), age(now.Sub(p.Created)), p.Reason, p.LastTermination})
	}
	table("PODS", []col{{title: "NAME", min: 12, max: 48}, {title: "COMPONENT", min: 9, max: 20, drop: 3}, {title: "PHASE", min: 7},
		{title: "READY", min: 5}, {title: "RESTARTS", min: 8, right: true, drop: 4}, {title: "NODE", min: 10, max: 28, drop: 2},
		{title: "GPU", min: 3, right: true}, {title: "AGE", min: 3, right: true}, {title: "REASON", min: 6, max: 20},
		{title: "LAST TERMINATION", min: 10, fill: true, drop: 1}}, pods)
	var conds [][]string
	for _, c := range v.det.Conditions {
		conds = append(conds, []string{c.Type, c.Status, c.Reason, age(now.Sub(c.LastTransition)), ansiFree(c.Message)})
	}
	table("CONDITIONS", []col{{title: "TYPE", min: 4}, {title: "STATUS", min: 6}, {title: "REASON", min: 6, max: 32},
		{title: "AGE", min: 3, right: true}, {title: "MESSAGE", min: 10, fill: true}}, conds)
	var evs [][]string
	for i := len(v.det.Events) - 1; i >= 0 && len(evs) < 20; i-- { // newest first
		e := v.det.Events[i]
		evs = append(evs, []string{age(now.Sub(e.Time)), e.Type, e.Reason, e.Object, strconv.Itoa(e.Count), ansiFree(e.Message)})
	}
	table("EVENTS", []col{{title: "AGE", min: 3, right: true}, {title: "TYPE", min: 7}, {title: "REASON", min: 6, max: 24},
		{title: "OBJECT", min: 8, max: 40, drop: 1}, {title: "COUNT", min: 5, right: true, drop: 2}, {title: "MESSAGE", min: 10, fill: true}}, evs)
	v.lines = l
}

func (v *detail) View() string {
	if v.dirty {
		v.build()
		v.dirty = false
	}
	v.offset = min(v.offset, max(len(v.lines)-v.h+1, 0))
	title := v.sh.Styles.Title.Render(" " + v.Title() + " ")
	end := min(v.offset+v.h-1, len(v.lines))
	return padLines(append([]string{title}, v.lines[v.offset:end]...), v.w, v.h)
}

// confirmDelete asks before deleting, naming everything that goes.
func confirmDelete(sh *Shared, d kube.Deployment) tea.Cmd {
	var svc []string
	for _, s := range d.Services {
		svc = append(svc, fmt.Sprintf("%s ×%d", s.Name, s.Replicas))
	}
	prompt := fmt.Sprintf("Delete DynamoGraphDeployment %s/%s?\n\nThis removes its %d services (%s),\nits %d pods and frees %d GPUs. The model weights cache is kept.",
		d.Namespace, d.Name, len(d.Services), strings.Join(svc, ", "), d.Pods, d.GPUs)
	c := sh.Cluster
	del := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		ch, err := c.Delete(ctx, d.Namespace, d.Name, true)
		if err != nil {
			return flashMsg{text: fmt.Sprintf("deleting %s: %v", d.Name, err), err: true}
		}
		var last kube.Progress
		for p := range ch {
			last = p
		}
		if last.Err != nil {
			return flashMsg{text: fmt.Sprintf("deleting %s: %v", d.Name, last.Err), err: true}
		}
		return flashMsg{text: d.Name + " deleted"}
	}
	return func() tea.Msg {
		return confirmMsg{prompt: prompt, yes: tea.Batch(flash("deleting "+d.Namespace+"/"+d.Name+"…"), del)}
	}
}
