package tui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

// Wizard steps.
const (
	stepProfile = iota
	stepForm
	stepPreview
	stepProgress
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

type field struct {
	key   string
	input textinput.Model
	err   error
}

// wizard is :deploy — profile, override form validated as typed, preview (YAML, diff, checks),
// apply and progress until ready or failed.
type wizard struct {
	sh     *Shared
	id     int
	w, h   int
	step   int
	cursor int

	profile ProfileChoice
	fields  []field
	focus   int

	preview *kube.Preview
	pane    int // 0 yaml, 1 diff, 2 checks
	offset  int
	busy    bool

	// now, when set, is a profile to deploy with its defaults as soon as the view opens.
	now string

	progress []kube.Progress
	done     bool
	cancel   context.CancelFunc
	gen      int
}

func newWizard(sh *Shared) *wizard { return &wizard{sh: sh, id: sh.newID()} }

func (v *wizard) ID() int          { return v.id }
func (v *wizard) Name() string     { return "deploy" }
func (v *wizard) Title() string    { return "deploy" }
func (v *wizard) Capturing() bool  { return v.step == stepForm }
func (v *wizard) SetSize(w, h int) { v.w, v.h = w, max(h, 4) }
func (v *wizard) Init() tea.Cmd {
	if len(v.sh.Opts.Profiles) == 0 {
		return flashErr(fmt.Errorf("no profiles to deploy: the profile catalog is empty"))
	}
	if v.now != "" {
		return v.deployNow(v.now)
	}
	return nil
}
func (v *wizard) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

func (v *wizard) Bindings() []Binding {
	switch v.step {
	case stepProfile:
		return append([]Binding{{Action: "choose", Keys: []string{"enter"}, Help: "choose profile"}}, navBindings()...)
	case stepForm:
		return []Binding{
			{Action: "preview", Keys: []string{"enter", "ctrl+p"}, Help: "preview"},
			{Action: "next", Keys: []string{"tab", "down"}, Help: "next field"},
			{Action: "prev", Keys: []string{"shift+tab", "up"}, Help: "previous field"},
			{Action: "step-back", Keys: []string{"esc"}, Help: "profiles"},
		}
	case stepPreview:
		return append([]Binding{
			{Action: "apply", Keys: []string{"a"}, Help: "apply", Mutating: true, Needs: kube.ActionDeploy},
			{Action: "pane", Keys: []string{"tab"}, Help: "yaml/diff/checks"},
			{Action: "step-back", Keys: []string{"esc"}, Help: "edit"},
		}, navBindings()...)
	default:
		return []Binding{{Action: "finish", Keys: []string{"esc", "enter"}, Help: "back to deployments"}}
	}
}

type (
	previewMsg struct {
		to
		p   *kube.Preview
		err error
	}
	progressMsg struct {
		to
		gen int
		p   kube.Progress
		ok  bool
		ch  <-chan kube.Progress
	}
	deployStartedMsg struct {
		to
		gen int
		ch  <-chan kube.Progress
		err error
	}
)

func (v *wizard) buildForm() {
	keys := append([]string{"name", "namespace"}, v.sh.Opts.OverrideKeys...)
	v.fields = nil
	for _, k := range keys {
		ti := textinput.New()
		ti.Prompt = ""
		ti.Cursor.SetMode(cursor.CursorStatic)
		ti.Width = 40
		switch k {
		case "name":
			ti.SetValue(v.profile.Defaults["name"])
			if ti.Value() == "" {
				ti.SetValue(v.profile.Name)
			}
		case "namespace":
			ns := v.sh.Namespace
			if ns == "" {
				ns = v.sh.Info.Namespace
			}
			ti.SetValue(ns)
		default:
			ti.SetValue(v.profile.Defaults[k])
		}
		v.fields = append(v.fields, field{key: k, input: ti})
	}
	for i := range v.fields {
		v.validate(i)
	}
	v.focus = 0
	v.fields[0].input.Focus()
}

// validate checks one field as it is typed.
func (v *wizard) validate(i int) {
	f := &v.fields[i]
	val := strings.TrimSpace(f.input.Value())
	f.err = nil
	switch {
	case (f.key == "name" || f.key == "namespace") && val == "":
		f.err = fmt.Errorf("required")
	case f.key == "namespace" || f.key == "name" && v.sh.Opts.ValidateOverride == nil:
		if !dnsLabel.MatchString(val) || len(val) > 63 {
			f.err = fmt.Errorf("a lower-case DNS label: a-z, 0-9 and '-', at most 63")
		}
	case f.key == "name":
		f.err = v.sh.Opts.ValidateOverride(f.key, val)
	default:
		if val != "" && v.sh.Opts.ValidateOverride != nil {
			f.err = v.sh.Opts.ValidateOverride(f.key, val)
		}
	}
}

func (v *wizard) request() kube.DeployRequest {
	req := kube.DeployRequest{Profile: v.profile.Name, Overrides: map[string]string{}, Wait: true, Timeout: 600 * time.Second}
	for _, f := range v.fields {
		val := strings.TrimSpace(f.input.Value())
		switch f.key {
		case "name":
			req.Name = val
		case "namespace":
			req.Namespace = val
		default:
			if val != "" {
				req.Overrides[f.key] = val
			}
		}
	}
	return req
}

func (v *wizard) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case previewMsg:
		v.busy = false
		if msg.err != nil {
			return flashErr(fmt.Errorf("preview: %w", msg.err))
		}
		v.preview, v.step, v.pane, v.offset = msg.p, stepPreview, 0, 0
		if msg.p.Diff != "" {
			v.pane = 1
		}
	case deployStartedMsg:
		if msg.gen != v.gen {
			return nil
		}
		if msg.err != nil {
			v.done = true
			v.progress = append(v.progress, kube.Progress{Phase: "failed", Message: msg.err.Error(), Err: msg.err, Done: true})
			return flashErr(msg.err)
		}
		return nextProgress(v.id, v.gen, msg.ch)
	case progressMsg:
		if msg.gen != v.gen {
			return nil
		}
		if !msg.ok {
			v.done = true
			return nil
		}
		v.progress = append(v.progress, msg.p)
		if msg.p.Done {
			v.done = true
			if msg.p.Err != nil {
				return flashErr(fmt.Errorf("deploy failed: %w", msg.p.Err))
			}
			return flash("deployed: " + msg.p.Message)
		}
		return nextProgress(v.id, v.gen, msg.ch)
	case tea.KeyMsg:
		if v.step == stepForm && len(v.fields) > 0 {
			var cmd tea.Cmd
			v.fields[v.focus].input, cmd = v.fields[v.focus].input.Update(msg)
			v.validate(v.focus)
			return cmd
		}
	case actionMsg:
		return v.action(msg.Action)
	}
	return nil
}

