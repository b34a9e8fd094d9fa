package kube

import (
	"fmt"
	"maps"

	"github.com/radixops/radix/config"
)

// CatalogRenderer renders a deploy request through the config package: the profile from the catalog,
// the request's overrides (name and namespace included), and the published blueprints' defects fixed
// unless the request asks for the blueprint as published. Fixes and remaining defects become checks.
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
	d, fixes, err := config.Render(spec, config.RenderOptions{AsPublished: req.AsPublished})
	if err != nil {
		return nil, fmt.Errorf("rendering profile %q: %w", req.Profile, err)
	}
	y, err := d.YAML()
	if err != nil {
		return nil, fmt.Errorf("rendering profile %q as YAML: %w", req.Profile, err)
	}
	out := &Rendered{Object: d.Object(), Manifest: string(y)}
	for _, f := range fixes {
		out.Checks = append(out.Checks, Check{Name: "blueprint: " + f.ID, OK: true,
			Message: "fixed in the rendered manifest: " + f.Sentence})
	}
	out.Checks = append(out.Checks, DefectChecks(out.Object)...)
	return out, nil
}

// DefectChecks turns the published-blueprint defects found in obj into (warning) checks.
func DefectChecks(obj map[string]any) []Check {
	var out []Check
	for _, d := range config.CheckDefects(obj) {
		c := Check{Name: "blueprint: " + d.ID, Message: d.Message}
		if d.Service != "" {
			c.Message = d.Service + ": " + d.Message
		}
		c.Fix = defectFix(d.ID)
		out = append(out, c)
	}
	return out
}

func defectFix(id string) string {
	switch id {
	case config.DefectNamespaceMismatch:
		return "deploy to " + config.DefaultNamespace + " (-n " + config.DefaultNamespace + "), where the operator of the blueprints runs"
	case config.DefectKVEventsMissing, config.DefectMetricsOff, config.DefectDynamoNamespace, config.DefectGPUToleration:
		return "deploy without --as-published: radix fixes this in the manifest"
	}
	return ""
}
