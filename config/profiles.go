package config

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
	"sigs.k8s.io/yaml"
)

// Profile is a named way to deploy: a built-in blueprint, or a user profile extending one.
type Profile struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Builtin     bool              `json:"builtin"`
	Extends     string            `json:"extends,omitempty"`   // the built-in a user profile extends
	Source      string            `json:"source"`              // "built-in" or the user profile's file
	Overrides   map[string]string `json:"overrides,omitempty"` // a user profile's overrides
	Services    []string          `json:"services"`            // service keys, frontends first

	blueprint *DGD              // the built-in blueprint (the base's, for a user profile)
	where     map[string]string // override key → file:line:col, for errors
}

// ErrUnknownProfile is wrapped by Lookup's error when no profile has the name.
var ErrUnknownProfile = errors.New("unknown profile")

//go:embed profiles/*.yaml
var catalogFS embed.FS

// catalogFile is the format of an embedded profile: the blueprint as published, plus a name and a line.
type catalogFile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Blueprint   DGD    `json:"blueprint"`
}

var builtins = sync.OnceValues(loadBuiltins)

func loadBuiltins() ([]Profile, error) {
	entries, err := fs.Glob(catalogFS, "profiles/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing the embedded profiles: %w", err)
	}
	sort.Strings(entries)
	var out []Profile
	for _, e := range entries {
		data, err := catalogFS.ReadFile(e)
		if err != nil {
			return nil, fmt.Errorf("reading embedded profile %s: %w", e, err)
		}
		var cf catalogFile
		if err := yaml.UnmarshalStrict(data, &cf); err != nil {
			return nil, fmt.Errorf("reading embedded profile %s: %w", e, err)
		}
		if want := strings.TrimSuffix(filepath.Base(e), ".yaml"); cf.Name != want {
			return nil, fmt.Errorf("embedded profile %s is named %q, want %q", e, cf.Name, want)
		}
		bp := cf.Blueprint
		out = append(out, Profile{
			Name: cf.Name, Description: cf.Description, Builtin: true, Source: "built-in",
			Services: bp.ServiceKeys(), blueprint: &bp,
		})
	}
	return out, nil
}

// Builtins returns the embedded profiles, sorted by name.
func Builtins() ([]Profile, error) {
	b, err := builtins()
	if err != nil {
		return nil, err
	}
	out := make([]Profile, len(b))
	for i, p := range b {
		p.Services = append([]string(nil), p.Services...)
		out[i] = p
	}
	return out, nil
}

func lookupBuiltin(name string) (Profile, bool, error) {
	b, err := builtins()
	if err != nil {
		return Profile{}, false, err
	}
	for _, p := range b {
		if p.Name == name {
			return p, true, nil
		}
	}
	return Profile{}, false, nil
}

func builtinNames() []string {
	b, _ := builtins()
	var n []string
	for _, p := range b {
		n = append(n, p.Name)
	}
	return n
}

// Profiles returns the built-in profiles, then the user's (from Paths().ProfilesDir), each sorted by
// name. A broken user profile is an error naming its file: a typo should never silently drop one.
func Profiles() ([]Profile, error) {
	out, err := Builtins()
	if err != nil {
		return nil, err
	}
	p, err := Paths()
	if err != nil {
		return nil, err
	}
	user, err := LoadUserProfiles(p.ProfilesDir)
	if err != nil {
		return nil, err
	}
	return append(out, user...), nil
}

// Lookup finds a profile by name among Profiles().
func Lookup(name string) (Profile, error) {
	all, err := Profiles()
	if err != nil {
		return Profile{}, err
	}
	return lookupIn(all, name)
}

