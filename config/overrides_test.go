package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// workerArgs returns the split command line of a service of a rendered object.
func workerArgs(t *testing.T, d *DGD, service string) []string {
	t.Helper()
	s, ok := d.Spec.Services[service]
	if !ok {
		t.Fatalf("no service %s in %v", service, d.ServiceKeys())
	}
	w, err := splitArgs(s.argString())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func flagOf(t *testing.T, d *DGD, service, flag string) string {
	t.Helper()
	v, ok := flagValue(workerArgs(t, d, service), flag)
	if !ok {
		t.Fatalf("%s has no %s: %v", service, flag, workerArgs(t, d, service))
	}
	return v
}

func TestOverrideEffects(t *testing.T) {
	isolate(t)
	disagg := "sglang-disaggregated-default"
	workers := []string{"SGLangDecodeWorker", "SGLangPrefillWorker"}
	tests := []struct {
		key, value string
		profile    string
		check      func(t *testing.T, d *DGD)
	}{
		{"name", "my-dgd", disagg, func(t *testing.T, d *DGD) {
			if d.Metadata.Name != "my-dgd" {
				t.Errorf("name %q", d.Metadata.Name)
			}
			for k, s := range d.Spec.Services {
				if s.DynamoNamespace != "my-dgd" {
					t.Errorf("%s dynamoNamespace %q", k, s.DynamoNamespace)
				}
			}
		}},
		{"namespace", "team-a", disagg, func(t *testing.T, d *DGD) {
			if d.Metadata.Namespace != "team-a" {
				t.Errorf("namespace %q", d.Metadata.Namespace)
			}
		}},
		{"image-tag", "0.5.1", disagg, func(t *testing.T, d *DGD) {
			for k, s := range d.Spec.Services {
				if img := s.ExtraPodSpec.MainContainer.Image; img != "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.5.1" {
					t.Errorf("%s image %q", k, img)
				}
			}
		}},
		{"node-pool", "g6-pool", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if np := d.Spec.Services[k].ExtraPodSpec.NodeSelector[NodePoolLabel]; np != "g6-pool" {
					t.Errorf("%s node pool %q", k, np)
				}
			}
			if ns := d.Spec.Services["Frontend"].ExtraPodSpec.NodeSelector; len(ns) != 0 {
				t.Errorf("frontend got a node selector %v", ns)
			}
		}},
		{"model", "Qwen/Qwen3-0.6B", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if v := flagOf(t, d, k, "--model-path"); v != "Qwen/Qwen3-0.6B" {
					t.Errorf("%s --model-path %q", k, v)
				}
				if v := flagOf(t, d, k, "--served-model-name"); v != "Qwen/Qwen3-0.6B" {
					t.Errorf("%s --served-model-name %q", k, v)
				}
			}
		}},
		{"model", "/models/llama", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if v := flagOf(t, d, k, "--model-path"); v != "/models/llama" {
					t.Errorf("%s --model-path %q", k, v)
				}
			}
		}},
		{"served-model-name", "llama", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if v := flagOf(t, d, k, "--served-model-name"); v != "llama" {
					t.Errorf("%s --served-model-name %q", k, v)
				}
				if v := flagOf(t, d, k, "--model-path"); v != "deepseek-ai/DeepSeek-R1-Distill-Llama-8B" {
					t.Errorf("%s --model-path changed to %q", k, v)
				}
			}
		}},
		{"page-size", "32", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if v := flagOf(t, d, k, "--page-size"); v != "32" {
					t.Errorf("%s --page-size %q", k, v)
				}
			}
		}},
		{"tp", "4", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if v := flagOf(t, d, k, "--tp"); v != "4" {
					t.Errorf("%s --tp %q", k, v)
				}
				if g := d.Spec.Services[k].Resources.Limits.GPU; g != "4" {
					t.Errorf("%s gpu %q, want raised to the tp", k, g)
				}
			}
		}},
		{"max-total-tokens", "65536", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if v := flagOf(t, d, k, "--max-total-tokens"); v != "65536" {
					t.Errorf("%s --max-total-tokens %q", k, v)
				}
			}
		}},
		{"replicas", "3", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				if r := *d.Spec.Services[k].Replicas; r != 3 {
					t.Errorf("%s replicas %d", k, r)
				}
			}
			if r := *d.Spec.Services["Frontend"].Replicas; r != 1 {
				t.Errorf("frontend replicas %d, want untouched", r)
			}
		}},
		{"replicas", "0", "sglang-router", func(t *testing.T, d *DGD) {
			if r := *d.Spec.Services["SGLangWorker"].Replicas; r != 0 {
				t.Errorf("replicas %d", r)
			}
		}},
		{"SGLangPrefillWorker.replicas", "2", disagg, func(t *testing.T, d *DGD) {
			if r := *d.Spec.Services["SGLangPrefillWorker"].Replicas; r != 2 {
				t.Errorf("prefill replicas %d", r)
			}
			if r := *d.Spec.Services["SGLangDecodeWorker"].Replicas; r != 1 {
				t.Errorf("decode replicas %d, want untouched", r)
			}
		}},
		{"decode.cpu", "12", disagg, func(t *testing.T, d *DGD) {
			r := d.Spec.Services["SGLangDecodeWorker"].Resources
			if r.Requests.CPU != "12" || r.Limits.CPU != "12" {
				t.Errorf("decode cpu %q/%q", r.Requests.CPU, r.Limits.CPU)
			}
			if c := d.Spec.Services["SGLangPrefillWorker"].Resources.Limits.CPU; c != "8" {
				t.Errorf("prefill cpu %q, want untouched", c)
			}
		}},
		{"prefill.memory", "32Gi", disagg, func(t *testing.T, d *DGD) {
			r := d.Spec.Services["SGLangPrefillWorker"].Resources
			if r.Requests.Memory != "32Gi" || r.Limits.Memory != "32Gi" {
				t.Errorf("prefill memory %q/%q", r.Requests.Memory, r.Limits.Memory)
			}
		}},
		{"frontend.cpu", "500m", disagg, func(t *testing.T, d *DGD) {
			if c := d.Spec.Services["Frontend"].Resources.Limits.CPU; c != "500m" {
				t.Errorf("frontend cpu %q", c)
			}
		}},
		{"worker.gpu", "2", disagg, func(t *testing.T, d *DGD) {
			for _, k := range workers {
				r := d.Spec.Services[k].Resources
				if r.Requests.GPU != "2" || r.Limits.GPU != "2" {
					t.Errorf("%s gpu %q/%q", k, r.Requests.GPU, r.Limits.GPU)
				}
			}
		}},
		{"sglangworker.memory", "8Gi", "sglang-router", func(t *testing.T, d *DGD) {
			if m := d.Spec.Services["SGLangWorker"].Resources.Limits.Memory; m != "8Gi" {
				t.Errorf("memory %q (service keys match case-insensitively)", m)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			d, _ := mustRender(t, tc.profile, map[string]string{tc.key: tc.value}, false)
			tc.check(t, d)
			if defects := d.Defects(); len(defects) != 0 {
				t.Errorf("rendered with %s=%s still has defects: %v", tc.key, tc.value, defects)
			}
		})
	}
	// Every key of the table has at least one effect test above.
	tested := map[string]bool{}
	for _, tc := range tests {
		k := tc.key
		if _, f, ok := cutLast(k, "."); ok {
			k = "<service>." + f
		}
		tested[k] = true
	}
	for _, ki := range OverrideKeys() {
		if !tested[ki.Key] {
			t.Errorf("override key %s has no effect test", ki.Key)
		}
	}
}