func nextProgress(id, gen int, ch <-chan kube.Progress) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		return progressMsg{to{id}, gen, p, ok, ch}
	}
}

func (v *wizard) action(a string) tea.Cmd {
	switch v.step {
	case stepProfile:
		if c, ok := navigate(a, v.cursor, len(v.sh.Opts.Profiles), v.h-2); ok {
			v.cursor = c
			return nil
		}
		if a == "choose" && v.cursor < len(v.sh.Opts.Profiles) {
			v.profile = v.sh.Opts.Profiles[v.cursor]
			v.step = stepForm
			v.buildForm()
		}
	case stepForm:
		switch a {
		case "next", "prev":
			v.fields[v.focus].input.Blur()
			d := 1
			if a == "prev" {
				d = len(v.fields) - 1
			}
			v.focus = (v.focus + d) % len(v.fields)
			return v.fields[v.focus].input.Focus()
		case "step-back":
			v.step = stepProfile
		case "preview":
			for _, f := range v.fields {
				if f.err != nil {
					return flashErr(fmt.Errorf("%s: %w", f.key, f.err))
				}
			}
			if v.busy {
				return nil
			}
			v.busy = true
			c, req, id := v.sh.Cluster, v.request(), v.id
			req.DryRun = true
			return func() tea.Msg {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				p, err := c.Preview(ctx, req)
				return previewMsg{to{id}, p, err}
			}
		}
	case stepPreview:
		if o, ok := navigate(a, v.offset, 100000, v.h-3); ok {
			v.offset = o
			return nil
		}
		switch a {
		case "pane":
			v.pane, v.offset = (v.pane+1)%3, 0
		case "step-back":
			v.step = stepForm
		case "apply":
			for _, c := range v.preview.Checks {
				if !c.OK && c.Blocking {
					v.pane = 2
					return flashErr(fmt.Errorf("check %s fails: %s — fix: %s", c.Name, c.Message, c.Fix))
				}
			}
			return v.apply()
		}
	case stepProgress:
		if a == "finish" {
			return func() tea.Msg { return popMsg{} }
		}
	}
	return nil
}

// deployNow skips the form and the preview: it deploys profile with its defaults and shows the
// progress, which carries the checks (and what they say about the model) as they run.
func (v *wizard) deployNow(profile string) tea.Cmd {
	for _, p := range v.sh.Opts.Profiles {
		if p.Name == profile {
			v.profile = p
			v.buildForm()
			for _, f := range v.fields {
				if f.err != nil {
					return flashErr(fmt.Errorf("deploy %s: %s: %w", profile, f.key, f.err))
				}
			}
			return v.apply()
		}
	}
	return flashErr(fmt.Errorf("no profile %q to deploy", profile))
}

// apply starts the deploy and switches to the progress step.
func (v *wizard) apply() tea.Cmd {
	v.step = stepProgress
	v.gen++
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	c, req, id, gen := v.sh.Cluster, v.request(), v.id, v.gen
	return func() tea.Msg {
		ch, err := c.Deploy(ctx, req)
		return deployStartedMsg{to{id}, gen, ch, err}
	}
}