func lookupIn(all []Profile, name string) (Profile, error) {
	var names []string
	for _, p := range all {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	msg := fmt.Sprintf("%v %q", ErrUnknownProfile, name)
	if s := nearest(name, names, nil); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return Profile{}, fmt.Errorf("%s (profiles: %s): %w", msg, strings.Join(names, ", "), ErrUnknownProfile)
}

// LoadUserProfiles reads every *.yaml / *.yml file of dir as a user profile. A missing dir is no
// profiles; a broken file is an error naming it.
func LoadUserProfiles(dir string) ([]Profile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the user profiles directory: %w", err)
	}
	var out []Profile
	seen := map[string]string{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading user profile: %w", err)
		}
		name := strings.TrimSuffix(e.Name(), ext)
		p, err := ParseUserProfile(name, path, data)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s: user profile %q is also defined by %s: keep one", path, name, other)
		}
		seen[name] = path
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ParseUserProfile reads one user profile file:
//
//	extends: sglang-router        # a built-in profile (required)
//	description: Qwen with bigger pages
//	overrides:                    # the same keys as --set
//	  page-size: 32
//	  SGLangWorker.replicas: 4
//
// name is the profile's name (the file name without extension) and must be a valid deployment name,
// since it is the default one; source names the file in errors.
func ParseUserProfile(name, source string, data []byte) (Profile, error) {
	if _, builtin, err := lookupBuiltin(name); err != nil {
		return Profile{}, err
	} else if builtin {
		return Profile{}, &PosError{File: source, Msg: fmt.Sprintf("a user profile cannot be named %q: a built-in profile has that name; rename the file", name)}
	}
	if err := checkName(name); err != nil {
		return Profile{}, &PosError{File: source, Msg: fmt.Sprintf("the profile name %q (from the file name) is not a valid deployment name: %v; rename the file", name, err)}
	}
	body, err := parseYAMLDoc(source, data)
	if err != nil {
		return Profile{}, err
	}
	if body == nil {
		return Profile{}, &PosError{File: source, Msg: "empty user profile: it needs at least `extends: <built-in profile>`"}
	}
	pairs, err := mapPairs(source, body, "a user profile")
	if err != nil {
		return Profile{}, err
	}
	p := Profile{Name: name, Source: source, Overrides: map[string]string{}, where: map[string]string{}}
	var extendsNode ast.Node
	seen := map[string]bool{}
	for _, kv := range pairs {
		k := keyString(kv)
		if seen[k] {
			return Profile{}, nodeError(source, kv.Key, "%q is given twice", k)
		}
		seen[k] = true
		switch k {
		case "extends":
			if p.Extends, err = scalarString(source, kv.Value, "extends"); err != nil {
				return Profile{}, err
			}
			extendsNode = kv.Value
		case "description":
			if p.Description, err = scalarString(source, kv.Value, "description"); err != nil {
				return Profile{}, err
			}
		case "overrides":
			if _, null := kv.Value.(*ast.NullNode); null {
				continue
			}
			ovs, err := mapPairs(source, kv.Value, "overrides")
			if err != nil {
				return Profile{}, err
			}
			for _, o := range ovs {
				key := keyString(o)
				where := nodeWhere(source, o.Key)
				if _, dup := p.Overrides[key]; dup {
					return Profile{}, nodeError(source, o.Key, "override %q is given twice", key)
				}
				v, err := scalarString(source, o.Value, "override "+key)
				if err != nil {
					return Profile{}, err
				}
				if err := Validate(key, v); err != nil {
					return Profile{}, atPos(where, err)
				}
				p.Overrides[key] = v
				p.where[key] = where
			}
		default:
			msg := fmt.Sprintf("unknown field %q (a user profile has extends, description, overrides)", k)
			if s := nearest(k, []string{"extends", "description", "overrides"}, nil); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return Profile{}, nodeError(source, kv.Key, "%s", msg)
		}
	}
	if p.Extends == "" {
		return Profile{}, &PosError{File: source, Msg: "missing `extends: <built-in profile>` (built-ins: " + strings.Join(builtinNames(), ", ") + ")"}
	}
	base, ok, err := lookupBuiltin(p.Extends)
	if err != nil {
		return Profile{}, err
	}
	if !ok {
		msg := fmt.Sprintf("extends %q, which is not a built-in profile", p.Extends)
		if s := nearest(p.Extends, builtinNames(), nil); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return Profile{}, nodeError(source, extendsNode, "%s (built-ins: %s)", msg, strings.Join(builtinNames(), ", "))
	}
	if p.Description == "" {
		p.Description = base.Description
	}
	p.blueprint = base.blueprint
	p.Services = base.Services
	// Apply the overrides now, so a selector that names no service of the base fails here, at its line.
	if _, err := resolveProfile(p, nil); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// atPos puts a file position ("file:line:col") in front of an override error.
func atPos(where string, err error) error {
	var oe *OverrideError
	if errors.As(err, &oe) {
		c := *oe
		c.Where = where
		return &c
	}
	return fmt.Errorf("%s: %w", where, err)
}
