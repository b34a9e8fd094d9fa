package config

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// stripRenderState clears what YAML does not carry (the header state), for comparisons.
func stripRenderState(d *DGD) *DGD {
	c := *d
	c.profile, c.fixes, c.asPublished, c.rendered = "", nil, false, false
	return &c
}

func TestRenderedYAMLParsesBack(t *testing.T) {
	isolate(t)
	cases := []map[string]string{nil, {"page-size": "64", "model": "Qwen/Qwen3-0.6B", "worker.memory": "24Gi", "name": "rt"}}
	for _, name := range builtinNamesForTest {
		for _, ov := range cases {
			for _, asPublished := range []bool{false, true} {
				for _, version := range []string{VersionV1Alpha1, VersionV1Beta1} {
					d, _ := mustRenderV(t, name, ov, asPublished, version)
					y, err := d.YAML()
					if err != nil {
						t.Fatal(err)
					}
					back, err := ParseDGD(y)
					if err != nil {
						t.Fatalf("%s: rendered YAML does not parse back: %v\n%s", name, err, y)
					}
					if !reflect.DeepEqual(back, stripRenderState(d)) {
						t.Errorf("%s %v as-published=%v: YAML round trip changed the object:\nwant %+v\ngot  %+v", name, ov, asPublished, d, back)
					}
					// JSON and the unstructured map agree with the YAML.
					j, err := d.JSON()
					if err != nil {
						t.Fatal(err)
					}
					backJ, err := ParseDGD(j)
					if err != nil || !reflect.DeepEqual(backJ, back) {
						t.Errorf("%s: JSON round trip differs: %v", name, err)
					}
					fromObj, err := FromObject(d.Object())
					if err != nil || !reflect.DeepEqual(fromObj, back) {
						t.Errorf("%s: Object() round trip differs: %v", name, err)
					}
					if back.Version() != version || d.Object()["apiVersion"] != Group+"/"+version {
						t.Errorf("%s: rendered %s as %s / %v", name, version, back.Version(), d.Object()["apiVersion"])
					}
				}
			}
		}
	}
}

func TestObjectUsesInt64(t *testing.T) {
	isolate(t)
	d, _ := mustRender(t, "sglang-router", nil, false)
	obj := d.Object()
	svc := obj["spec"].(map[string]any)["services"].(map[string]any)["SGLangWorker"].(map[string]any)
	if r, ok := svc["replicas"].(int64); !ok || r != 2 {
		t.Errorf("replicas is %T %v, want int64 2 (client-go's unstructured numbers)", svc["replicas"], svc["replicas"])
	}
	if obj["apiVersion"] != APIVersion || obj["kind"] != KindDGD {
		t.Errorf("apiVersion/kind %v %v", obj["apiVersion"], obj["kind"])
	}
	b, _ := mustRenderV(t, "sglang-router", nil, false, VersionV1Beta1)
	comps := b.Object()["spec"].(map[string]any)["components"].([]any)
	if r, ok := comps[1].(map[string]any)["replicas"].(int64); !ok || r != 2 {
		t.Errorf("v1beta1 replicas is %T %v, want int64 2", comps[1].(map[string]any)["replicas"], comps[1].(map[string]any)["replicas"])
	}
}

// The as-published rendering must mean exactly what the embedded blueprint says.
func TestAsPublishedMatchesBlueprint(t *testing.T) {
	isolate(t)
	for _, name := range builtinNamesForTest {
		raw, err := catalogFS.ReadFile("profiles/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Blueprint map[string]any `json:"blueprint"`
		}
		if err := yaml.Unmarshal(raw, &file); err != nil {
			t.Fatal(err)
		}
		d, fixes := mustRender(t, name, nil, true)
		if len(fixes) != 0 {
			t.Errorf("%s as published applied fixes %v", name, fixes)
		}
		var got map[string]any
		b, _ := json.Marshal(d)
		_ = json.Unmarshal(b, &got)
		want := file.Blueprint
		if !reflect.DeepEqual(got["spec"], jsonRoundTrip(t, want["spec"])) {
			t.Errorf("%s: as-published spec differs from the blueprint", name)
		}
		meta := got["metadata"].(map[string]any)
		wantMeta := want["metadata"].(map[string]any)
		if meta["name"] != wantMeta["name"] || meta["namespace"] != wantMeta["namespace"] {
			t.Errorf("%s: metadata %v vs %v", name, meta, wantMeta)
		}
		y, _ := d.YAML()
		if !strings.Contains(string(y), "as published") {
			t.Errorf("%s: header does not say as published", name)
		}
	}
}

