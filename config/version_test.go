package config

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// deployed is what a component comes to in the cluster, read from an unstructured object of either
// version by rules written from the operator's documented behaviour (REFERENCE §2, §9), not by the
// package's own translation: the v1alpha1 main container is the service's resources, envs (spec envs
// first, then the service's, then mainContainer's), secret and probes merged with mainContainer; the
// v1beta1 one is spec.env followed by the podTemplate's "main" container.
type deployed struct {
	Role                 string // frontend | worker | prefill | decode
	Replicas             int64
	Image, WorkingDir    string
	Command, Args        []any
	Requests, Limits     map[string]any
	Env                  []any
	Secret               string
	Live, Ready, Startup any
	NodeSelector         any
	Tolerations          any
}

func m(v any) map[string]any { r, _ := v.(map[string]any); return r }

func gpuName(res map[string]any) map[string]any {
	if res == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range res {
		if k == "gpu" {
			k = GPUResourceName
		}
		out[k] = v
	}
	return out
}

func mergeEnvAny(lists ...[]any) []any {
	var out []any
	for _, l := range lists {
		for _, e := range l {
			name := m(e)["name"]
			i := -1
			for j, o := range out {
				if m(o)["name"] == name {
					i = j
				}
			}
			if i >= 0 {
				out[i] = e
			} else {
				out = append(out, e)
			}
		}
	}
	return out
}

func roleFromArgs(t string, args []any) string {
	if t != ComponentWorker {
		return t
	}
	for _, a := range args {
		s, _ := a.(string)
		for _, r := range []string{RolePrefill, RoleDecode} {
			if strings.Contains(s, "--disaggregation-mode "+r) || strings.Contains(s, "--disaggregation-mode="+r) {
				return r
			}
		}
	}
	return t
}

func readDeployed(t *testing.T, obj map[string]any) map[string]deployed {
	t.Helper()
	spec := m(obj["spec"])
	out := map[string]deployed{}
	switch obj["apiVersion"] {
	case APIVersionV1Alpha1:
		specEnv, _ := spec["envs"].([]any)
		for k, v := range m(spec["services"]) {
			s := m(v)
			mc := m(m(s["extraPodSpec"])["mainContainer"])
			eps := m(s["extraPodSpec"])
			svcEnv, _ := s["envs"].([]any)
			mcEnv, _ := mc["env"].([]any)
			args, _ := mc["args"].([]any)
			cmd, _ := mc["command"].([]any)
			secret, _ := s["envFromSecret"].(string)
			ct, _ := s["componentType"].(string)
			rep, _ := s["replicas"].(int64)
			img, _ := mc["image"].(string)
			wd, _ := mc["workingDir"].(string)
			out[k] = deployed{Role: roleFromArgs(ct, args), Replicas: rep, Image: img, WorkingDir: wd, Command: cmd, Args: args,
				Requests: gpuName(m(m(s["resources"])["requests"])), Limits: gpuName(m(m(s["resources"])["limits"])),
				Env: mergeEnvAny(specEnv, svcEnv, mcEnv), Secret: secret,
				Live: s["livenessProbe"], Ready: s["readinessProbe"], Startup: mc["startupProbe"],
				NodeSelector: eps["nodeSelector"], Tolerations: eps["tolerations"]}
		}
	case APIVersionV1Beta1:
		specEnv, _ := spec["env"].([]any)
		comps, _ := spec["components"].([]any)
		for _, c := range comps {
			cm := m(c)
			ps := m(m(cm["podTemplate"])["spec"])
			ctrs, _ := ps["containers"].([]any)
			if len(ctrs) != 1 || m(ctrs[0])["name"] != MainContainerName {
				t.Fatalf("component %v: containers %v, want one named main", cm["name"], ctrs)
			}
			main := m(ctrs[0])
			env, _ := main["env"].([]any)
			args, _ := main["args"].([]any)
			cmd, _ := main["command"].([]any)
			secret := ""
			if ef, _ := main["envFrom"].([]any); len(ef) == 1 {
				secret, _ = m(m(ef[0])["secretRef"])["name"].(string)
			}
			typ, _ := cm["type"].(string)
			rep, _ := cm["replicas"].(int64)
			img, _ := main["image"].(string)
			wd, _ := main["workingDir"].(string)
			name, _ := cm["name"].(string)
			out[name] = deployed{Role: typ, Replicas: rep, Image: img, WorkingDir: wd, Command: cmd, Args: args,
				Requests: m(m(main["resources"])["requests"]), Limits: m(m(main["resources"])["limits"]),
				Env: mergeEnvAny(specEnv, env), Secret: secret,
				Live: main["livenessProbe"], Ready: main["readinessProbe"], Startup: main["startupProbe"],
				NodeSelector: ps["nodeSelector"], Tolerations: ps["tolerations"]}
		}
	default:
		t.Fatalf("apiVersion %v", obj["apiVersion"])
	}
	return out
}