func TestSpecificSelectorWins(t *testing.T) {
	isolate(t)
	d, _ := mustRender(t, "sglang-disaggregated-default", map[string]string{
		"worker.cpu": "4", "prefill.cpu": "6", "SGLangPrefillWorker.cpu": "7", "replicas": "2", "decode.replicas": "5",
	}, false)
	if c := d.Spec.Services["SGLangDecodeWorker"].Resources.Limits.CPU; c != "4" {
		t.Errorf("decode cpu %q, want 4 from worker.cpu", c)
	}
	if c := d.Spec.Services["SGLangPrefillWorker"].Resources.Limits.CPU; c != "7" {
		t.Errorf("prefill cpu %q, want 7 from the service key", c)
	}
	if r := *d.Spec.Services["SGLangDecodeWorker"].Replicas; r != 5 {
		t.Errorf("decode replicas %d, want 5", r)
	}
	if r := *d.Spec.Services["SGLangPrefillWorker"].Replicas; r != 2 {
		t.Errorf("prefill replicas %d, want 2", r)
	}
}

func TestOverrideErrors(t *testing.T) {
	isolate(t)
	tests := []struct {
		profile, key, value string
		sentinel            error
		mentions            []string // besides the key and value, which every message must name
	}{
		{"sglang-router", "pagesize", "32", ErrUnknownKey, []string{`did you mean "page-size"`}},
		{"sglang-router", "modle", "x/y", ErrUnknownKey, []string{`did you mean "model"`}},
		{"sglang-router", "zzzzzzzz", "1", ErrUnknownKey, []string{"allowed: name, namespace"}},
		{"sglang-router", "SGLangWorker.cpus", "3", ErrUnknownKey, []string{`did you mean "SGLangWorker.cpu"`}},
		{"sglang-router", "SGLangWorkr.cpu", "3", ErrUnknownKey, []string{`did you mean "SGLangWorker.cpu"`}},
		{"sglang-router", "prefill.cpu", "3", ErrUnknownKey, []string{"no prefill service"}},
		{"sglang-router", ".cpu", "3", ErrUnknownKey, nil},
		{"sglang-router", "model", "", ErrBadValue, []string{"Hugging Face"}},
		{"sglang-router", "model", "no-slash", ErrBadValue, []string{"Hugging Face"}},
		{"sglang-router", "model", "org/name; rm -rf /", ErrBadValue, []string{"Hugging Face"}},
		{"sglang-router", "model", "models/../x/y", ErrBadValue, nil},
		{"sglang-router", "model", "/path with space", ErrBadValue, nil},
		{"sglang-router", "served-model-name", "a b", ErrBadValue, []string{"letters, digits"}},
		{"sglang-router", "served-model-name", "", ErrBadValue, nil},
		{"sglang-router", "page-size", "33", ErrBadValue, []string{"power of two"}},
		{"sglang-router", "page-size", "0", ErrBadValue, []string{"1 to 256"}},
		{"sglang-router", "page-size", "512", ErrBadValue, []string{"1 to 256"}},
		{"sglang-router", "page-size", "sixteen", ErrBadValue, []string{"not an integer"}},
		{"sglang-router", "tp", "0", ErrBadValue, []string{"≥ 1"}},
		{"sglang-router", "tp", "1.5", ErrBadValue, []string{"not an integer"}},
		{"sglang-router", "replicas", "-1", ErrBadValue, []string{"≥ 0"}},
		{"sglang-router", "replicas", "99999999999", ErrBadValue, []string{"out of range"}},
		{"sglang-router", "Frontend.replicas", "x", ErrBadValue, nil},
		{"sglang-router", "max-total-tokens", "0", ErrBadValue, []string{"≥ 1"}},
		{"sglang-router", "namespace", "Team_A", ErrBadValue, []string{"RFC 1123"}},
		{"sglang-router", "namespace", strings.Repeat("a", 64), ErrBadValue, nil},
		{"sglang-router", "name", "My.DGD", ErrBadValue, []string{"RFC 1123"}},
		{"sglang-router", "name", strings.Repeat("a", 64), ErrBadValue, []string{"63"}},
		// Valid alone, but the component name <dgd>-sglangprefillworker would pass 63 characters.
		{"sglang-disaggregated-default", "name", strings.Repeat("a", 40), ErrBadValue, []string{"sglangprefillworker", "at most 34"}},
		{"sglang-router", "node-pool", "bad pool", ErrBadValue, []string{"label value"}},
		{"sglang-router", "node-pool", "", ErrBadValue, nil},
		{"sglang-router", "image-tag", "-bad", ErrBadValue, []string{"OCI image tag"}},
		{"sglang-router", "image-tag", "a:b", ErrBadValue, nil},
		{"sglang-router", "worker.cpu", "lots", ErrBadValue, []string{"quantity"}},
		{"sglang-router", "worker.cpu", "-1", ErrBadValue, []string{"not positive"}},
		{"sglang-router", "worker.memory", "0", ErrBadValue, []string{"not positive"}},
		{"sglang-router", "worker.gpu", "0.5", ErrBadValue, []string{"≥ 0"}},
		{"sglang-router", "worker.gpu", "-1", ErrBadValue, nil},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := Resolve(tc.profile, map[string]string{tc.key: tc.value})
			if err == nil {
				t.Fatalf("Resolve accepted %s=%q", tc.key, tc.value)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v is not %v", err, tc.sentinel)
			}
			msg := err.Error()
			for _, m := range append([]string{tc.key, tc.value}, tc.mentions...) {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
		})
	}
}