func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The reference facts of REFERENCE §1, checked on the typed blueprints.
func TestCatalogFacts(t *testing.T) {
	isolate(t)
	type svc struct {
		ct            string
		replicas      int32
		cpu, mem, gpu string
		argsContain   string
	}
	want := map[string]map[string]svc{
		"sglang-aggregated-default": {
			"Frontend":     {"frontend", 1, "5", "10Gi", "", "python3 -m dynamo.frontend --http-port=8000"},
			"SGLangWorker": {"worker", 1, "10", "20Gi", "1", "--model-path deepseek-ai/DeepSeek-R1-Distill-Llama-8B --served-model-name deepseek-ai/DeepSeek-R1-Distill-Llama-8B --page-size 16 --tp 1 --trust-remote-code --skip-tokenizer-init"},
		},
		"sglang-disaggregated-default": {
			"Frontend":            {"frontend", 1, "2", "4Gi", "", "python3 -m dynamo.frontend --http-port=8000"},
			"SGLangDecodeWorker":  {"worker", 1, "8", "20Gi", "1", "--skip-tokenizer-init --disaggregation-mode decode --disaggregation-transfer-backend nixl"},
			"SGLangPrefillWorker": {"worker", 1, "8", "20Gi", "1", "--skip-tokenizer-init --disaggregation-mode prefill --disaggregation-transfer-backend nixl"},
		},
		"sglang-router": {
			"Frontend":     {"frontend", 1, "2", "4Gi", "", "python3 -m dynamo.frontend --http-port 8000 --router-mode kv --kv-overlap-score-weight 1.0 --router-temperature 0.1"},
			"SGLangWorker": {"worker", 2, "6", "16Gi", "1", "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --page-size 16 --tp 1 --trust-remote-code --skip-tokenizer-init"},
		},
	}
	ps, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != len(want) {
		t.Fatalf("%d built-ins, want %d", len(ps), len(want))
	}
	for _, p := range ps {
		d := p.blueprint
		if p.Description == "" || strings.Contains(p.Description, "\n") {
			t.Errorf("%s: want a one-line description, got %q", p.Name, p.Description)
		}
		if d.APIVersion != APIVersion || d.Kind != KindDGD || d.Metadata.Namespace != DefaultNamespace {
			t.Errorf("%s: %s %s in %s", p.Name, d.APIVersion, d.Kind, d.Metadata.Namespace)
		}
		w := want[p.Name]
		if len(d.Spec.Services) != len(w) {
			t.Errorf("%s: services %v", p.Name, d.ServiceKeys())
		}
		for k, ws := range w {
			s := d.Spec.Services[k]
			if s == nil {
				t.Errorf("%s: no %s", p.Name, k)
				continue
			}
			mc := s.ExtraPodSpec.MainContainer
			r := s.Resources
			switch {
			case s.ComponentType != ws.ct, *s.Replicas != ws.replicas,
				*r.Requests != *r.Limits, r.Limits.CPU != ws.cpu, r.Limits.Memory != ws.mem, r.Limits.GPU != ws.gpu,
				len(mc.Args) != 1 || !strings.Contains(mc.Args[0], ws.argsContain),
				mc.Image != "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.5.0",
				mc.WorkingDir != "/workspace/components/backends/sglang",
				!slices.Equal(mc.Command, wantCommand(p.Name, ws.ct)),
				s.DynamoNamespace != d.Metadata.Name:
				t.Errorf("%s/%s does not match the reference: %+v %+v %+v", p.Name, k, s, *r.Limits, mc)
			}
			if ws.ct == "worker" {
				if s.EnvFromSecret != HFTokenSecret || s.ExtraPodSpec.NodeSelector[NodePoolLabel] != "g5-gpu-karpenter" {
					t.Errorf("%s/%s: secret %q node selector %v", p.Name, k, s.EnvFromSecret, s.ExtraPodSpec.NodeSelector)
				}
			}
		}
	}
}

