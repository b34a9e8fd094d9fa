package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeProfile(t *testing.T, name, body string) string {
	t.Helper()
	p, err := Paths()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.ProfilesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.ProfilesDir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUserProfile(t *testing.T) {
	isolate(t)
	writeProfile(t, "qwen-big-pages.yaml", `# my profile
extends: sglang-router
description: Qwen with bigger pages
overrides:
  page-size: 32
  SGLangWorker.replicas: 4
  served-model-name: "qwen"
`)
	writeProfile(t, "notes.txt", "not a profile")
	ps, err := Profiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 || ps[3].Name != "qwen-big-pages" || ps[3].Builtin || ps[3].Extends != "sglang-router" {
		t.Fatalf("profiles %+v", ps)
	}
	if ps[3].Description != "Qwen with bigger pages" || strings.Join(ps[3].Services, ",") != "Frontend,SGLangWorker" {
		t.Errorf("user profile %+v", ps[3])
	}
	// The user profile's overrides apply, the caller's win, and it deploys under its own name.
	spec, err := Resolve("qwen-big-pages", map[string]string{"SGLangWorker.replicas": "1"})
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := Render(spec, RenderOptions{APIVersion: VersionV1Alpha1}) // dynamoNamespace is v1alpha1's
	if err != nil {
		t.Fatal(err)
	}
	if d.Metadata.Name != "qwen-big-pages" || d.Spec.Services["Frontend"].DynamoNamespace != "qwen-big-pages" {
		t.Errorf("name %s / %s", d.Metadata.Name, d.Spec.Services["Frontend"].DynamoNamespace)
	}
	if v := flagOf(t, d, "SGLangWorker", "--page-size"); v != "32" {
		t.Errorf("page size %s", v)
	}
	if v := flagOf(t, d, "SGLangWorker", "--served-model-name"); v != "qwen" {
		t.Errorf("served name %s", v)
	}
	if r := *d.Spec.Services["SGLangWorker"].Replicas; r != 1 {
		t.Errorf("replicas %d, want the caller's 1", r)
	}
	if spec.Base != "sglang-router" || d.Metadata.Annotations[AnnotationProfile] != "qwen-big-pages" {
		t.Errorf("base %s annotation %s", spec.Base, d.Metadata.Annotations[AnnotationProfile])
	}
	if _, err := Lookup("qwen-big-page"); !errors.Is(err, ErrUnknownProfile) || !strings.Contains(err.Error(), `did you mean "qwen-big-pages"`) {
		t.Errorf("Lookup of a near miss: %v", err)
	}
}

func TestUserProfileErrors(t *testing.T) {
	tests := []struct {
		file, body string
		mentions   []string
	}{
		{"a.yaml", "extends: sglang-routr\n", []string{"a.yaml:1:10", `did you mean "sglang-router"`}},
		{"b.yaml", "description: x\n", []string{"b.yaml", "missing `extends"}},
		{"c.yaml", "extends: sglang-router\noverrides:\n  page-size: 33\n", []string{"c.yaml:3:3", "page-size", "33", "power of two"}},
		{"d.yaml", "extends: sglang-router\noverrides:\n  pagesize: 32\n", []string{"d.yaml:3:3", `did you mean "page-size"`}},
		{"e.yaml", "extends: sglang-router\noverrides:\n  prefill.cpu: 2\n", []string{"e.yaml:3:3", "no prefill service"}},
		{"f.yaml", "extends: sglang-router\noverides:\n  tp: 2\n", []string{"f.yaml:2:1", `did you mean "overrides"`}},
		{"g.yaml", "extends: sglang-router\noverrides: [1, 2]\n", []string{"g.yaml:2:12", "mapping"}},
		{"h.yaml", "extends: [sglang-router]\n", []string{"h.yaml:1:10", "single value"}},
		{"i.yaml", "extends: sglang-router\n  bad: indent\n", []string{"i.yaml:1:"}},
		{"j.yaml", "extends: sglang-router\noverrides:\n  tp:\n", []string{"j.yaml:3:", "needs a value"}},
		{"k.yaml", "", []string{"k.yaml", "empty"}},
		{"l.yaml", "- extends\n", []string{"l.yaml:1:1", "mapping"}},
		{"m.yaml", "extends: sglang-router\nextends: sglang-router\n", []string{"m.yaml:2:1", "already defined"}},
		{"n.yaml", "a: 1\n---\nb: 2\n", []string{"n.yaml:3:", "more than one"}},
		{"sglang-router.yaml", "extends: sglang-router\n", []string{"sglang-router.yaml", "built-in"}},
		{"Bad_Name.yaml", "extends: sglang-router\n", []string{"Bad_Name.yaml", "rename"}},
		{"o.yaml", "extends: sglang-router\noverrides:\n  tp: 2\n  worker.gpu: 1\n", []string{"o.yaml:4:3", "worker.gpu"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			isolate(t)
			path := writeProfile(t, tc.file, tc.body)
			_, err := Profiles()
			if err == nil {
				t.Fatalf("Profiles accepted %s:\n%s", tc.file, tc.body)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s", msg, path)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
			t.Log(msg)
			if _, err := Resolve("sglang-router", nil); err == nil {
				t.Error("Resolve went on despite a broken user profile")
			}
		})
	}
}

func TestUserProfileDuplicateStem(t *testing.T) {
	isolate(t)
	writeProfile(t, "dup.yaml", "extends: sglang-router\n")
	writeProfile(t, "dup.yml", "extends: sglang-router\n")
	if _, err := Profiles(); err == nil || !strings.Contains(err.Error(), "also defined") {
		t.Errorf("two files for one profile: %v", err)
	}
}

func TestPaths(t *testing.T) {
	home := isolate(t)
	p, err := Paths()
	if err != nil {
		t.Fatal(err)
	}
	if p.ConfigDir != filepath.Join(home, "config", "radix") || p.ProfilesDir != filepath.Join(home, "config", "radix", "profiles") ||
		p.SettingsFile != filepath.Join(home, "config", "radix", "config.yaml") || p.StateDir != filepath.Join(home, "state", "radix") {
		t.Errorf("paths %+v", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_STATE_HOME", "relative/is/ignored")
	p, err = Paths()
	if err != nil {
		t.Fatal(err)
	}
	if p.ConfigDir != filepath.Join(home, ".config", "radix") || p.StateDir != filepath.Join(home, ".local", "state", "radix") {
		t.Errorf("fallback paths %+v", p)
	}
	if sp, _ := DefaultSettingsPath(); sp != p.SettingsFile {
		t.Errorf("DefaultSettingsPath %s", sp)
	}
}
