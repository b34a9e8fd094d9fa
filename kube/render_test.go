package kube

import (
	"strings"
	"testing"

	"github.com/radixops/radix/config"
)

// CatalogRenderer renders the request's API version ("" is v1beta1, as-published too), with the
// manifest and the object of that version, fixes as passed checks, defects as warnings and advice
// left for the caller (AdviceChecks).
func TestCatalogRendererVersions(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, tc := range []struct {
		req  DeployRequest
		want string
	}{
		{DeployRequest{Profile: "sglang-router"}, config.APIVersionV1Beta1},
		{DeployRequest{Profile: "sglang-router", APIVersion: "v1beta1"}, config.APIVersionV1Beta1},
		{DeployRequest{Profile: "sglang-router", APIVersion: "v1alpha1"}, config.APIVersionV1Alpha1},
		{DeployRequest{Profile: "sglang-router", AsPublished: true}, config.APIVersionV1Beta1},
		{DeployRequest{Profile: "sglang-router", AsPublished: true, APIVersion: "v1alpha1"}, config.APIVersionV1Alpha1},
	} {
		r, err := CatalogRenderer(tc.req, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		d, err := config.ParseDGD([]byte(r.Manifest))
		if err != nil || r.Object["apiVersion"] != tc.want || d.APIVersion != tc.want || d.Metadata.Namespace != "team-a" {
			t.Errorf("%+v: object %v manifest %v (%v)", tc.req, r.Object["apiVersion"], d, err)
		}
		warnings := map[string]Check{}
		for _, c := range r.Checks {
			if !c.OK {
				warnings[c.Name] = c
			}
			if c.Blocking || strings.Contains(c.Name, "namespace") {
				t.Errorf("%+v: check %+v", tc.req, c)
			}
		}
		if !tc.req.AsPublished {
			if len(warnings) != 0 {
				t.Errorf("%+v: the fixed render warns %v", tc.req, warnings)
			}
			continue
		}
		for _, id := range []string{config.DefectREADMESelectors, config.DefectKVEventsMissing, config.DefectMetricsOff} {
			if c, ok := warnings["blueprint: "+id]; !ok || c.Fix == "" {
				t.Errorf("%+v: no %s warning with a fix in %v", tc.req, id, warnings)
			}
		}
		if _, ok := warnings["blueprint: "+config.DefectGPUToleration]; ok || len(warnings) != 3 {
			t.Errorf("%+v: warnings %v (the GPU toleration is advice, not a warning)", tc.req, warnings)
		}
		adv := AdviceChecks(r.Object)
		if len(adv) != 1 || adv[0].Name != "advice: "+config.DefectGPUToleration || adv[0].OK || !strings.Contains(adv[0].Message, "SGLangWorker") || adv[0].Fix == "" {
			t.Errorf("%+v: advice %+v", tc.req, adv)
		}
	}
	if _, err := CatalogRenderer(DeployRequest{Profile: "sglang-router", APIVersion: "v9"}, ""); err == nil {
		t.Error("API version v9 rendered")
	}
}
