package tui

import (
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/radixops/radix/kube"
)

// Theme names the console's colours; config.yaml may override any of them by name (hex or ANSI number).
type Theme map[string]string

// DefaultTheme is k9s-like: cyan chrome, state colours on rows.
func DefaultTheme() Theme {
	return Theme{
		"fg":           "#c0caf5",
		"dim":          "#6b7089",
		"title":        "#7dcfff",
		"key":          "#bb9af7",
		"header":       "#e0af68",
		"selected-fg":  "#1a1b26",
		"selected-bg":  "#7dcfff",
		"successful":   "#9ece6a",
		"pending":      "#e0af68",
		"initializing": "#7aa2f7",
		"failed":       "#f7768e",
		"deleting":     "#6b7089",
		"unknown":      "#a9b1d6",
		"match-fg":     "#1a1b26",
		"match-bg":     "#e0af68",
		"info":         "#9ece6a",
		"error":        "#f7768e",
		"warn":         "#e0af68",
		"spark":        "#7aa2f7",
	}
}

// Merge returns t with the non-empty entries of over applied.
func (t Theme) Merge(over map[string]string) Theme {
	out := Theme{}
	for k, v := range t {
		out[k] = v
	}
	for k, v := range over {
		if v != "" {
			out[strings.ToLower(k)] = v
		}
	}
	return out
}

// Styles are the lipgloss styles every view draws with, built once for a colour profile.
type Styles struct {
	r         *lipgloss.Renderer
	Base      lipgloss.Style
	Dim       lipgloss.Style
	Title     lipgloss.Style
	Key       lipgloss.Style
	Header    lipgloss.Style
	Selected  lipgloss.Style
	Match     lipgloss.Style
	Info      lipgloss.Style
	Error     lipgloss.Style
	Warn      lipgloss.Style
	Spark     lipgloss.Style
	Bold      lipgloss.Style
	state     map[kube.State]lipgloss.Style
	colorless bool
}

// NewStyles builds styles for theme t rendered in colour profile p.
func NewStyles(t Theme, p termenv.Profile) *Styles {
	r := lipgloss.NewRenderer(io.Discard)
	colorless := p == termenv.Ascii
	if colorless {
		// NO_COLOR forbids colour, not emphasis: keep bold and reverse video so the selection shows.
		p = termenv.ANSI
	}
	r.SetColorProfile(p)
	r.SetHasDarkBackground(true)
	c := func(name string) lipgloss.TerminalColor {
		if colorless {
			return lipgloss.NoColor{}
		}
		return lipgloss.Color(t[name])
	}
	s := &Styles{r: r, colorless: colorless}
	s.Base = r.NewStyle().Foreground(c("fg"))
	s.Dim = r.NewStyle().Foreground(c("dim"))
	s.Title = r.NewStyle().Foreground(c("title")).Bold(true)
	s.Key = r.NewStyle().Foreground(c("key")).Bold(true)
	s.Header = r.NewStyle().Foreground(c("header")).Bold(true)
	s.Selected = r.NewStyle().Foreground(c("selected-fg")).Background(c("selected-bg"))
	s.Match = r.NewStyle().Foreground(c("match-fg")).Background(c("match-bg"))
	s.Info = r.NewStyle().Foreground(c("info"))
	s.Error = r.NewStyle().Foreground(c("error")).Bold(true)
	s.Warn = r.NewStyle().Foreground(c("warn"))
	s.Spark = r.NewStyle().Foreground(c("spark"))
	s.Bold = r.NewStyle().Bold(true)
	if s.colorless {
		// Without colour the selection and matches still need to be seen.
		s.Selected = r.NewStyle().Reverse(true)
		s.Match = r.NewStyle().Reverse(true)
	}
	s.state = map[kube.State]lipgloss.Style{}
	for _, st := range []kube.State{kube.StatePending, kube.StateInitializing, kube.StateSuccessful, kube.StateFailed, kube.StateDeleting, kube.StateUnknown} {
		s.state[st] = r.NewStyle().Foreground(c(string(st)))
	}
	return s
}

// State is the row style of a deployment state.
func (s *Styles) State(st kube.State) lipgloss.Style {
	if x, ok := s.state[st]; ok {
		return x
	}
	return s.state[kube.StateUnknown]
}

// DetectProfile picks the colour profile: NO_COLOR or TERM=dumb → none; COLORTERM truecolor/24bit →
// true colour; over SSH → 256 colours unless COLORTERM says otherwise (remote terminals rarely forward
// it, and 256 is safe on all of them); else what TERM advertises, else termenv's own detection.
func DetectProfile(getenv func(string) string, detected termenv.Profile) termenv.Profile {
	if _, ok := lookupEnv(getenv, "NO_COLOR"); ok {
		return termenv.Ascii
	}
	term := getenv("TERM")
	if term == "dumb" {
		return termenv.Ascii
	}
	switch strings.ToLower(getenv("COLORTERM")) {
	case "truecolor", "24bit":
		return termenv.TrueColor
	}
	if getenv("SSH_CONNECTION") != "" || getenv("SSH_TTY") != "" || getenv("SSH_CLIENT") != "" {
		return termenv.ANSI256
	}
	if strings.Contains(term, "256color") {
		return termenv.ANSI256
	}
	return detected
}

// lookupEnv treats a variable as set when getenv returns non-empty; NO_COLOR's spec says any
// non-empty value disables colour.
func lookupEnv(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}
