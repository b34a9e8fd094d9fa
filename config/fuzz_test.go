package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseSet: any --set argument either parses into a key and value that together say the same
// thing, or is refused with an error; validation never panics and refuses with a typed error.
func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"page-size=32", "model=Qwen/Qwen3-0.6B", "SGLangWorker.cpu=4", "=", "x", "a=b=c", " tp = 2 ", "worker.gpu=-1", "name=\x00", "decode.replicas=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := ParseSet(s)
		if err != nil {
			if strings.Contains(s, "=") && strings.TrimSpace(s[:strings.Index(s, "=")]) != "" {
				t.Fatalf("ParseSet(%q) refused a key=value: %v", s, err)
			}
			return
		}
		if k == "" || k != strings.TrimSpace(k) || v != strings.TrimSpace(v) || !strings.Contains(s, k) || !strings.Contains(s, v) {
			t.Fatalf("ParseSet(%q) = %q, %q", s, k, v)
		}
		if err := Validate(k, v); err != nil {
			var oe *OverrideError
			if !errors.As(err, &oe) || (!errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadValue)) {
				t.Fatalf("Validate(%q, %q) gave an untyped error %v", k, v, err)
			}
			return
		}
		// A value Validate accepts must survive Resolve on every profile that has its selector, and
		// must land in the args as one shell word.
		base, _, err := lookupBuiltin("sglang-router")
		if err != nil {
			t.Fatal(err)
		}
		spec, err := resolveProfile(base, map[string]string{k: v})
		if err != nil {
			var oe *OverrideError
			if !errors.As(err, &oe) {
				t.Fatalf("Resolve(%q=%q) gave an untyped error %v", k, v, err)
			}
			return
		}
		for _, key := range spec.Services() {
			if _, err := splitArgs(spec.DGD.Spec.Services[key].argString()); err != nil {
				t.Fatalf("%s=%q broke the command line of %s: %v", k, v, key, err)
			}
		}
	})
}

// FuzzUserProfile: any bytes as a user profile either load or give a positioned error naming the
// file; a profile that loads resolves and renders.
func FuzzUserProfile(f *testing.F) {
	for _, s := range []string{
		"extends: sglang-router\noverrides:\n  page-size: 32\n",
		"extends: sglang-aggregated-default\ndescription: x\noverrides:\n  worker.cpu: 2\n  model: /m/x\n",
		"extends: sglang-routr\n", "overrides: [\n", "- a\n", "", "extends: &a sglang-router\ndescription: *a\n",
		"extends: !!str sglang-router\n", "extends: sglang-router\noverrides:\n  tp: {a: 1}\n",
		"extends: \"sglang-router\"\noverrides:\n  name: x\n  namespace: y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseUserProfile("fuzzed", "fuzzed.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzzed.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		spec, err := resolveProfile(p, nil)
		if err != nil {
			t.Fatalf("a profile that loaded does not resolve: %v", err)
		}
		d, _, err := Render(spec, RenderOptions{})
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if _, err := d.YAML(); err != nil {
			t.Fatalf("yaml: %v", err)
		}
	})
}

// FuzzSettings: any bytes as config.yaml give settings within their limits or a positioned error.
func FuzzSettings(f *testing.F) {
	for _, s := range []string{"namespace: a\nlogBuffer: 100\n", "theme:\n  colors:\n    a: '#fff'\n", "keymap:\n  q: [x]\n", "refreshInterval: 1s\n", "[", "a: b: c", "favouriteNamespaces: [a, b]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSettings("c.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "c.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.LogBuffer < MinLogBuffer || s.LogBuffer > MaxLogBuffer || s.RefreshInterval < MinRefreshInterval ||
			s.RefreshInterval > MaxRefreshInterval || checkLabel(s.Namespace) != nil || len(s.FavouriteNamespaces) > MaxFavourites {
			t.Fatalf("settings out of their limits: %+v", s)
		}
	})
}

// FuzzParseDGD: any bytes either fail to parse or give an object (of either API version) whose defect
// check and YAML work, whose YAML parses back to the same object, and which translates to the other
// version and back without losing what both versions hold.
func FuzzParseDGD(f *testing.F) {
	f.Add([]byte("apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata: {name: a}\nspec:\n  services:\n    W: {componentType: worker, extraPodSpec: {mainContainer: {args: ['python3 -m dynamo.sglang --tp 1 2>&1 | tee /tmp/x']}}, resources: {limits: {gpu: '1'}}}\n"))
	f.Add([]byte("apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata: {name: a, namespace: dynamo-system}\nspec: {services: {F: null}}\n"))
	f.Add([]byte("apiVersion: nvidia.com/v1beta1\nkind: DynamoGraphDeployment\nmetadata: {name: a}\nspec:\n  env: [{name: A, value: b}]\n  components:\n    - {name: F, type: frontend, podTemplate: {spec: {containers: [{name: main, args: ['python3 -m dynamo.frontend --router-mode kv']}]}}}\n    - {name: P, type: prefill, sharedMemorySize: '0', podTemplate: {spec: {containers: [{name: main, envFrom: [{secretRef: {name: s}}], resources: {limits: {nvidia.com/gpu: '1'}}, args: ['python3 -m dynamo.sglang --disaggregation-mode prefill']}]}}}\n"))
	f.Add([]byte("apiVersion: nvidia.com/v1beta1\nkind: DynamoGraphDeployment\nmetadata: {name: a}\nspec: {components: [{name: x, type: decode}]}\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDGD(data)
		if err != nil {
			return
		}
		_ = d.Defects()
		_ = CheckDefects(d.Object())
		y, err := d.YAML()
		if err != nil {
			t.Fatalf("YAML of a parsed object: %v", err)
		}
		back, err := ParseDGD(y)
		if err != nil {
			t.Fatalf("a parsed object's YAML does not parse back: %v\n%s", err, y)
		}
		if back.Version() != d.Version() {
			t.Fatalf("version %s became %s", d.Version(), back.Version())
		}
		// Written as v1beta1 and read back, the roles and command lines stay.
		c := d.DeepCopy()
		c.APIVersion = APIVersionV1Beta1
		yb, err := c.YAML()
		if err != nil {
			t.Fatalf("v1beta1 YAML: %v", err)
		}
		b, err := ParseDGD(yb)
		if err != nil {
			t.Fatalf("the v1beta1 translation does not parse: %v\n%s", err, yb)
		}
		for k, s := range d.Spec.Services {
			bs := b.Spec.Services[k]
			if bs == nil || bs.argString() != s.argString() || serviceRole(bs) != serviceRole(s) || bs.gpus() != s.gpus() {
				t.Fatalf("service %s changed in translation: %+v vs %+v", k, s, bs)
			}
		}
	})
}
