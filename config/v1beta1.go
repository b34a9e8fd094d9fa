package config

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// The v1beta1 shape of a DynamoGraphDeployment (REFERENCE §9), as radix writes it: the storage version
// of current operators. radix keeps one model of a deployment, the v1alpha1 tree (DGD), because the
// published blueprints and every override are written against it; a v1beta1 object is that model
// translated the way the operator's conversion webhook does it (services map → components list,
// resources, env, secret and probes into the podTemplate's "main" container, extraPodSpec into the
// podTemplate's spec), with one addition the webhook does not make: disaggregated workers get the
// v1beta1 component types prefill and decode from their --disaggregation-mode, since on v1beta1 the
// type, not the args, drives the pod label and the planner.

// DGDBeta is a nvidia.com/v1beta1 DynamoGraphDeployment, limited to the fields radix models.
type DGDBeta struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       BetaSpec   `json:"spec"`
}

// BetaSpec is the spec of a v1beta1 DynamoGraphDeployment.
type BetaSpec struct {
	BackendFramework string           `json:"backendFramework,omitempty"`
	Env              []corev1.EnvVar  `json:"env,omitempty"` // prepended to every component's env
	Components       []*BetaComponent `json:"components"`
}

// BetaComponent is one entry of spec.components; the operator turns it into a DynamoComponentDeployment.
type BetaComponent struct {
	Name             string           `json:"name"`
	Type             string           `json:"type"` // frontend | worker | prefill | decode | planner | epp
	Replicas         *int32           `json:"replicas,omitempty"`
	SharedMemorySize string           `json:"sharedMemorySize,omitempty"` // "" = the operator's 8Gi; "0" = none
	PodTemplate      *BetaPodTemplate `json:"podTemplate,omitempty"`
}

// BetaPodTemplate is the part of a PodTemplateSpec radix writes (the operator merges its defaults in).
type BetaPodTemplate struct {
	Spec BetaPodSpec `json:"spec"`
}

// BetaPodSpec is the part of a PodSpec radix writes.
type BetaPodSpec struct {
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
	Containers   []*BetaContainer    `json:"containers"`
}

// BetaContainer is the part of a core/v1 Container radix writes; the component's is named "main".
type BetaContainer struct {
	Name           string                 `json:"name"`
	Image          string                 `json:"image,omitempty"`
	WorkingDir     string                 `json:"workingDir,omitempty"`
	Command        []string               `json:"command,omitempty"`
	Args           []string               `json:"args,omitempty"`
	Env            []corev1.EnvVar        `json:"env,omitempty"`
	EnvFrom        []corev1.EnvFromSource `json:"envFrom,omitempty"`
	Resources      *BetaResources         `json:"resources,omitempty"`
	LivenessProbe  *corev1.Probe          `json:"livenessProbe,omitempty"`
	ReadinessProbe *corev1.Probe          `json:"readinessProbe,omitempty"`
	StartupProbe   *corev1.Probe          `json:"startupProbe,omitempty"`
}

// BetaResources are core/v1 resource requirements with quantities kept as written.
type BetaResources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// betaType is the v1beta1 component type of a service: prefill and decode are types on v1beta1.
func betaType(s *Service) string {
	if s.ComponentType == ComponentWorker {
		if r := serviceRole(s); r == RolePrefill || r == RoleDecode {
			return r
		}
	}
	return s.ComponentType
}

func resourcesToBeta(r *Resources) *BetaResources {
	if r == nil {
		return nil
	}
	conv := func(ri *ResourceItem) map[string]string {
		if ri == nil {
			return nil
		}
		m := map[string]string{}
		if ri.CPU != "" {
			m[string(corev1.ResourceCPU)] = ri.CPU
		}
		if ri.Memory != "" {
			m[string(corev1.ResourceMemory)] = ri.Memory
		}
		if ri.GPU != "" {
			m[GPUResourceName] = ri.GPU
		}
		if len(m) == 0 {
			return nil
		}
		return m
	}
	out := &BetaResources{Requests: conv(r.Requests), Limits: conv(r.Limits)}
	if out.Requests == nil && out.Limits == nil {
		return nil
	}
	return out
}

