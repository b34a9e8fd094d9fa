package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Settings is the user's config.yaml, with defaults for everything it leaves out.
type Settings struct {
	Namespace           string              `json:"namespace"`           // default namespace; default dynamo-cloud
	LogBuffer           int                 `json:"logBuffer"`           // lines kept per log view; default 50000
	RefreshInterval     time.Duration       `json:"refreshInterval"`     // how often polled data refreshes; default 2s
	ReadOnly            bool                `json:"readOnly"`            // hide every mutating action
	Mouse               bool                `json:"mouse"`               // capture the mouse (breaks terminal text selection); default false
	Theme               Theme               `json:"theme"`               // colours
	Keymap              map[string][]string `json:"keymap"`              // action → keys, replacing that action's defaults
	FavouriteNamespaces []string            `json:"favouriteNamespaces"` // on keys 1–9
}

// Theme is a named colour scheme plus per-colour overrides.
type Theme struct {
	Name   string            `json:"name"`             // default "default"
	Colors map[string]string `json:"colors,omitempty"` // colour role → "#rrggbb" or an ANSI number 0–255
}

// Limits of the settings' values.
const (
	MinLogBuffer       = 100
	MaxLogBuffer       = 10_000_000
	MinRefreshInterval = 100 * time.Millisecond
	MaxRefreshInterval = 10 * time.Minute
	MaxFavourites      = 9
)

// DefaultSettings are what radix uses where config.yaml says nothing.
func DefaultSettings() Settings {
	return Settings{
		Namespace:       DefaultNamespace,
		LogBuffer:       50000,
		RefreshInterval: 2 * time.Second,
		Theme:           Theme{Name: "default"},
	}
}

// PathSet are radix's directories under the XDG base directories.
type PathSet struct {
	ConfigDir    string // $XDG_CONFIG_HOME/radix, else ~/.config/radix
	SettingsFile string // ConfigDir/config.yaml
	ProfilesDir  string // ConfigDir/profiles
	StateDir     string // $XDG_STATE_HOME/radix, else ~/.local/state/radix: embedded deployments
}

// Paths works out radix's directories from the environment. Relative XDG values are ignored, as the
// XDG spec requires.
func Paths() (PathSet, error) {
	base := func(env, fallback string) (string, error) {
		if v := os.Getenv(env); v != "" && filepath.IsAbs(v) {
			return v, nil
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding radix's directories: $%s is unset and the home directory is unknown: %w", env, err)
		}
		return filepath.Join(home, fallback), nil
	}
	cfg, err := base("XDG_CONFIG_HOME", ".config")
	if err != nil {
		return PathSet{}, err
	}
	state, err := base("XDG_STATE_HOME", filepath.Join(".local", "state"))
	if err != nil {
		return PathSet{}, err
	}
	dir := filepath.Join(cfg, "radix")
	return PathSet{
		ConfigDir:    dir,
		SettingsFile: filepath.Join(dir, "config.yaml"),
		ProfilesDir:  filepath.Join(dir, "profiles"),
		StateDir:     filepath.Join(state, "radix"),
	}, nil
}

// DefaultSettingsPath is $XDG_CONFIG_HOME/radix/config.yaml.
func DefaultSettingsPath() (string, error) {
	p, err := Paths()
	if err != nil {
		return "", err
	}
	return p.SettingsFile, nil
}

// Load reads the settings from DefaultSettingsPath.
func Load() (Settings, error) {
	path, err := DefaultSettingsPath()
	if err != nil {
		return Settings{}, err
	}
	return LoadSettings(path)
}

// LoadSettings reads a settings file over the defaults. A missing file is the defaults; anything wrong
// in the file (syntax, an unknown field, a bad value) is an error with file, line and column.
func LoadSettings(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultSettings(), nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("reading settings: %w", err)
	}
	return ParseSettings(path, data)
}

var settingsFields = []string{"namespace", "logBuffer", "refreshInterval", "readOnly", "mouse", "theme", "keymap", "favouriteNamespaces"}

// ParseSettings reads settings YAML over the defaults; source names the file in errors.
func ParseSettings(source string, data []byte) (Settings, error) {
	s := DefaultSettings()
	body, err := parseYAMLDoc(source, data)
	if err != nil || body == nil {
		return s, err
	}
	if _, null := body.(*ast.NullNode); null {
		return s, nil
	}
	pairs, err := mapPairs(source, body, "the settings file")
	if err != nil {
		return Settings{}, err
	}
	seen := map[string]bool{}
	for _, kv := range pairs {
		k := keyString(kv)
		if seen[k] {
			return Settings{}, nodeError(source, kv.Key, "%q is given twice", k)
		}
		seen[k] = true
		if err := s.set(source, k, kv); err != nil {
			return Settings{}, err
		}
	}
	return s, nil
}

