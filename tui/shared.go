package tui

import (
	"context"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/radixops/radix/kube"
)

// Options configure the console; cmd/radix fills them from flags and config.yaml.
type Options struct {
	Cluster         kube.Cluster
	Namespace       string // "" → the cluster's default namespace
	AllNamespaces   bool
	ReadOnly        bool
	LogBuffer       int           // lines kept by the log view; default 50,000
	LogTail         int           // lines per pod fetched when a log view opens; default 500
	RefreshInterval time.Duration // polling period of panels that cannot be watched; default 2 s
	Mouse           bool
	Theme           map[string]string
	Keymap          map[string][]string
	Favourites      []string // namespaces on keys 1–9
	Profile         termenv.Profile

	// Contexts lists the kubeconfig contexts to offer in :ctx (the embedded one is always offered).
	Contexts func(ctx context.Context) ([]string, error)
	// SwitchContext opens another context; kube.EmbeddedContext names the embedded environment.
	SwitchContext func(ctx context.Context, name string) (kube.Cluster, error)

	// Chat streams chat completions for the chat pane; nil disables chat.
	Chat ChatClient
	// Profiles are the deploy wizard's choices; OverrideKeys the form's fields; ValidateOverride
	// checks one field as it is typed (nil accepts everything and leaves it to Preview).
	Profiles []ProfileChoice
	// FirstDeploy is the profile the deployments view deploys with its defaults on one key (and
	// invites the user to when the table is empty); "" or a name not in Profiles offers no such key.
	FirstDeploy      string
	OverrideKeys     []string
	ValidateOverride func(key, value string) error

	SaveDir   string    // where ctrl-s writes logs; default the working directory
	Clipboard io.Writer // where OSC52 sequences go; default stdout
	Getenv    func(string) string
	Now       func() time.Time
}

// ProfileChoice is one deployable profile in the wizard.
type ProfileChoice struct {
	Name        string
	Description string
	Defaults    map[string]string // override key → default value shown in the form
}

func (o *Options) defaults() {
	if o.LogBuffer <= 0 {
		o.LogBuffer = 50000
	}
	if o.LogTail == 0 {
		o.LogTail = 500
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 2 * time.Second
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Clipboard == nil {
		o.Clipboard = os.Stdout
	}
}

// Shared is the one context value every view gets: size, styles, options, keymap, cluster, namespace
// and permissions. Only the root model writes it, and only inside Update.
type Shared struct {
	Opts      Options
	Cluster   kube.Cluster
	Info      kube.Info
	Namespace string // "" = all namespaces
	Width     int
	Height    int
	Styles    *Styles
	Keys      *Keymap
	// perms caches Allowed answers for the current namespace; filled by a command at start and on
	// every namespace or context change, so no key press waits on RBAC.
	perms  map[kube.Action]bool
	nextID int
}

func (s *Shared) newID() int {
	s.nextID++
	return s.nextID
}

// allowed is the filter Keymap.Resolve applies: read-only drops mutating bindings, RBAC drops those
// whose permission was refused.
func (s *Shared) allowed(b Binding) bool {
	if b.Mutating && (s.Opts.ReadOnly || s.Info.ReadOnly) {
		return false
	}
	if b.Needs != "" {
		if ok, known := s.perms[b.Needs]; known && !ok {
			return false
		}
	}
	return true
}

// bindings resolves a view's bindings against the keymap and permissions.
func (s *Shared) hasProfile(name string) bool {
	for _, p := range s.Opts.Profiles {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (s *Shared) bindings(v view) []Binding {
	return s.Keys.Resolve(v.Name(), v.Bindings(), s.allowed)
}

// view is one screen under the header. Views are pointers updated in place; the root sends them
// messages addressed to their id, their bindings' actions (actionMsg), and raw keys while they
// capture text.
type view interface {
	ID() int
	Name() string  // keymap scope and crumb, e.g. "deployments"
	Title() string // shown above the body
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string // exactly the body size given by SetSize
	SetSize(w, h int)
	Bindings() []Binding // default bindings in the view's current mode
	Capturing() bool     // typing text: keys without a binding go to the view raw
	Close()              // cancel streams; the view is gone
}

// targeted is implemented by messages for one view.
type targeted interface{ target() int }

// to is embedded in messages to address them.
type to struct{ id int }

func (t to) target() int { return t.id }

// Messages any view may return to the root.
type (
	flashMsg struct {
		text string
		err  bool
	}
	pushMsg    struct{ v view }
	popMsg     struct{}
	confirmMsg struct {
		prompt string
		yes    tea.Cmd
	}
	switchNSMsg  struct{ ns string }
	switchCtxMsg struct {
		cluster kube.Cluster
		name    string
	}
	permsMsg struct {
		ns    string
		perms map[kube.Action]bool
	}
	flashExpireMsg  struct{ seq int }
	snapshotSeenMsg struct{ snap kube.Snapshot }
)

func flash(format string) tea.Cmd {
	return func() tea.Msg { return flashMsg{text: format} }
}

func flashErr(err error) tea.Cmd {
	return func() tea.Msg { return flashMsg{text: err.Error(), err: true} }
}

func push(v view) tea.Cmd { return func() tea.Msg { return pushMsg{v} } }