// wantCommand is the published command: /bin/sh -c everywhere but the aggregated and disaggregated
// frontends, which use sh -c.
func wantCommand(profile, componentType string) []string {
	if componentType == ComponentFrontend && profile != "sglang-router" {
		return []string{"sh", "-c"}
	}
	return []string{"/bin/sh", "-c"}
}

func TestFixesAndDefectsAgree(t *testing.T) {
	isolate(t)
	all := []string{DefectREADMESelectors, DefectMetricsOff, DefectGPUToleration, ChangeProbes}
	wantFixes := map[string][]string{
		"sglang-aggregated-default":    all,
		"sglang-disaggregated-default": all,
		"sglang-router":                {DefectREADMESelectors, DefectMetricsOff, DefectKVEventsMissing, DefectGPUToleration, ChangeProbes},
	}
	for _, name := range builtinNamesForTest {
		for _, version := range []string{VersionV1Alpha1, VersionV1Beta1} {
			fixed, fixes := mustRenderV(t, name, nil, false, version)
			var ids []string
			for _, f := range fixes {
				ids = append(ids, f.ID)
				if f.Sentence == "" || (len(f.Services) == 0 && f.ID != DefectREADMESelectors) {
					t.Errorf("%s: fix without a sentence or services: %+v", name, f)
				}
			}
			if !slices.Equal(ids, wantFixes[name]) {
				t.Errorf("%s %s: fixes %v, want %v", name, version, ids, wantFixes[name])
			}
			if ds := CheckDefects(fixed.Object()); len(ds) != 0 {
				t.Errorf("%s %s: the default rendering has defects %v", name, version, ds)
			}
			y, _ := fixed.YAML()
			for _, f := range fixes {
				if !strings.Contains(string(y), "#   - "+f.String()) {
					t.Errorf("%s: the header does not list fix %s", name, f.ID)
				}
			}
			published, _ := mustRenderV(t, name, nil, true, version)
			found := map[string]Defect{}
			for _, df := range CheckDefects(published.Object()) {
				found[df.ID] = df
			}
			for _, id := range ids {
				if _, ok := found[id]; !ok && id != ChangeProbes {
					t.Errorf("%s %s: fix %s has no matching defect in the as-published object", name, version, id)
				}
			}
			// The GPU toleration is advice (EKS adds it), the rest are defects.
			for id, df := range found {
				if df.Advice != (id == DefectGPUToleration) {
					t.Errorf("%s: %s has Advice %v", name, id, df.Advice)
				}
			}
			// Rendering what is already fixed changes nothing: the fixes are idempotent.
			spec := &Spec{Profile: name, DGD: stripRenderState(fixed)}
			again, more, err := Render(spec, RenderOptions{APIVersion: version})
			var moreIDs []string
			for _, f := range more {
				moreIDs = append(moreIDs, f.ID)
			}
			if err != nil || !slices.Equal(moreIDs, []string{DefectREADMESelectors}) || !reflect.DeepEqual(again.Spec, fixed.Spec) {
				t.Errorf("%s %s: re-rendering a fixed object made fixes %v (%v)", name, version, moreIDs, err)
			}
		}
	}
}