func (s *Settings) set(src, k string, kv *ast.MappingValueNode) error {
	v := kv.Value
	switch k {
	case "namespace":
		str, err := scalarString(src, v, k)
		if err != nil {
			return err
		}
		if err := checkLabel(str); err != nil {
			return nodeError(src, v, "namespace %q: %v", str, err)
		}
		s.Namespace = str
	case "logBuffer":
		str, err := scalarString(src, v, k)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(str)
		if err != nil || n < MinLogBuffer || n > MaxLogBuffer {
			return nodeError(src, v, "logBuffer %q: want a whole number of lines from %d to %d", str, MinLogBuffer, MaxLogBuffer)
		}
		s.LogBuffer = n
	case "refreshInterval":
		str, err := scalarString(src, v, k)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(str)
		if err != nil || d < MinRefreshInterval || d > MaxRefreshInterval {
			return nodeError(src, v, "refreshInterval %q: want a duration from %v to %v, like 2s or 500ms", str, MinRefreshInterval, MaxRefreshInterval)
		}
		s.RefreshInterval = d
	case "readOnly", "mouse":
		b, err := boolValue(src, v, k)
		if err != nil {
			return err
		}
		if k == "readOnly" {
			s.ReadOnly = b
		} else {
			s.Mouse = b
		}
	case "theme":
		return s.setTheme(src, v)
	case "keymap":
		pairs, err := mapPairs(src, v, "keymap")
		if err != nil {
			return err
		}
		s.Keymap = map[string][]string{}
		for _, p := range pairs {
			action := keyString(p)
			keys, err := stringList(src, p.Value, "keymap."+action)
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				return nodeError(src, p.Value, "keymap.%s: give at least one key (like [ctrl+d])", action)
			}
			s.Keymap[action] = keys
		}
	case "favouriteNamespaces":
		list, err := stringList(src, v, k)
		if err != nil {
			return err
		}
		if len(list) > MaxFavourites {
			return nodeError(src, v, "favouriteNamespaces: %d given, at most %d (keys 1–9)", len(list), MaxFavourites)
		}
		for _, ns := range list {
			if err := checkLabel(ns); err != nil {
				return nodeError(src, v, "favouriteNamespaces: %q: %v", ns, err)
			}
		}
		s.FavouriteNamespaces = list
	default:
		msg := fmt.Sprintf("unknown field %q (fields: %s)", k, strings.Join(settingsFields, ", "))
		if n := nearest(k, settingsFields, nil); n != "" {
			msg += fmt.Sprintf("; did you mean %q?", n)
		}
		return nodeError(src, kv.Key, "%s", msg)
	}
	return nil
}

var colorRE = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$|^#[0-9A-Fa-f]{3}$`)

func (s *Settings) setTheme(src string, v ast.Node) error {
	pairs, err := mapPairs(src, v, "theme")
	if err != nil {
		return err
	}
	for _, p := range pairs {
		switch k := keyString(p); k {
		case "name":
			if s.Theme.Name, err = scalarString(src, p.Value, "theme.name"); err != nil {
				return err
			}
			if strings.TrimSpace(s.Theme.Name) == "" {
				return nodeError(src, p.Value, "theme.name is empty: name a theme or leave the field out")
			}
		case "colors":
			cs, err := mapPairs(src, p.Value, "theme.colors")
			if err != nil {
				return err
			}
			s.Theme.Colors = map[string]string{}
			for _, c := range cs {
				role := keyString(c)
				col, err := scalarString(src, c.Value, "theme.colors."+role)
				if err != nil {
					return err
				}
				if n, err := strconv.Atoi(col); (err != nil || n < 0 || n > 255) && !colorRE.MatchString(col) {
					return nodeError(src, c.Value, "theme.colors.%s %q: want \"#rrggbb\", \"#rgb\" or an ANSI colour number 0–255", role, col)
				}
				s.Theme.Colors[role] = col
			}
		default:
			return nodeError(src, p.Key, "unknown field theme.%s (fields: name, colors)", k)
		}
	}
	return nil
}

func boolValue(src string, n ast.Node, what string) (bool, error) {
	if b, ok := n.(*ast.BoolNode); ok {
		return b.Value, nil
	}
	return false, nodeError(src, n, "%s: want true or false", what)
}

// stringList reads a list of plain values ([a, b] or - a lines).
func stringList(src string, n ast.Node, what string) ([]string, error) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		if _, null := n.(*ast.NullNode); null {
			return nil, nil
		}
		return nil, nodeError(src, n, "%s must be a list, like [a, b]", what)
	}
	out := make([]string, 0, len(seq.Values))
	for _, item := range seq.Values {
		str, err := scalarString(src, item, what+" item")
		if err != nil {
			return nil, err
		}
		out = append(out, str)
	}
	return out, nil
}

// KeymapActions lists the actions a settings file rebinds, sorted (for validation by the console,
// which owns the action names).
func (s Settings) KeymapActions() []string {
	out := make([]string, 0, len(s.Keymap))
	for a := range s.Keymap {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
