package config

import (
	"reflect"
	"testing"
)

func TestLocalPlan(t *testing.T) {
	isolate(t)
	spec, err := Resolve("sglang-router", map[string]string{"page-size": "32", "max-total-tokens": "4096", "replicas": "3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []LocalProcess{
		{Service: "Frontend", Role: RoleFrontend, Replicas: 1,
			Args: []string{"--role", "frontend", "--router-mode", "kv", "--kv-overlap-score-weight", "1.0", "--router-temperature", "0.1"}},
		{Service: "SGLangWorker", Role: RoleWorker, Replicas: 3, Model: "Qwen/Qwen3-0.6B",
			Args: []string{"--role", "worker", "--served-model-name", "Qwen/Qwen3-0.6B", "--page-size", "32", "--max-total-tokens", "4096"}},
	}
	if got := LocalPlan(spec); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	spec, err = Resolve("sglang-disaggregated-default", map[string]string{"decode.replicas": "2"})
	if err != nil {
		t.Fatal(err)
	}
	got := LocalPlan(spec)
	roles := map[string]string{}
	for _, p := range got {
		roles[p.Service] = p.Role
	}
	if !reflect.DeepEqual(roles, map[string]string{"Frontend": "frontend", "SGLangDecodeWorker": "decode", "SGLangPrefillWorker": "prefill"}) {
		t.Errorf("roles %v", roles)
	}
	if got[1].Replicas != 2 || got[1].Args[1] != "decode" || got[0].Args[1] != "frontend" || len(got[0].Args) != 2 {
		t.Errorf("plan %+v", got)
	}
	for _, p := range got {
		if spec.Role(p.Service) != p.Role {
			t.Errorf("Spec.Role(%s) = %s, plan says %s", p.Service, spec.Role(p.Service), p.Role)
		}
	}
}
