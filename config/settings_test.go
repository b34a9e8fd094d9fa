package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSettingsDefaultsWhenMissing(t *testing.T) {
	isolate(t)
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Namespace: "dynamo-cloud", LogBuffer: 50000, RefreshInterval: 2 * time.Second, Theme: Theme{Name: "default"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults %+v", s)
	}
	for _, body := range []string{"", "# only a comment\n", "~\n"} {
		s, err := ParseSettings("config.yaml", []byte(body))
		if err != nil || !reflect.DeepEqual(s, want) {
			t.Errorf("%q: %+v %v", body, s, err)
		}
	}
}

func TestSettingsFull(t *testing.T) {
	isolate(t)
	path, err := DefaultSettingsPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	body := `namespace: team-a
logBuffer: 200000
refreshInterval: 500ms
readOnly: true
mouse: true
theme:
  name: solarized
  colors:
    accent: "#ff8800"
    error: 196
keymap:
  delete: [ctrl+d, D]
  logs:
    - l
favouriteNamespaces: [dynamo-cloud, team-a]
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Namespace: "team-a", LogBuffer: 200000, RefreshInterval: 500 * time.Millisecond, ReadOnly: true, Mouse: true,
		Theme:               Theme{Name: "solarized", Colors: map[string]string{"accent": "#ff8800", "error": "196"}},
		Keymap:              map[string][]string{"delete": {"ctrl+d", "D"}, "logs": {"l"}},
		FavouriteNamespaces: []string{"dynamo-cloud", "team-a"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if a := s.KeymapActions(); !reflect.DeepEqual(a, []string{"delete", "logs"}) {
		t.Errorf("actions %v", a)
	}
	// Fields left out keep their defaults.
	s, err = ParseSettings("c.yaml", []byte("mouse: true\n"))
	if err != nil || s.LogBuffer != 50000 || s.Namespace != DefaultNamespace || !s.Mouse {
		t.Errorf("partial file: %+v %v", s, err)
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		body     string
		mentions []string
	}{
		{"namespace: [a\n", []string{"config.yaml:1:"}},
		{"namespace: a\n  x: b\n", []string{"config.yaml:1:"}},
		{"namspace: a\n", []string{"config.yaml:1:1", `did you mean "namespace"`}},
		{"logBuffer: lots\n", []string{"config.yaml:1:12", "logBuffer"}},
		{"logBuffer: 10\n", []string{"config.yaml:1:12", "from 100"}},
		{"logBuffer: 1.5\n", []string{"config.yaml:1:12"}},
		{"refreshInterval: 2\n", []string{"config.yaml:1:18", "duration"}},
		{"refreshInterval: 1ms\n", []string{"config.yaml:1:18", "100ms"}},
		{"readOnly: yes please\n", []string{"config.yaml:1:11", "true or false"}},
		{"mouse: 1\n", []string{"config.yaml:1:8", "true or false"}},
		{"namespace: Team_A\n", []string{"config.yaml:1:12", "RFC 1123"}},
		{"namespace:\n", []string{"config.yaml:1:", "needs a value"}},
		{"theme: dark\n", []string{"config.yaml:1:8", "mapping"}},
		{"theme:\n  name: \"\"\n", []string{"config.yaml:2:9", "theme.name"}},
		{"theme:\n  colour: {}\n", []string{"config.yaml:2:3", "theme.colour"}},
		{"theme:\n  colors:\n    accent: orange\n", []string{"config.yaml:3:13", "#rrggbb"}},
		{"theme:\n  colors:\n    accent: 300\n", []string{"config.yaml:3:13"}},
		{"keymap:\n  delete: ctrl+d\n", []string{"config.yaml:2:11", "list"}},
		{"keymap:\n  delete: []\n", []string{"config.yaml:2:11", "at least one key"}},
		{"keymap: [a]\n", []string{"config.yaml:1:9", "mapping"}},
		{"favouriteNamespaces: [a, B]\n", []string{"config.yaml:1:22", `"B"`}},
		{"favouriteNamespaces: [a, b, c, d, e, f, g, h, i, j]\n", []string{"config.yaml:1:22", "at most 9"}},
		{"- namespace\n", []string{"config.yaml:1:1", "mapping"}},
		{"mouse: true\nmouse: false\n", []string{"config.yaml:2:1"}},
		{"namespace: a\n---\nmouse: true\n", []string{"config.yaml:3:", "more than one"}},
		{"\tnamespace: a\n", []string{"config.yaml:1:"}},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.body, "\n", `\n`), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSettings(path)
			if err == nil {
				t.Fatalf("accepted %q", tc.body)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+":") {
				t.Errorf("error %q does not start with the file %s", msg, path)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
		})
	}
}

func TestSettingsUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be: reading fails, and that is an error, not the defaults.
	if _, err := LoadSettings(dir); err == nil {
		t.Error("reading a directory as the settings file succeeded")
	}
}
