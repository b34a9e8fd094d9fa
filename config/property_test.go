package config

import (
	"reflect"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// Any combination of valid overrides renders an object that has no known defect, carries exactly the
// values asked for in every worker, parses back to itself, and plans the same page size locally.
func TestPropertyValidOverridesRender(t *testing.T) {
	isolate(t)
	rapid.Check(t, func(rt *rapid.T) {
		profile := rapid.SampledFrom(builtinNamesForTest).Draw(rt, "profile")
		ps := 1 << rapid.IntRange(0, 8).Draw(rt, "log2 page size")
		tp := rapid.IntRange(1, 8).Draw(rt, "tp")
		replicas := rapid.IntRange(0, 5).Draw(rt, "replicas")
		ov := map[string]string{
			"page-size": strconv.Itoa(ps),
			"tp":        strconv.Itoa(tp),
			"replicas":  strconv.Itoa(replicas),
		}
		if rapid.Bool().Draw(rt, "set model") {
			ov["model"] = rapid.SampledFrom([]string{"Qwen/Qwen3-0.6B", "/models/tiny", "meta-llama/Llama-3.2-1B"}).Draw(rt, "model")
		}
		if rapid.Bool().Draw(rt, "set name") {
			ov["name"] = rapid.StringMatching(`[a-z][a-z0-9-]{0,20}[a-z0-9]`).Draw(rt, "name")
		}
		if rapid.Bool().Draw(rt, "set mtt") {
			ov["max-total-tokens"] = strconv.Itoa(rapid.IntRange(1, 1<<20).Draw(rt, "max total tokens"))
		}
		spec, err := Resolve(profile, ov)
		if err != nil {
			rt.Fatalf("valid overrides %v refused: %v", ov, err)
		}
		d, _, err := Render(spec, RenderOptions{})
		if err != nil {
			rt.Fatal(err)
		}
		if ds := d.Defects(); len(ds) != 0 {
			rt.Fatalf("defects %v", ds)
		}
		for _, k := range d.ServiceKeys() {
			s := d.Spec.Services[k]
			w, err := splitArgs(s.argString())
			if err != nil {
				rt.Fatal(err)
			}
			if pythonModule(w) != moduleSGLang {
				continue
			}
			if v, _ := flagValue(w, "--page-size"); v != ov["page-size"] {
				rt.Fatalf("%s --page-size %s, want %s", k, v, ov["page-size"])
			}
			if v, _ := flagValue(w, "--tp"); v != ov["tp"] {
				rt.Fatalf("%s --tp %s", k, v)
			}
			if s.gpus() < tp {
				rt.Fatalf("%s has %d GPUs for tp %d", k, s.gpus(), tp)
			}
			if int(*s.Replicas) != replicas {
				rt.Fatalf("%s replicas %d", k, *s.Replicas)
			}
			if m, ok := ov["model"]; ok {
				if v, _ := flagValue(w, "--model-path"); v != m {
					rt.Fatalf("%s model %s", k, v)
				}
			}
			if m, ok := ov["max-total-tokens"]; ok {
				if v, _ := flagValue(w, "--max-total-tokens"); v != m {
					rt.Fatalf("%s max-total-tokens %s", k, v)
				}
			}
		}
		if n, ok := ov["name"]; ok && d.Metadata.Name != n {
			rt.Fatalf("name %s", d.Metadata.Name)
		}
		y, err := d.YAML()
		if err != nil {
			rt.Fatal(err)
		}
		back, err := ParseDGD(y)
		if err != nil || !reflect.DeepEqual(back, stripRenderState(d)) {
			rt.Fatalf("round trip: %v", err)
		}
		for _, p := range LocalPlan(spec) {
			if p.Role == RoleFrontend {
				continue
			}
			if v, _ := flagValue(p.Args, "--page-size"); v != ov["page-size"] {
				rt.Fatalf("local %s --page-size %s", p.Service, v)
			}
		}
	})
}

func BenchmarkResolveRender(b *testing.B) {
	b.Setenv("XDG_CONFIG_HOME", b.TempDir())
	ov := map[string]string{"page-size": "32", "worker.cpu": "4", "model": "Qwen/Qwen3-0.6B"}
	b.ReportAllocs()
	for b.Loop() {
		spec, err := Resolve("sglang-disaggregated-default", ov)
		if err != nil {
			b.Fatal(err)
		}
		d, _, err := Render(spec, RenderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.YAML(); err != nil {
			b.Fatal(err)
		}
	}
}