func resourcesFromBeta(component string, r *BetaResources, strict bool) (*Resources, error) {
	if r == nil {
		return nil, nil
	}
	conv := func(which string, m map[string]string) (*ResourceItem, error) {
		if m == nil {
			return nil, nil
		}
		ri := &ResourceItem{}
		keys := slices.Sorted(maps.Keys(m))
		for _, k := range keys {
			switch k {
			case string(corev1.ResourceCPU):
				ri.CPU = m[k]
			case string(corev1.ResourceMemory):
				ri.Memory = m[k]
			case GPUResourceName:
				ri.GPU = m[k]
			default:
				if !strict {
					continue
				}
				return nil, fmt.Errorf("component %s: resources.%s.%s is not a resource radix models (cpu, memory, %s)", component, which, k, GPUResourceName)
			}
		}
		return ri, nil
	}
	req, err := conv("requests", r.Requests)
	if err != nil {
		return nil, err
	}
	lim, err := conv("limits", r.Limits)
	if err != nil {
		return nil, err
	}
	return &Resources{Requests: req, Limits: lim}, nil
}

// mergeEnv is base with over applied by name (over wins, in base's order, new names appended): how the
// operator merges a service's envs with its mainContainer's env.
func mergeEnv(base, over []corev1.EnvVar) []corev1.EnvVar {
	out := slices.Clone(base)
	for _, e := range over {
		if i := slices.IndexFunc(out, func(b corev1.EnvVar) bool { return b.Name == e.Name }); i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	return out
}

// Beta translates the model into a v1beta1 object (the header state stays with d).
func (d *DGD) Beta() *DGDBeta {
	c := d.DeepCopy()
	out := &DGDBeta{APIVersion: APIVersionV1Beta1, Kind: KindDGD, Metadata: c.Metadata,
		Spec: BetaSpec{BackendFramework: c.Spec.BackendFramework, Env: c.Spec.Envs, Components: []*BetaComponent{}}}
	if out.Spec.BackendFramework == "" {
		out.Spec.BackendFramework = c.backend()
	}
	for _, k := range c.ServiceKeys() {
		s := c.Spec.Services[k]
		bc := &BetaComponent{Name: k, Type: betaType(s), Replicas: s.Replicas}
		if s.SharedMemory != nil {
			switch {
			case s.SharedMemory.Disabled:
				bc.SharedMemorySize = "0"
			default:
				bc.SharedMemorySize = s.SharedMemory.Size
			}
		}
		main := &BetaContainer{Name: MainContainerName, Resources: resourcesToBeta(s.Resources),
			LivenessProbe: s.LivenessProbe, ReadinessProbe: s.ReadinessProbe, Env: s.Envs}
		if s.EnvFromSecret != "" {
			main.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: s.EnvFromSecret}}}}
		}
		pt := &BetaPodTemplate{}
		if e := s.ExtraPodSpec; e != nil {
			pt.Spec.NodeSelector, pt.Spec.Tolerations = e.NodeSelector, e.Tolerations
			if mc := e.MainContainer; mc != nil {
				main.Image, main.WorkingDir, main.Command, main.Args = mc.Image, mc.WorkingDir, mc.Command, mc.Args
				main.StartupProbe = mc.StartupProbe
				main.Env = mergeEnv(main.Env, mc.Env)
			}
		}
		if len(main.Env) == 0 {
			main.Env = nil
		}
		pt.Spec.Containers = []*BetaContainer{main}
		bc.PodTemplate = pt
		out.Spec.Components = append(out.Spec.Components, bc)
	}
	return out
}

// backend is the framework the workers run, read from their python module ("" when none is known):
// the 0.5.0 operator detects it the same way when spec.backendFramework is unset.
func (d *DGD) backend() string {
	for _, k := range d.ServiceKeys() {
		w, _, err := d.Spec.Services[k].words()
		if err != nil {
			continue
		}
		switch pythonModule(w) {
		case moduleSGLang:
			return "sglang"
		case "dynamo.vllm":
			return "vllm"
		case "dynamo.trtllm":
			return "trtllm"
		}
	}
	return ""
}