func TestTPNeedsGPUs(t *testing.T) {
	isolate(t)
	_, err := Resolve("sglang-router", map[string]string{"tp": "2", "worker.gpu": "1"})
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "worker.gpu") || !strings.Contains(err.Error(), "--tp 2") {
		t.Errorf("tp=2 with worker.gpu=1: got %v", err)
	}
	if _, err := Resolve("sglang-router", map[string]string{"tp": "2", "worker.gpu": "4"}); err != nil {
		t.Errorf("tp=2 with 4 GPUs: %v", err)
	}
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		in, key, value string
		ok             bool
	}{
		{"page-size=32", "page-size", "32", true},
		{" tp = 2 ", "tp", "2", true},
		{"model=a/b=c", "model", "a/b=c", true},
		{"name=", "name", "", true},
		{"page-size", "", "", false},
		{"=32", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		k, v, err := ParseSet(tc.in)
		if (err == nil) != tc.ok || k != tc.key || v != tc.value {
			t.Errorf("ParseSet(%q) = %q, %q, %v", tc.in, k, v, err)
		}
	}
	if _, err := ParseSets([]string{"tp=1", "tp=2"}); err == nil {
		t.Error("ParseSets accepted a key given twice with different values")
	}
	m, err := ParseSets([]string{"tp=1", "page-size=8", "tp=1"})
	if err != nil || len(m) != 2 || m["tp"] != "1" || m["page-size"] != "8" {
		t.Errorf("ParseSets = %v, %v", m, err)
	}
}

func TestOverrideKeysDocumented(t *testing.T) {
	help := KeysHelp()
	for _, k := range OverrideKeys() {
		if k.Description == "" || k.Allowed == "" || k.Example == "" {
			t.Errorf("key %s is missing help text: %+v", k.Key, k)
		}
		if !strings.Contains(help, k.Key) {
			t.Errorf("KeysHelp lacks %s", k.Key)
		}
		// Every example must itself be a valid override.
		key, value, err := ParseSet(k.Example)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(key, value); err != nil {
			t.Errorf("example %s of %s is invalid: %v", k.Example, k.Key, err)
		}
	}
	if !slices.ContainsFunc(OverrideKeys(), func(k KeyInfo) bool { return k.Key == "<service>.gpu" }) {
		t.Error("no <service>.gpu key")
	}
}
