package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radixops/radix/config"
)

// runRadix runs the root command with args in an isolated XDG home and returns stdout and the error.
func runRadix(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestRenderPageSizeInBothWorkers(t *testing.T) {
	out, err := runRadix(t, "render", "sglang-disaggregated-default", "--set", "page-size=32")
	if err != nil {
		t.Fatal(err)
	}
	d, err := config.ParseDGD([]byte(out))
	if err != nil {
		t.Fatalf("output is not a DGD: %v\n%s", err, out)
	}
	for _, w := range []string{"SGLangDecodeWorker", "SGLangPrefillWorker"} {
		args := d.Spec.Services[w].ExtraPodSpec.MainContainer.Args
		if len(args) != 1 || !strings.Contains(args[0], "--page-size 32 ") || strings.Contains(args[0], "--page-size 16") {
			t.Errorf("%s args %q", w, args)
		}
	}
	if !strings.HasPrefix(out, "# DynamoGraphDeployment sglang-disaggregated-default (nvidia.com/v1beta1)") || !strings.Contains(out, "metrics-off") {
		t.Errorf("no header listing the fixes:\n%s", out)
	}
	if d.Version() != config.VersionV1Beta1 || !strings.Contains(out, "\n  components:\n") || !strings.Contains(out, "type: prefill") {
		t.Errorf("the default render is not v1beta1:\n%s", out)
	}
}

// --api-version picks the shape; --as-published is v1alpha1 unless --api-version is given.
func TestRenderAPIVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"render", "sglang-router", "--api-version", "v1alpha1"}, config.VersionV1Alpha1},
		{[]string{"render", "sglang-router", "--api-version", "v1beta1"}, config.VersionV1Beta1},
		{[]string{"render", "sglang-router", "--as-published"}, config.VersionV1Alpha1},
		{[]string{"render", "sglang-router", "--as-published", "--api-version", "v1beta1"}, config.VersionV1Beta1},
	} {
		out, err := runRadix(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		d, err := config.ParseDGD([]byte(out))
		if err != nil || d.Version() != tc.want {
			t.Errorf("%v: %v %v\n%s", tc.args, d, err, out)
		}
	}
	// As published, the v1alpha1 output is the published blueprint: the router's probes and suffix.
	out, err := runRadix(t, "render", "sglang-router", "--as-published")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2>&1 | tee /tmp/sglang-worker.log", "startupProbe:", "port: 9090", `jq -e ".status == \"healthy\""`} {
		if !strings.Contains(out, want) {
			t.Errorf("as published lacks %q:\n%s", want, out)
		}
	}
	if _, err := runRadix(t, "render", "sglang-router", "--api-version", "v2"); err == nil || !strings.Contains(err.Error(), "v1beta1") {
		t.Errorf("--api-version v2: %v", err)
	}
}

func TestRenderFlags(t *testing.T) {
	out, err := runRadix(t, "render", "sglang-router", "--name", "qwen", "-n", "team-a", "--as-published", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("-o json gave %v\n%s", err, out)
	}
	meta := obj["metadata"].(map[string]any)
	if meta["name"] != "qwen" || meta["namespace"] != "team-a" {
		t.Errorf("metadata %v", meta)
	}
	ids := map[string]bool{}
	for _, d := range config.CheckDefects(obj) {
		ids[d.ID] = true
	}
	if !ids[config.DefectKVEventsMissing] || !ids[config.DefectMetricsOff] {
		t.Errorf("--as-published fixed the defects: %v", ids)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		args     []string
		mentions []string
	}{
		{[]string{"render", "sglang-router", "--set", "page-size=33"}, []string{"page-size", "33", "power of two"}},
		{[]string{"render", "sglang-router", "--set", "pagesize=32"}, []string{"pagesize", `did you mean "page-size"`}},
		{[]string{"render", "sglang-router", "--set", "page-size"}, []string{"key=value"}},
		{[]string{"render", "sglang-routr"}, []string{"unknown profile", `did you mean "sglang-router"`}},
		{[]string{"render", "sglang-router", "--name", "a", "--set", "name=b"}, []string{"--name", "disagree"}},
		{[]string{"render", "sglang-router", "-o", "xml"}, []string{"-o", "xml"}},
		{[]string{"render", "sglang-router", "--api-version", "v1"}, []string{"--api-version", "v1alpha1"}},
		{[]string{"render"}, []string{"arg"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := runRadix(t, tc.args...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestRenderHelpListsKeys(t *testing.T) {
	out, err := runRadix(t, "render", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.OverrideKeys() {
		if !strings.Contains(out, k.Key) || !strings.Contains(out, k.Allowed) {
			t.Errorf("render --help lacks %s", k.Key)
		}
	}
}

func TestProfilesVerb(t *testing.T) {
	out, err := runRadix(t, "profiles")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(out, "SGLangDecodeWorker, SGLangPrefillWorker") {
		t.Errorf("table:\n%s", out)
	}
	out, err = runRadix(t, "profiles", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var ps []config.Profile
	if err := json.Unmarshal([]byte(out), &ps); err != nil || len(ps) != 3 || ps[2].Name != "sglang-router" {
		t.Errorf("json %v %+v", err, ps)
	}
	if out, err = runRadix(t, "profiles", "-o", "yaml"); err != nil || !strings.Contains(out, "name: sglang-router") {
		t.Errorf("yaml %v\n%s", err, out)
	}
	if _, err := runRadix(t, "profiles", "-o", "wide"); err == nil {
		t.Error("-o wide accepted")
	}
}

func TestProfilesVerbUserProfile(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, "config", "radix", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("extends: sglang-router\noverrides:\n  page-size: 64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"render", "mine"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--page-size 64") || !strings.Contains(out.String(), "name: mine") {
		t.Errorf("user profile render:\n%s", out.String())
	}
}