func TestRenderFixContents(t *testing.T) {
	isolate(t)
	d, _ := mustRender(t, "sglang-router", nil, false)
	w := workerArgs(t, d, "SGLangWorker")
	if v, _ := flagValue(w, "--kv-events-config"); v != KVEventsConfig {
		t.Errorf("--kv-events-config %q", v)
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(KVEventsConfig), &cfg); err != nil || cfg["publisher"] != "zmq" {
		t.Errorf("KVEventsConfig is not the JSON SGLang expects: %v %v", cfg, err)
	}
	if !hasFlag(w, "--enable-metrics") {
		t.Error("no --enable-metrics")
	}
	s := d.Spec.Services["SGLangWorker"]
	if !hasGPUToleration(s) {
		t.Error("no GPU toleration")
	}
	if hasGPUToleration(d.Spec.Services["Frontend"]) {
		t.Error("the frontend (no GPU) got a GPU toleration")
	}
	if hasFlag(workerArgs(t, d, "Frontend"), "--enable-metrics") {
		t.Error("the frontend got an SGLang flag")
	}
	if d.Metadata.Annotations[AnnotationProfile] != "sglang-router" || d.Metadata.Annotations[AnnotationOverrides] != "{}" {
		t.Errorf("annotations %v", d.Metadata.Annotations)
	}
	agg, _ := mustRender(t, "sglang-aggregated-default", nil, false)
	if hasFlag(workerArgs(t, agg, "SGLangWorker"), "--kv-events-config") {
		t.Error("a worker without a KV router got --kv-events-config")
	}
}

func TestCheckDefectsOnClusterObjects(t *testing.T) {
	isolate(t)
	for _, version := range []string{VersionV1Alpha1, VersionV1Beta1} {
		// A deployment in the platform's namespace (or any other) is normal: no defect.
		d, _ := mustRenderV(t, "sglang-router", map[string]string{"namespace": PlatformNamespace}, false, version)
		obj := d.Object()
		obj["status"] = map[string]any{"state": "successful"} // what a cluster adds must not matter
		obj["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "radix"}}
		if ds := CheckDefects(obj); len(ds) != 0 {
			t.Errorf("%s: defects %v, want none", version, ds)
		}
		p, _ := mustRenderV(t, "sglang-router", nil, true, version)
		got := map[string]bool{}
		for _, df := range CheckDefects(p.Object()) {
			got[df.ID+"/"+df.Service] = true
		}
		for _, want := range []string{DefectREADMESelectors + "/", DefectMetricsOff + "/SGLangWorker", DefectKVEventsMissing + "/SGLangWorker", DefectGPUToleration + "/SGLangWorker"} {
			if !got[want] {
				t.Errorf("%s as published: no %s in %v", version, want, got)
			}
		}
	}
	// A v1beta1 object as the operator stores it: a sidecar and more envFrom than radix models are
	// left out, the defects still read.
	beta := map[string]any{"apiVersion": APIVersionV1Beta1, "kind": KindDGD, "metadata": map[string]any{"name": "x"},
		"spec": map[string]any{"components": []any{
			map[string]any{"name": "Frontend", "type": "frontend", "podTemplate": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "main", "args": []any{"python3 -m dynamo.frontend --router-mode kv"}}}}}},
			map[string]any{"name": "W", "type": "worker", "podTemplate": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "main", "args": []any{"python3 -m dynamo.sglang --enable-metrics"},
					"resources": map[string]any{"limits": map[string]any{"nvidia.com/gpu": "1", "ephemeral-storage": "1Gi"}},
					"envFrom":   []any{map[string]any{"configMapRef": map[string]any{"name": "c"}}, map[string]any{"secretRef": map[string]any{"name": "s"}}}},
				map[string]any{"name": "sidecar", "image": "busybox"}}}}},
		}}}
	ds := CheckDefects(beta)
	if len(ds) != 2 || ds[0].ID != DefectKVEventsMissing || ds[1].ID != DefectGPUToleration || !ds[1].Advice {
		t.Errorf("v1beta1 cluster object: %v", ds)
	}
	bad := CheckDefects(map[string]any{"spec": "not a map"})
	if len(bad) != 1 || bad[0].ID != DefectUnreadable {
		t.Errorf("unreadable object gave %v", bad)
	}
	bad = CheckDefects(map[string]any{"apiVersion": APIVersionV1Beta1, "spec": map[string]any{"components": "x"}})
	if len(bad) != 1 || bad[0].ID != DefectUnreadable {
		t.Errorf("unreadable v1beta1 object gave %v", bad)
	}
	if ds := CheckDefects(map[string]any{}); len(ds) != 0 {
		t.Errorf("an empty object gave %v", ds)
	}
}

func TestRenderNilSpec(t *testing.T) {
	if _, _, err := Render(nil, RenderOptions{}); err == nil {
		t.Error("Render(nil) succeeded")
	}
}