// The v1beta1 render and the v1alpha1 render describe the same deployment: same components, roles,
// replicas, images, commands, args, resources (gpu as nvidia.com/gpu), env, secret, probes, node
// selector and tolerations; and both read back (ParseDGD) to the same model of it.
func TestV1Beta1DescribesTheSameDeployment(t *testing.T) {
	isolate(t)
	overrides := []map[string]string{nil, {"page-size": "64", "decode.replicas": "3", "model": "Qwen/Qwen3-0.6B"}}
	for _, name := range builtinNamesForTest {
		for _, asPublished := range []bool{false, true} {
			for _, ov := range overrides {
				if ov != nil && name != "sglang-disaggregated-default" {
					continue
				}
				alpha, _ := mustRenderV(t, name, ov, asPublished, VersionV1Alpha1)
				beta, _ := mustRenderV(t, name, ov, asPublished, VersionV1Beta1)
				a, b := readDeployed(t, alpha.Object()), readDeployed(t, beta.Object())
				if len(a) != len(alpha.Spec.Services) || !reflect.DeepEqual(a, b) {
					t.Errorf("%s as-published=%v %v: the versions differ:\nv1alpha1 %+v\nv1beta1  %+v", name, asPublished, ov, a, b)
				}
				// Both read back to one model of the deployment (less what only v1alpha1 writes).
				ya, _ := alpha.YAML()
				yb, _ := beta.YAML()
				pa, err := ParseDGD(ya)
				if err != nil {
					t.Fatal(err)
				}
				pb, err := ParseDGD(yb)
				if err != nil {
					t.Fatal(err)
				}
				if pa.Version() != VersionV1Alpha1 || pb.Version() != VersionV1Beta1 {
					t.Errorf("%s: versions %s %s", name, pa.Version(), pb.Version())
				}
				for _, k := range pa.ServiceKeys() {
					sa, sb := pa.Spec.Services[k], pb.Spec.Services[k]
					if sb == nil {
						t.Fatalf("%s: v1beta1 lost %s", name, k)
					}
					if serviceRole(sa) != serviceRole(sb) || !reflect.DeepEqual(sa.Resources, sb.Resources) ||
						!reflect.DeepEqual(sa.ExtraPodSpec, sb.ExtraPodSpec) || !reflect.DeepEqual(sa.LivenessProbe, sb.LivenessProbe) ||
						!reflect.DeepEqual(sa.ReadinessProbe, sb.ReadinessProbe) || sa.EnvFromSecret != sb.EnvFromSecret || *sa.Replicas != *sb.Replicas {
						t.Errorf("%s/%s: models differ:\n%+v\n%+v", name, k, sa, sb)
					}
				}
				if !reflect.DeepEqual(pa.Defects(), pb.Defects()) {
					t.Errorf("%s: defects differ: %v vs %v", name, pa.Defects(), pb.Defects())
				}
			}
		}
	}
}

