package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// DGD is a DynamoGraphDeployment as radix models it: the v1alpha1 tree (only the fields the operator
// ≈0.5.0 reads and the blueprints use, so the YAML a user reviews holds nothing that was not meant).
// APIVersion says which version the object is written in: a v1beta1 object keeps the same model, and
// Object, YAML and JSON write it in the v1beta1 shape (see Beta).
type DGD struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       DGDSpec    `json:"spec"`

	// How it was rendered, for the YAML header; not part of the object.
	profile     string
	fixes       []Fix
	asPublished bool
	rendered    bool
}

// ObjectMeta is the part of metadata radix sets.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DGDSpec is spec of a DynamoGraphDeployment.
type DGDSpec struct {
	BackendFramework string              `json:"backendFramework,omitempty"`
	Envs             []corev1.EnvVar     `json:"envs,omitempty"`
	Services         map[string]*Service `json:"services"`
}

// Service is one entry of spec.services; the operator turns it into a DynamoComponentDeployment.
type Service struct {
	ComponentType    string            `json:"componentType"`
	SubComponentType string            `json:"subComponentType,omitempty"`
	DynamoNamespace  string            `json:"dynamoNamespace,omitempty"`
	Replicas         *int32            `json:"replicas,omitempty"`
	Resources        *Resources        `json:"resources,omitempty"`
	Envs             []corev1.EnvVar   `json:"envs,omitempty"`
	EnvFromSecret    string            `json:"envFromSecret,omitempty"`
	SharedMemory     *SharedMemory     `json:"sharedMemory,omitempty"`
	LivenessProbe    *corev1.Probe     `json:"livenessProbe,omitempty"`
	ReadinessProbe   *corev1.Probe     `json:"readinessProbe,omitempty"`
	ExtraPodSpec     *ExtraPodSpec     `json:"extraPodSpec,omitempty"`
	Annotations      map[string]string `json:"annotations,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
}

// SharedMemory is the /dev/shm of a service's pods (unset: the operator's 8Gi).
type SharedMemory struct {
	Disabled bool   `json:"disabled,omitempty"`
	Size     string `json:"size,omitempty"`
}

// Resources are a service's requests and limits; gpu becomes nvidia.com/gpu.
type Resources struct {
	Requests *ResourceItem `json:"requests,omitempty"`
	Limits   *ResourceItem `json:"limits,omitempty"`
}

// ResourceItem holds quantities as strings, the way the DGD CRD declares them.
type ResourceItem struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	GPU    string `json:"gpu,omitempty"`
}

// ExtraPodSpec is the subset of the PodSpec (plus mainContainer) that the blueprints use.
type ExtraPodSpec struct {
	NodeSelector  map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations   []corev1.Toleration `json:"tolerations,omitempty"`
	MainContainer *Container          `json:"mainContainer,omitempty"`
}

// Container is the subset of a core/v1 Container the blueprints set on mainContainer.
type Container struct {
	Image      string          `json:"image,omitempty"`
	WorkingDir string          `json:"workingDir,omitempty"`
	Command    []string        `json:"command,omitempty"`
	Args       []string        `json:"args,omitempty"`
	Env        []corev1.EnvVar `json:"env,omitempty"`
	// StartupProbe has no service-level field on v1alpha1; the router blueprint sets it here.
	StartupProbe *corev1.Probe `json:"startupProbe,omitempty"`
}

// ServiceKeys returns the service keys, frontends first, then by name: the order every listing uses.
func (d *DGD) ServiceKeys() []string {
	keys := make([]string, 0, len(d.Spec.Services))
	for k := range d.Spec.Services {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		fi := d.Spec.Services[keys[i]].ComponentType == ComponentFrontend
		fj := d.Spec.Services[keys[j]].ComponentType == ComponentFrontend
		if fi != fj {
			return fi
		}
		return keys[i] < keys[j]
	})
	return keys
}

// Fixes are the fixes Render applied (nil for an as-published or parsed object).
func (d *DGD) Fixes() []Fix { return append([]Fix(nil), d.fixes...) }

// Version is the API version the object is written in: v1alpha1 or v1beta1.
func (d *DGD) Version() string {
	if d.APIVersion == APIVersionV1Beta1 {
		return VersionV1Beta1
	}
	return VersionV1Alpha1
}

// shaped is what the object marshals as: the model itself on v1alpha1, its translation on v1beta1.
func (d *DGD) shaped() any {
	if d.APIVersion == APIVersionV1Beta1 {
		return d.Beta()
	}
	return d
}

// JSON is the object as JSON, without the header.
func (d *DGD) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d.shaped(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding DynamoGraphDeployment %s as JSON: %w", d.Metadata.Name, err)
	}
	return append(b, '\n'), nil
}

// YAML is the object as YAML, headed by comments that say which profile it came from and which
// fixes were applied to the published blueprint (or that it is the blueprint as published).
func (d *DGD) YAML() ([]byte, error) {
	// Through the JSON form (so the field names are the API's) into an emitter that never folds long
	// lines: an args string must stay greppable as one line.
	var b bytes.Buffer
	b.WriteString(d.header())
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(d.Object()); err != nil {
		return nil, fmt.Errorf("encoding DynamoGraphDeployment %s as YAML: %w", d.Metadata.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding DynamoGraphDeployment %s as YAML: %w", d.Metadata.Name, err)
	}
	return b.Bytes(), nil
}

func (d *DGD) header() string {
	if !d.rendered {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# DynamoGraphDeployment %s (%s) rendered by radix from profile %s.\n", d.Metadata.Name, d.APIVersion, d.profile)
	if ov := d.Metadata.Annotations[AnnotationOverrides]; ov != "" && ov != "{}" {
		fmt.Fprintf(&b, "# Overrides: %s\n", ov)
	}
	if d.asPublished {
		if d.Version() == VersionV1Beta1 {
			b.WriteString("# Rendered as published (--as-published), translated to " + APIVersionV1Beta1 + ": the blueprint's known defects are kept.\n")
		} else {
			b.WriteString("# Rendered as published (--as-published): the blueprint's known defects are kept.\n")
		}
		if defects := d.Defects(); len(defects) > 0 {
			b.WriteString("# Known defects in this object:\n")
			for _, df := range defects {
				fmt.Fprintf(&b, "#   - %s\n", df)
			}
		}
		return b.String()
	}
	if len(d.fixes) == 0 {
		b.WriteString("# No changes were needed: the blueprint has none of the known defects.\n")
		return b.String()
	}
	b.WriteString("# Changes made to the published blueprint (--as-published renders it without them):\n")
	for _, f := range d.fixes {
		fmt.Fprintf(&b, "#   - %s\n", f)
	}
	return b.String()
}

// Object is the object as the unstructured map that client-go's dynamic client applies.
func (d *DGD) Object() map[string]any {
	b, err := json.Marshal(d.shaped())
	if err != nil {
		// Every field is a string, number, bool, slice or map of those: Marshal cannot fail.
		panic(fmt.Sprintf("config: encoding a DGD: %v", err))
	}
	// Numbers become int64 where whole, as client-go's unstructured objects expect.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(fmt.Sprintf("config: decoding a DGD's own JSON: %v", err))
	}
	return fixNumbers(m).(map[string]any)
}

func fixNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = fixNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = fixNumbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// ToUnstructured is Object under the name the Kubernetes libraries use.
func (d *DGD) ToUnstructured() map[string]any { return d.Object() }

// DeepCopy returns an independent copy, header state included.
func (d *DGD) DeepCopy() *DGD {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("config: encoding a DGD: %v", err))
	}
	out := &DGD{}
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("config: decoding a DGD's own JSON: %v", err))
	}
	out.profile, out.asPublished, out.rendered = d.profile, d.asPublished, d.rendered
	out.fixes = append([]Fix(nil), d.fixes...)
	return out
}

// ParseDGD reads a DGD of either API version from YAML or JSON, strictly: a field radix does not know
// is an error, so what was reviewed is what gets applied. Comments (the header) are ignored.
func ParseDGD(data []byte) (*DGD, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("reading a DynamoGraphDeployment: %w", err)
	}
	if tm.Kind != KindDGD || (tm.APIVersion != APIVersionV1Alpha1 && tm.APIVersion != APIVersionV1Beta1) {
		return nil, fmt.Errorf("reading a DynamoGraphDeployment: got apiVersion %q kind %q, want %s or %s, kind %s",
			tm.APIVersion, tm.Kind, APIVersionV1Alpha1, APIVersionV1Beta1, KindDGD)
	}
	if tm.APIVersion == APIVersionV1Beta1 {
		b := &DGDBeta{}
		if err := yaml.UnmarshalStrict(data, b); err != nil {
			return nil, fmt.Errorf("reading a %s DynamoGraphDeployment: %w", APIVersionV1Beta1, err)
		}
		d, err := b.model(true)
		if err != nil {
			return nil, fmt.Errorf("reading a %s DynamoGraphDeployment: %w", APIVersionV1Beta1, err)
		}
		return d, nil
	}
	d := &DGD{}
	if err := yaml.UnmarshalStrict(data, d); err != nil {
		return nil, fmt.Errorf("reading a DynamoGraphDeployment: %w", err)
	}
	d.normalise()
	return d, nil
}

// FromObject converts an unstructured DGD of either API version (from a cluster) into the model,
// ignoring fields radix does not model (status, managedFields, sidecars, …).
func FromObject(obj map[string]any) (*DGD, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding an unstructured DynamoGraphDeployment: %w", err)
	}
	if av, _ := obj["apiVersion"].(string); av == APIVersionV1Beta1 {
		bd := &DGDBeta{}
		if err := json.Unmarshal(b, bd); err != nil {
			return nil, fmt.Errorf("decoding an unstructured %s DynamoGraphDeployment: %w", APIVersionV1Beta1, err)
		}
		d, err := bd.model(false)
		if err != nil {
			return nil, fmt.Errorf("decoding an unstructured %s DynamoGraphDeployment: %w", APIVersionV1Beta1, err)
		}
		return d, nil
	}
	d := &DGD{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("decoding an unstructured DynamoGraphDeployment: %w", err)
	}
	d.normalise()
	return d, nil
}

// normalise makes a parsed object safe to walk: a service written as null becomes an empty one.
func (d *DGD) normalise() {
	for k, s := range d.Spec.Services {
		if s == nil {
			d.Spec.Services[k] = &Service{}
		}
	}
}

// argString is the service's command line: the blueprints run /bin/sh -c with one args string.
func (s *Service) argString() string {
	if s.ExtraPodSpec == nil || s.ExtraPodSpec.MainContainer == nil {
		return ""
	}
	return strings.Join(s.ExtraPodSpec.MainContainer.Args, " ")
}

// words splits the command of the service's command line into shell words, and returns what follows
// it (a shell pipeline or redirection such as the router blueprint's " 2>&1 | tee …") unchanged.
func (s *Service) words() (words []string, suffix string, err error) {
	a := s.argString()
	cmd := commandPart(a)
	w, err := splitArgs(cmd)
	return w, a[len(cmd):], err
}

// setWords writes the command back, with the suffix words returned.
func (s *Service) setWords(words []string, suffix string) {
	s.ExtraPodSpec.MainContainer.Args = []string{joinArgs(words) + suffix}
}

// gpus is the service's GPU limit (0 when unset or unreadable).
func (s *Service) gpus() int {
	if s.Resources == nil || s.Resources.Limits == nil {
		return 0
	}
	n := 0
	for _, c := range s.Resources.Limits.GPU {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return 0
		}
	}
	return n
}