// model turns a v1beta1 object into radix's model, the inverse of Beta for what radix writes. With
// strict, what the model cannot hold (another container, a second envFrom, a resource other than cpu,
// memory and GPUs) is an error, so a parsed object is never silently narrowed; without (objects read
// from a cluster), it is left out.
func (b *DGDBeta) model(strict bool) (*DGD, error) {
	d := &DGD{APIVersion: b.APIVersion, Kind: b.Kind, Metadata: b.Metadata,
		Spec: DGDSpec{BackendFramework: b.Spec.BackendFramework, Envs: b.Spec.Env, Services: map[string]*Service{}}}
	for i, c := range b.Spec.Components {
		if c == nil {
			return nil, fmt.Errorf("spec.components[%d] is empty", i)
		}
		if c.Name == "" {
			return nil, fmt.Errorf("spec.components[%d] has no name", i)
		}
		if _, dup := d.Spec.Services[c.Name]; dup {
			return nil, fmt.Errorf("spec.components: the name %q is given twice", c.Name)
		}
		s := &Service{ComponentType: c.Type, Replicas: c.Replicas}
		if c.Type == RolePrefill || c.Type == RoleDecode {
			s.ComponentType, s.SubComponentType = ComponentWorker, c.Type
		}
		switch c.SharedMemorySize {
		case "":
		case "0":
			s.SharedMemory = &SharedMemory{Disabled: true}
		default:
			s.SharedMemory = &SharedMemory{Size: c.SharedMemorySize}
		}
		if pt := c.PodTemplate; pt != nil {
			var main *BetaContainer
			for _, ctr := range pt.Spec.Containers {
				if !strict && (ctr == nil || ctr.Name != MainContainerName || main != nil) {
					continue
				}
				if ctr == nil || ctr.Name != MainContainerName {
					name := "<empty>"
					if ctr != nil {
						name = ctr.Name
					}
					return nil, fmt.Errorf("component %s: container %q: radix models only the %q container", c.Name, name, MainContainerName)
				}
				if main != nil {
					return nil, fmt.Errorf("component %s: two containers named %q", c.Name, MainContainerName)
				}
				main = ctr
			}
			eps := &ExtraPodSpec{NodeSelector: pt.Spec.NodeSelector, Tolerations: pt.Spec.Tolerations}
			if main != nil {
				r, err := resourcesFromBeta(c.Name, main.Resources, strict)
				if err != nil {
					return nil, err
				}
				s.Resources = r
				s.Envs = main.Env
				s.LivenessProbe, s.ReadinessProbe = main.LivenessProbe, main.ReadinessProbe
				switch n := len(main.EnvFrom); {
				case n == 1 && main.EnvFrom[0].SecretRef != nil && main.EnvFrom[0].ConfigMapRef == nil && main.EnvFrom[0].Prefix == "" && main.EnvFrom[0].SecretRef.Optional == nil:
					s.EnvFromSecret = main.EnvFrom[0].SecretRef.Name
				case n > 0 && !strict:
					if i := slices.IndexFunc(main.EnvFrom, func(e corev1.EnvFromSource) bool { return e.SecretRef != nil }); i >= 0 {
						s.EnvFromSecret = main.EnvFrom[i].SecretRef.Name
					}
				case n > 0:
					return nil, fmt.Errorf("component %s: envFrom: radix models one secret reference, as v1alpha1's envFromSecret", c.Name)
				}
				mc := &Container{Image: main.Image, WorkingDir: main.WorkingDir, Command: main.Command, Args: main.Args, StartupProbe: main.StartupProbe}
				if mc.Image != "" || mc.WorkingDir != "" || mc.Command != nil || mc.Args != nil || mc.StartupProbe != nil {
					eps.MainContainer = mc
				}
			}
			if eps.MainContainer != nil || eps.NodeSelector != nil || eps.Tolerations != nil {
				s.ExtraPodSpec = eps
			}
		}
		d.Spec.Services[c.Name] = s
	}
	return d, nil
}
