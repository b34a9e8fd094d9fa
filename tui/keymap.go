package tui

import (
	"slices"
	"strings"

	"github.com/radixops/radix/kube"
)

// Binding ties keys to one action of a view. Bindings are data: the header hints, the help screen,
// read-only mode, RBAC and config.yaml overrides all work on them, so help cannot drift from behaviour.
type Binding struct {
	Action   string      // stable name, the key of config.yaml's keymap section, e.g. "logs"
	Keys     []string    // bubbletea key names: "l", "ctrl+d", "enter", "N"
	Help     string      // short description shown in the header and in help
	Hidden   bool        // works and is listed in help, but not advertised in the header
	Mutating bool        // changes the cluster: removed in read-only mode
	Needs    kube.Action // permission the action needs ("" for none); removed when Allowed says no
}

// Keymap applies user overrides (action → keys) to a view's default bindings and filters them by
// permission. An override may name "view.action" to rebind in one view only, or "action" for all.
type Keymap struct {
	overrides map[string][]string
}

// NewKeymap returns a keymap with the given overrides; nil means the defaults.
func NewKeymap(overrides map[string][]string) *Keymap {
	o := make(map[string][]string, len(overrides))
	for k, v := range overrides {
		o[strings.ToLower(k)] = slices.Clone(v)
	}
	return &Keymap{overrides: o}
}

// Resolve returns the bindings a view offers now: defaults with overrides applied, minus those
// allowed rejects. A key claimed by an override is taken away from any other binding of the view.
func (k *Keymap) Resolve(view string, defaults []Binding, allowed func(Binding) bool) []Binding {
	out := make([]Binding, 0, len(defaults))
	claimed := map[string]bool{}
	for _, b := range defaults {
		if keys, ok := k.keysFor(view, b.Action); ok {
			b.Keys = keys
			for _, key := range keys {
				claimed[key] = true
			}
		}
		out = append(out, b)
	}
	res := out[:0]
	for _, b := range out {
		if _, over := k.keysFor(view, b.Action); !over {
			b.Keys = slices.DeleteFunc(slices.Clone(b.Keys), func(s string) bool { return claimed[s] })
		}
		if len(b.Keys) == 0 || (allowed != nil && !allowed(b)) {
			continue
		}
		res = append(res, b)
	}
	return res
}

func (k *Keymap) keysFor(view, action string) ([]string, bool) {
	if keys, ok := k.overrides[strings.ToLower(view+"."+action)]; ok {
		return keys, true
	}
	keys, ok := k.overrides[strings.ToLower(action)]
	return keys, ok
}

// lookup finds the binding a key triggers.
func lookup(bs []Binding, key string) (Binding, bool) {
	for _, b := range bs {
		if slices.Contains(b.Keys, key) {
			return b, true
		}
	}
	return Binding{}, false
}

// keyLabel is how a key is written in hints: "ctrl+d" → "ctrl-d", " " → "space".
func keyLabel(k string) string {
	if k == " " {
		return "space"
	}
	return strings.ReplaceAll(k, "+", "-")
}

// actionMsg tells a view that one of its bindings fired.
type actionMsg struct {
	Action string
	Key    string
}

// KnownActions lists every action name config.yaml's keymap may rebind, sorted; an override may also
// be scoped to one view as "view.action".
func KnownActions() []string {
	sh := &Shared{Opts: Options{Favourites: make([]string, 9), LogBuffer: 1, FirstDeploy: "p", Profiles: []ProfileChoice{{Name: "p"}}}}
	seen := map[string]bool{}
	add := func(bs []Binding) {
		for _, b := range bs {
			seen[b.Action] = true
		}
	}
	add(globalBindings())
	d := newDeployments(sh)
	add(d.Bindings())
	d.filtering = true
	add(d.Bindings())
	add(newDetail(sh, kube.Deployment{}, false).Bindings())
	l := newLogs(sh, kube.Deployment{})
	add(l.Bindings())
	l.filtering = true
	add(l.Bindings())
	add(newGPU(sh).Bindings())
	add(newCache(sh, kube.Deployment{}).Bindings())
	c := newChat(sh, kube.Deployment{})
	add(c.Bindings())
	c.picking = true
	add(c.Bindings())
	c.Close()
	w := newWizard(sh)
	for w.step = stepProfile; w.step <= stepProgress; w.step++ {
		add(w.Bindings())
	}
	add(newNamespaces(sh, nil).Bindings())
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// unknownOverrides returns the keymap entries that name no action, so a typo in config.yaml is
// reported instead of silently doing nothing.
func unknownOverrides(overrides map[string][]string) []string {
	known := map[string]bool{}
	for _, a := range KnownActions() {
		known[a] = true
	}
	var bad []string
	for k := range overrides {
		a := strings.ToLower(k)
		if _, after, ok := strings.Cut(a, "."); ok {
			a = after
		}
		if !known[a] {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	return bad
}
