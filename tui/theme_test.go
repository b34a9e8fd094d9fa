package tui

import (
	"slices"
	"strings"
	"testing"

	"github.com/muesli/termenv"
)

func TestDetectProfile(t *testing.T) {
	cases := []struct {
		env      map[string]string
		detected termenv.Profile
		want     termenv.Profile
	}{
		{map[string]string{"NO_COLOR": "1", "COLORTERM": "truecolor"}, termenv.TrueColor, termenv.Ascii},
		{map[string]string{"TERM": "dumb"}, termenv.ANSI, termenv.Ascii},
		{map[string]string{"COLORTERM": "truecolor"}, termenv.ANSI, termenv.TrueColor},
		{map[string]string{"COLORTERM": "24bit", "SSH_CONNECTION": "x"}, termenv.ANSI, termenv.TrueColor},
		{map[string]string{"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, termenv.TrueColor, termenv.ANSI256},
		{map[string]string{"SSH_TTY": "/dev/pts/1", "TERM": "xterm"}, termenv.ANSI, termenv.ANSI256},
		{map[string]string{"TERM": "screen-256color"}, termenv.ANSI, termenv.ANSI256},
		{map[string]string{"TERM": "xterm"}, termenv.ANSI, termenv.ANSI},
	}
	for _, c := range cases {
		if got := DetectProfile(func(k string) string { return c.env[k] }, c.detected); got != c.want {
			t.Errorf("%v (detected %v): got %v, want %v", c.env, c.detected, got, c.want)
		}
	}
}

func TestNoColorKeepsSelectionVisible(t *testing.T) {
	s := NewStyles(DefaultTheme(), termenv.Ascii)
	out := s.Selected.Render("row") + s.State("failed").Render("x")
	if !strings.Contains(out, "\x1b[7m") {
		t.Fatalf("selection without reverse video: %q", out)
	}
	if strings.Contains(out, "\x1b[3") || strings.Contains(out, "\x1b[9") || strings.Contains(out, ";3") {
		t.Fatalf("colour under NO_COLOR: %q", out)
	}
	tc := NewStyles(DefaultTheme().Merge(map[string]string{"failed": "#ff0000"}), termenv.TrueColor)
	if got := tc.State("failed").Render("x"); !strings.Contains(got, "38;2;255;0;0") {
		t.Fatalf("theme override not applied: %q", got)
	}
}

func TestKeymapResolve(t *testing.T) {
	defaults := []Binding{
		{Action: "logs", Keys: []string{"l"}, Help: "logs"},
		{Action: "delete", Keys: []string{"ctrl+d"}, Help: "delete", Mutating: true},
		{Action: "yaml", Keys: []string{"y"}, Help: "yaml"},
	}
	k := NewKeymap(map[string][]string{"logs": {"y"}, "detail.yaml": {"Y"}})
	got := k.Resolve("deployments", defaults, nil)
	if b, _ := lookup(got, "y"); b.Action != "logs" {
		t.Fatalf("override did not take y: %+v", got)
	}
	for _, b := range got {
		if b.Action == "yaml" {
			t.Fatalf("yaml lost its only key but is still offered: %+v", b)
		}
	}
	got = k.Resolve("detail", defaults, nil)
	if b, _ := lookup(got, "Y"); b.Action != "yaml" {
		t.Fatalf("view-scoped override: %+v", got)
	}
	ro := k.Resolve("detail", defaults, func(b Binding) bool { return !b.Mutating })
	if _, ok := lookup(ro, "ctrl+d"); ok {
		t.Fatal("filter kept a mutating binding")
	}
}

func TestUnknownKeymapActionsReported(t *testing.T) {
	for _, a := range []string{"logs", "delete", "preset-cache", "since-3", "cache-test", "apply", "favourite-9", "command"} {
		if !slices.Contains(KnownActions(), a) {
			t.Errorf("KnownActions lacks %s", a)
		}
	}
	h := newHarness(t, 120, 40, func(o *Options) {
		o.Keymap = map[string][]string{"logs": {"L"}, "detail.yaml": {"Y"}, "lgos": {"x"}}
	})
	if s := h.screen(); !strings.Contains(s, "no action named lgos") {
		t.Fatalf("typo not reported:\n%s", s)
	}
}