// The v1beta1 shape itself, as §9 states it.
func TestV1Beta1Shape(t *testing.T) {
	isolate(t)
	d, _ := mustRenderV(t, "sglang-disaggregated-default", nil, false, VersionV1Beta1)
	obj := d.Object()
	spec := m(obj["spec"])
	if obj["apiVersion"] != "nvidia.com/v1beta1" || spec["services"] != nil || spec["backendFramework"] != "sglang" {
		t.Fatalf("spec %v", spec)
	}
	var names, types []string
	for _, c := range spec["components"].([]any) {
		cm := m(c)
		names = append(names, cm["name"].(string))
		types = append(types, cm["type"].(string))
		if _, ok := cm["dynamoNamespace"]; ok {
			t.Errorf("%v: dynamoNamespace on v1beta1 (ignored there)", cm["name"])
		}
	}
	if strings.Join(names, ",") != "Frontend,SGLangDecodeWorker,SGLangPrefillWorker" || strings.Join(types, ",") != "frontend,decode,prefill" {
		t.Errorf("components %v types %v", names, types)
	}
	// A v1alpha1 object parsed and written as v1beta1 keeps env given at every level, in the
	// operator's precedence, and sharedMemory as sharedMemorySize.
	src := []byte(`apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: e}
spec:
  envs: [{name: A, value: spec}]
  services:
    W:
      componentType: worker
      envs: [{name: B, value: svc}, {name: C, value: svc}]
      sharedMemory: {size: 16Gi}
      extraPodSpec: {mainContainer: {env: [{name: C, value: main}], args: ["python3 -m dynamo.sglang"]}}
    F:
      componentType: frontend
      sharedMemory: {disabled: true}
`)
	a, err := ParseDGD(src)
	if err != nil {
		t.Fatal(err)
	}
	a.APIVersion = APIVersionV1Beta1
	b := a.Beta()
	w := b.Spec.Components[1]
	env, _ := json.Marshal(w.PodTemplate.Spec.Containers[0].Env)
	if w.Name != "W" || string(env) != `[{"name":"B","value":"svc"},{"name":"C","value":"main"}]` || b.Spec.Env[0].Name != "A" ||
		w.SharedMemorySize != "16Gi" || b.Spec.Components[0].SharedMemorySize != "0" {
		t.Errorf("translation %s %+v %+v", env, b.Spec, w)
	}
	y, err := a.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseDGD(y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if back.Spec.Services["W"].SharedMemory.Size != "16Gi" || !back.Spec.Services["F"].SharedMemory.Disabled {
		t.Errorf("shared memory back: %+v", back.Spec.Services)
	}
}

func TestParseDGDV1Beta1Errors(t *testing.T) {
	head := "apiVersion: nvidia.com/v1beta1\nkind: DynamoGraphDeployment\nmetadata: {name: x}\nspec:\n"
	cases := map[string]string{
		"unknown field":  head + "  components: [{name: a, type: worker, nope: 1}]\n",
		"v1alpha1 field": head + "  services: {}\n",
		"sidecar":        head + "  components: [{name: a, type: worker, podTemplate: {spec: {containers: [{name: side}]}}}]\n",
		"two mains":      head + "  components: [{name: a, type: worker, podTemplate: {spec: {containers: [{name: main}, {name: main}]}}}]\n",
		"resource":       head + "  components: [{name: a, type: worker, podTemplate: {spec: {containers: [{name: main, resources: {limits: {ephemeral-storage: 1Gi}}}]}}}]\n",
		"configmap":      head + "  components: [{name: a, type: worker, podTemplate: {spec: {containers: [{name: main, envFrom: [{configMapRef: {name: c}}]}]}}}]\n",
		"no name":        head + "  components: [{type: worker}]\n",
		"duplicate":      head + "  components: [{name: a, type: worker}, {name: a, type: frontend}]\n",
		"null component": head + "  components: [null]\n",
		"wrong version":  "apiVersion: nvidia.com/v2\nkind: DynamoGraphDeployment\nmetadata: {name: x}\n",
		"wrong kind":     "apiVersion: nvidia.com/v1beta1\nkind: DynamoComponentDeployment\nmetadata: {name: x}\n",
		"not yaml":       "{",
	}
	keys := make([]string, 0, len(cases))
	for k := range cases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := ParseDGD([]byte(cases[k])); err == nil {
			t.Errorf("%s: parsed", k)
		}
	}
	ok := head + "  components: [{name: a, type: prefill, podTemplate: {spec: {containers: [{name: main, args: ['python3 -m dynamo.sglang']}]}}}]\n"
	d, err := ParseDGD([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Spec.Services["a"]; s.ComponentType != ComponentWorker || serviceRole(s) != RolePrefill {
		t.Errorf("prefill component read as %+v", s)
	}
}

func TestRenderAPIVersionOption(t *testing.T) {
	isolate(t)
	spec, err := Resolve("sglang-router", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts RenderOptions
		want string
	}{
		{RenderOptions{}, VersionV1Beta1},
		{RenderOptions{AsPublished: true}, VersionV1Alpha1},
		{RenderOptions{AsPublished: true, APIVersion: "v1beta1"}, VersionV1Beta1},
		{RenderOptions{APIVersion: "nvidia.com/v1alpha1"}, VersionV1Alpha1},
	} {
		d, _, err := Render(spec, tc.opts)
		if err != nil || d.Version() != tc.want {
			t.Errorf("%+v: %v %v", tc.opts, d, err)
		}
	}
	if _, _, err := Render(spec, RenderOptions{APIVersion: "v2"}); err == nil || !strings.Contains(err.Error(), "v1beta1") {
		t.Errorf("v2: %v", err)
	}
}

// The command of a blueprint's args, without the shell pipeline or redirection after it.
func TestCommandPart(t *testing.T) {
	for in, want := range map[string]string{
		"python3 -m dynamo.sglang --tp 1 2>&1 | tee /tmp/sglang-worker.log": "python3 -m dynamo.sglang --tp 1",
		"a --x '{\"p\":\"|\"}' | b":                                         "a --x '{\"p\":\"|\"}'",
		`a "b | c" > out`:                                                   `a "b | c"`,
		`a \| b`:                                                            `a \| b`,
		"a; b":                                                              "a",
		"a && b":                                                            "a",
		"a --n=2>x":                                                         "a --n=2",
		"a 12>x":                                                            "a",
		"plain words":                                                       "plain words",
		"'unterminated | quote":                                             "'unterminated | quote",
	} {
		if got := commandPart(in); got != want {
			t.Errorf("commandPart(%q) = %q, want %q", in, got, want)
		}
	}
	// An override edits the command and keeps the suffix as it was.
	isolate(t)
	spec, err := Resolve("sglang-router", map[string]string{"page-size": "32"})
	if err != nil {
		t.Fatal(err)
	}
	a := spec.DGD.Spec.Services["SGLangWorker"].argString()
	if !strings.HasSuffix(a, " --page-size 32 --tp 1 --trust-remote-code --skip-tokenizer-init 2>&1 | tee /tmp/sglang-worker.log") {
		t.Errorf("args %q", a)
	}
}

// The published probes, field by field (REFERENCE §1 and the ai-on-eks files of Dynamo 0.5.0):
// --as-published must reproduce them, and the fixed render must replace them.
func TestPublishedProbes(t *testing.T) {
	isolate(t)
	exit0 := func(initial int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "exit 0"}}},
			InitialDelaySeconds: initial, PeriodSeconds: 60, TimeoutSeconds: 30, FailureThreshold: 10}
	}
	get := func(path string, port int32, period, timeout, failure int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(port)}},
			PeriodSeconds: period, TimeoutSeconds: timeout, FailureThreshold: failure}
	}
	frontendLive := get("/health", 8000, 60, 30, 10)
	frontendLive.InitialDelaySeconds = 60
	curl := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c",
		`curl -s http://localhost:8000/health | jq -e ".status == \"healthy\""`}}},
		InitialDelaySeconds: 60, PeriodSeconds: 60, TimeoutSeconds: 30, FailureThreshold: 10}
	type probes struct{ live, ready, startup *corev1.Probe }
	want := map[string]map[string]probes{
		"sglang-aggregated-default": {
			"Frontend":     {frontendLive, exit0(60), nil},
			"SGLangWorker": {exit0(0), exit0(60), nil},
		},
		"sglang-disaggregated-default": {
			"Frontend":            {frontendLive, exit0(60), nil},
			"SGLangDecodeWorker":  {exit0(0), exit0(60), nil},
			"SGLangPrefillWorker": {exit0(0), exit0(60), nil},
		},
		"sglang-router": {
			"Frontend":     {frontendLive, curl, nil},
			"SGLangWorker": {get("/live", 9090, 5, 30, 1), get("/health", 9090, 10, 30, 60), get("/health", 9090, 10, 0, 60)},
		},
	}
	for _, name := range builtinNamesForTest {
		for _, version := range []string{VersionV1Alpha1, VersionV1Beta1} {
			pub, _ := mustRenderV(t, name, nil, true, version)
			fixed, _ := mustRenderV(t, name, nil, false, version)
			for k, w := range want[name] {
				s := pub.Spec.Services[k]
				var startup *corev1.Probe
				if s.ExtraPodSpec != nil && s.ExtraPodSpec.MainContainer != nil {
					startup = s.ExtraPodSpec.MainContainer.StartupProbe
				}
				if !reflect.DeepEqual(s.LivenessProbe, w.live) || !reflect.DeepEqual(s.ReadinessProbe, w.ready) || !reflect.DeepEqual(startup, w.startup) {
					t.Errorf("%s %s/%s as published: probes %+v %+v %+v", name, version, k, s.LivenessProbe, s.ReadinessProbe, startup)
				}
				f := fixed.Spec.Services[k]
				for _, p := range []*corev1.Probe{f.LivenessProbe, f.ReadinessProbe} {
					if p == nil || (p.Exec != nil && p.Exec.Command[len(p.Exec.Command)-1] == "exit 0") {
						t.Errorf("%s/%s: the fixed render keeps a probe that checks nothing: %+v", name, k, p)
					}
				}
				if f.ComponentType == ComponentWorker && (f.ReadinessProbe.HTTPGet == nil || f.ReadinessProbe.HTTPGet.Port.IntValue() != SystemPort ||
					f.ExtraPodSpec.MainContainer.StartupProbe == nil) {
					t.Errorf("%s/%s: fixed worker probes %+v", name, k, f)
				}
			}
		}
	}
	// The router's args end in the published suffix, in both renders.
	for _, asPublished := range []bool{false, true} {
		d, _ := mustRender(t, "sglang-router", nil, asPublished)
		if a := d.Spec.Services["SGLangWorker"].argString(); !strings.HasSuffix(a, " --skip-tokenizer-init 2>&1 | tee /tmp/sglang-worker.log") &&
			!strings.HasSuffix(a, "'"+` 2>&1 | tee /tmp/sglang-worker.log`) {
			t.Errorf("as-published=%v router args %q", asPublished, a)
		}
	}
}
