package kube

import (
	"fmt"
	"maps"

	"github.com/radixops/radix/config"
)

// CatalogRenderer renders a deploy request through the config package: the profile from the catalog,
// the request's overrides (name and namespace included), in the request's API version ("" is v1beta1,
// with AsPublished too: what a v1beta1 operator stores either way), and the published blueprints'
// defects fixed unless the request asks for the blueprint as published. Fixes and remaining defects
// become checks; advice (AdviceChecks) does not, as only the cluster knows whether it applies.
func CatalogRenderer(req DeployRequest, namespace string) (*Rendered, error) {
	ov := maps.Clone(req.Overrides)
	if ov == nil {
		ov = map[string]string{}
	}
	if req.Name != "" {
		ov["name"] = req.Name
	}
	if _, ok := ov["namespace"]; !ok && namespace != "" {
		ov["namespace"] = namespace
	}
	spec, err := config.Resolve(req.Profile, ov)
	if err != nil {
		return nil, fmt.Errorf("resolving profile %q: %w", req.Profile, err)
	}
	version := req.APIVersion
	if version == "" {
		version = config.VersionV1Beta1
	}
	d, fixes, err := config.Render(spec, config.RenderOptions{AsPublished: req.AsPublished, APIVersion: version})
	if err != nil {
		return nil, fmt.Errorf("rendering profile %q: %w", req.Profile, err)
	}
	y, err := d.YAML()
	if err != nil {
		return nil, fmt.Errorf("rendering profile %q as YAML: %w", req.Profile, err)
	}
	out := &Rendered{Object: d.Object(), Manifest: string(y)}
	for _, f := range fixes {
		msg := "fixed in the rendered manifest: " + f.Sentence
		if f.ID == config.ChangeProbes {
			msg = "changed in the rendered manifest: " + f.Sentence
		}
		out.Checks = append(out.Checks, Check{Name: "blueprint: " + f.ID, OK: true, Message: msg})
	}
	out.Checks = append(out.Checks, DefectChecks(out.Object)...)
	return out, nil
}

// DefectChecks turns the published-blueprint defects found in obj (either API version) into warning
// checks. Advice is left out: see AdviceChecks.
func DefectChecks(obj map[string]any) []Check { return defectChecks(obj, false) }

// AdviceChecks turns what matters only on some clusters into warning checks: today the GPU
// toleration, which EKS adds by itself (its ExtendedResourceToleration admission plugin) and other
// clusters with a tainted GPU pool need. The caller shows them where they apply (not on EKS).
func AdviceChecks(obj map[string]any) []Check { return defectChecks(obj, true) }

func defectChecks(obj map[string]any, advice bool) []Check {
	var out []Check
	for _, d := range config.CheckDefects(obj) {
		if d.Advice != advice {
			continue
		}
		name := "blueprint: "
		if d.Advice {
			name = "advice: "
		}
		c := Check{Name: name + d.ID, Message: d.Message}
		if d.Service != "" {
			c.Message = d.Service + ": " + d.Message
		}
		c.Fix = defectFix(d.ID, obj)
		out = append(out, c)
	}
	return out
}

func defectFix(id string, obj map[string]any) string {
	switch id {
	case config.DefectKVEventsMissing, config.DefectMetricsOff:
		return "deploy without --as-published: radix fixes this in the manifest"
	case config.DefectGPUToleration:
		return "deploy without --as-published (radix adds the toleration), or add tolerations [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}] to the GPU services"
	case config.DefectREADMESelectors:
		name := ""
		if md, ok := obj["metadata"].(map[string]any); ok {
			name, _ = md["name"].(string)
		}
		return "select pods with " + config.SelectorHint(name) + "; radix logs and the console select them so already"
	}
	return ""
}