func (v *wizard) View() string {
	st := v.sh.Styles
	var lines []string
	switch v.step {
	case stepProfile:
		lines = append(lines, st.Title.Render(" deploy: choose a profile "))
		for i, p := range v.sh.Opts.Profiles {
			line := fmt.Sprintf("  %-32s %s", p.Name, p.Description)
			if i == v.cursor {
				line = st.Selected.Render(padRight(line, v.w))
			}
			lines = append(lines, line)
		}
		if len(v.sh.Opts.Profiles) == 0 {
			lines = append(lines, st.Dim.Render("  no profiles"))
		}
	case stepForm:
		lines = append(lines, st.Title.Render(" deploy "+v.profile.Name+": overrides ")+st.Dim.Render(" (empty = profile default)"))
		kw := 12
		for _, f := range v.fields {
			kw = max(kw, len(f.key)+1)
		}
		for i, f := range v.fields {
			mark := "  "
			if i == v.focus {
				mark = st.Key.Render("> ")
			}
			line := mark + st.Header.Render(fit(f.key, kw, false)) + " " + f.input.View()
			if f.err != nil {
				line += "  " + st.Error.Render("✗ "+ansiFree(f.err.Error()))
			} else if strings.TrimSpace(f.input.Value()) != "" {
				line += "  " + st.Info.Render("✓")
			}
			lines = append(lines, line)
		}
		if v.busy {
			lines = append(lines, "", st.Dim.Render("  rendering preview…"))
		}
	case stepPreview:
		p := v.preview
		tabs := []string{"yaml", "diff", "checks"}
		for i := range tabs {
			if i == v.pane {
				tabs[i] = st.Selected.Render(" " + tabs[i] + " ")
			} else {
				tabs[i] = " " + tabs[i] + " "
			}
		}
		state := "new deployment"
		if p.Exists {
			state = "changes a live deployment"
		}
		lines = append(lines, st.Title.Render(" deploy "+v.request().Name+" ")+strings.Join(tabs, "")+st.Dim.Render("  "+state))
		var body []string
		switch v.pane {
		case 0:
			body = strings.Split(strings.TrimRight(p.Manifest, "\n"), "\n")
		case 1:
			if p.Diff == "" {
				body = []string{st.Dim.Render("no live object to compare with, or no change")}
			}
			for _, l := range strings.Split(strings.TrimRight(p.Diff, "\n"), "\n") {
				switch {
				case strings.HasPrefix(l, "+"):
					l = st.Info.Render(l)
				case strings.HasPrefix(l, "-"):
					l = st.Error.Render(l)
				}
				body = append(body, l)
			}
		case 2:
			for _, c := range p.Checks {
				mark, s := "✓", st.Info
				if !c.OK {
					mark, s = "✗", st.Warn
					if c.Blocking {
						s = st.Error
					}
				}
				body = append(body, s.Render(mark+" "+c.Name)+"  "+ansiFree(c.Message))
				if !c.OK && c.Fix != "" {
					body = append(body, "    fix: "+ansiFree(c.Fix))
				}
			}
			if len(p.Checks) == 0 {
				body = []string{st.Dim.Render("no checks reported")}
			}
		}
		off := min(v.offset, max(len(body)-(v.h-1), 0))
		for _, l := range body[off:] {
			lines = append(lines, " "+l)
		}
	case stepProgress:
		lines = append(lines, st.Title.Render(" deploying "+v.request().Name+" "))
		for _, p := range v.progress {
			s := st.Base
			if p.Err != nil {
				s = st.Error
			} else if p.Done {
				s = st.Info
			}
			// Messages wrap under themselves: a check's finding (say, which model is served) must be
			// readable whole at 80 columns.
			head := fmt.Sprintf("  %s  %-8s ", p.Time.Format("15:04:05"), p.Phase)
			for i, l := range strings.Split(ansi.Wordwrap(ansiFree(p.Message), max(v.w-len(head), 20), " "), "\n") {
				if i > 0 {
					head = strings.Repeat(" ", len(head))
				}
				lines = append(lines, s.Render(head+l))
			}
			if c := p.Check; c != nil {
				mark := "✓"
				if !c.OK {
					mark = "✗"
				}
				lines = append(lines, fmt.Sprintf("      %s %s: %s", mark, c.Name, ansiFree(c.Message)))
				if !c.OK && c.Fix != "" {
					lines = append(lines, "        fix: "+ansiFree(c.Fix))
				}
			}
			for _, pod := range p.Pods {
				if !pod.Ready {
					lines = append(lines, st.Dim.Render(fmt.Sprintf("      %s %s %s", pod.Name, pod.Phase, pod.Reason)))
				}
			}
		}
		if !v.done {
			lines = append(lines, st.Dim.Render("  waiting…"))
		} else {
			hint := "  esc returns to the deployments"
			if last := v.progress[len(v.progress)-1]; last.Err == nil && last.Phase == "ready" {
				hint += ", where c chats with it and l follows its logs"
			}
			lines = append(lines, "", st.Dim.Render(hint))
		}
		if len(lines) > v.h {
			lines = append(lines[:1], lines[len(lines)-v.h+1:]...)
		}
	}
	return padLines(lines, v.w, v.h)
}
