package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// isolate points the XDG directories at an empty temporary home, so no user profile or settings file
// of the machine running the tests leaks in.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	return home
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// mustRender renders v1alpha1, the model's own shape; mustRenderV renders the version asked for.
func mustRender(t *testing.T, profile string, overrides map[string]string, asPublished bool) (*DGD, []Fix) {
	t.Helper()
	return mustRenderV(t, profile, overrides, asPublished, VersionV1Alpha1)
}

func mustRenderV(t *testing.T, profile string, overrides map[string]string, asPublished bool, version string) (*DGD, []Fix) {
	t.Helper()
	spec, err := Resolve(profile, overrides)
	if err != nil {
		t.Fatalf("Resolve(%s, %v): %v", profile, overrides, err)
	}
	d, fixes, err := Render(spec, RenderOptions{AsPublished: asPublished, APIVersion: version})
	if err != nil {
		t.Fatalf("Render(%s): %v", profile, err)
	}
	return d, fixes
}

var builtinNamesForTest = []string{"sglang-aggregated-default", "sglang-disaggregated-default", "sglang-router"}

func TestGoldenRender(t *testing.T) {
	isolate(t)
	for _, name := range builtinNamesForTest {
		for _, asPublished := range []bool{false, true} {
			for _, version := range []string{VersionV1Alpha1, VersionV1Beta1} {
				file := name
				if asPublished {
					file += ".as-published"
				}
				if version == VersionV1Beta1 {
					file += ".v1beta1"
				}
				file += ".yaml"
				t.Run(file, func(t *testing.T) {
					d, _ := mustRenderV(t, name, nil, asPublished, version)
					y, err := d.YAML()
					if err != nil {
						t.Fatal(err)
					}
					golden(t, file, y)
				})
			}
		}
	}
}
