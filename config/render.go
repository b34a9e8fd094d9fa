package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// RenderOptions choose how a Spec becomes an object.
type RenderOptions struct {
	// AsPublished keeps the blueprint's known defects instead of fixing them.
	AsPublished bool
}

// Fix is one change Render made to the published blueprint so the deployment works.
type Fix struct {
	ID       string   `json:"id"`       // the Defect ID it removes
	Services []string `json:"services"` // the services changed
	Sentence string   `json:"sentence"` // what was done and why
}

func (f Fix) String() string {
	return fmt.Sprintf("%s (%s): %s", f.ID, strings.Join(f.Services, ", "), f.Sentence)
}

// KVEventsConfig is the --kv-events-config radix gives router workers: SGLang publishes its radix-tree
// events over ZMQ, and Dynamo's KV router subscribes to them.
const KVEventsConfig = `{"publisher":"zmq","topic":"kv-events","endpoint":"tcp://*:5557"}`

// Render turns a spec into the DynamoGraphDeployment to apply. Unless opts.AsPublished, it fixes the
// published blueprints' known defects and returns what it fixed; the object's YAML header lists them.
func Render(spec *Spec, opts RenderOptions) (*DGD, []Fix, error) {
	if spec == nil || spec.DGD == nil {
		return nil, nil, fmt.Errorf("rendering: no spec (use Resolve)")
	}
	d := spec.DGD.DeepCopy()
	ov, err := json.Marshal(spec.Overrides) // map keys come out sorted: the annotation is stable
	if err != nil {
		return nil, nil, fmt.Errorf("rendering %s: encoding the overrides: %w", spec.Profile, err)
	}
	if d.Metadata.Annotations == nil {
		d.Metadata.Annotations = map[string]string{}
	}
	d.Metadata.Annotations[AnnotationProfile] = spec.Profile
	d.Metadata.Annotations[AnnotationOverrides] = string(ov)
	var fixes []Fix
	if opts.AsPublished {
		d.Metadata.Annotations[AnnotationAsPublished] = "true"
	} else {
		fixes, err = applyFixes(d)
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", spec.Profile, err)
		}
	}
	d.profile, d.fixes, d.asPublished, d.rendered = spec.Profile, fixes, opts.AsPublished, true
	return d, append([]Fix(nil), fixes...), nil
}

// applyFixes removes every fixable Defect from d, in a fixed order, and says what it did.
func applyFixes(d *DGD) ([]Fix, error) {
	var fixes []Fix
	add := func(id, sentence string, services []string) {
		if len(services) > 0 {
			fixes = append(fixes, Fix{ID: id, Services: services, Sentence: sentence})
		}
	}
	var metrics, kv, tol, env []string
	kvRouter := usesKVRouter(d)
	for _, k := range d.ServiceKeys() {
		s := d.Spec.Services[k]
		w, err := splitArgs(s.argString())
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", k, err)
		}
		if pythonModule(w) == moduleSGLang {
			changed := false
			if !hasFlag(w, "--enable-metrics") {
				w = addSwitch(w, "--enable-metrics")
				metrics, changed = append(metrics, k), true
			}
			if kvRouter && !hasFlag(w, "--kv-events-config") {
				w = setFlag(w, "--kv-events-config", KVEventsConfig)
				kv, changed = append(kv, k), true
			}
			if changed {
				s.setArgString(joinArgs(w))
			}
		}
		if envValue(d, s, DynamoNSEnv) != d.Metadata.Name {
			s.Envs = slices.DeleteFunc(s.Envs, func(e corev1.EnvVar) bool { return e.Name == DynamoNSEnv })
			s.Envs = append(s.Envs, corev1.EnvVar{Name: DynamoNSEnv, Value: d.Metadata.Name})
			env = append(env, k)
		}
		if s.gpus() > 0 && !hasGPUToleration(s) {
			if s.ExtraPodSpec == nil {
				s.ExtraPodSpec = &ExtraPodSpec{}
			}
			s.ExtraPodSpec.Tolerations = append(s.ExtraPodSpec.Tolerations, corev1.Toleration{
				Key: GPUResourceName, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
			tol = append(tol, k)
		}
	}
	add(DefectMetricsOff, "added --enable-metrics, so SGLang's sglang:* metrics and Dynamo's kvstats are exported", metrics)
	add(DefectKVEventsMissing, "added --kv-events-config "+KVEventsConfig+", so the KV router receives the workers' cache events", kv)
	add(DefectDynamoNamespace, fmt.Sprintf("set %s=%s: the SGLang worker reads it (the operator sets only %s), so workers register under this deployment instead of colliding under \"dynamo\"", DynamoNSEnv, d.Metadata.Name, OperatorDynNSEnv), env)
	add(DefectGPUToleration, "added the toleration nvidia.com/gpu Exists NoSchedule, so the pods schedule onto the tainted GPU node pool", tol)
	return fixes, nil
}

// usesKVRouter reports whether a frontend routes by KV cache (--router-mode kv).
func usesKVRouter(d *DGD) bool {
	for _, s := range d.Spec.Services {
		if s.ComponentType != ComponentFrontend {
			continue
		}
		if w, err := splitArgs(s.argString()); err == nil {
			if m, _ := flagValue(w, "--router-mode"); m == "kv" {
				return true
			}
		}
	}
	return false
}

// envValue is the value a service's container gets for name: service envs over spec envs, and
// mainContainer env over both (the operator merges them in that order).
func envValue(d *DGD, s *Service, name string) string {
	v := ""
	for _, list := range [][]corev1.EnvVar{d.Spec.Envs, s.Envs, mainEnv(s)} {
		for _, e := range list {
			if e.Name == name {
				v = e.Value
			}
		}
	}
	return v
}

func mainEnv(s *Service) []corev1.EnvVar {
	if s.ExtraPodSpec == nil || s.ExtraPodSpec.MainContainer == nil {
		return nil
	}
	return s.ExtraPodSpec.MainContainer.Env
}

func hasGPUToleration(s *Service) bool {
	if s.ExtraPodSpec == nil {
		return false
	}
	for _, t := range s.ExtraPodSpec.Tolerations {
		if t.Operator == corev1.TolerationOpExists && (t.Key == "" || t.Key == GPUResourceName) &&
			(t.Effect == "" || t.Effect == corev1.TaintEffectNoSchedule) {
			return true
		}
	}
	return false
}
