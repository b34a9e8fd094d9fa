package config

import "fmt"

// Defect IDs: the published blueprints' known defects, re-checked against the Dynamo sources
// (REFERENCE §1). A Fix carries the ID it removes.
const (
	DefectREADMESelectors = "readme-selectors"  // the README's kubectl selectors match nothing
	DefectKVEventsMissing = "kv-events-missing" // KV router, but workers publish no KV events
	DefectMetricsOff      = "metrics-off"       // SGLang workers without --enable-metrics
	DefectUnreadable      = "unreadable"        // the object could not be read as a DGD

	// DefectGPUToleration is advice, not a defect (Defect.Advice): on EKS the ExtendedResourceToleration
	// admission plugin adds the toleration to every pod that asks for nvidia.com/gpu; elsewhere a GPU
	// pool tainted nvidia.com/gpu:NoSchedule needs it written.
	DefectGPUToleration = "gpu-toleration-missing"

	// ChangeProbes is not a defect: the fixed render replaces the blueprints' probes with ones that
	// check Dynamo's health endpoints, so "ready" means the model is loaded.
	ChangeProbes = "probes"
)

// Defect is one known problem found in a DGD object.
type Defect struct {
	ID      string `json:"id"`
	Service string `json:"service,omitempty"` // "" for the whole object
	Message string `json:"message"`
	// Advice marks what matters only on some clusters (the GPU toleration off EKS): the cluster layer
	// decides whether to show it.
	Advice bool `json:"advice,omitempty"`
}

func (d Defect) String() string {
	if d.Service == "" {
		return d.ID + ": " + d.Message
	}
	return fmt.Sprintf("%s (%s): %s", d.ID, d.Service, d.Message)
}

// SelectorHint is how to select a deployment's pods: the operator's labels (the published README's
// -l app=… and componentType=worker match nothing, as the operator sets neither).
func SelectorHint(dgd string) string {
	return fmt.Sprintf("-l %s=%s (one component: add ,%s=<component>)", LabelDGDName, dgd, LabelComponent)
}

// CheckDefects inspects a DynamoGraphDeployment object of either API version (rendered here or read
// from a cluster) for the published blueprints' known defects, advice included. It never fails: an
// object it cannot read is itself a Defect.
func CheckDefects(obj map[string]any) []Defect {
	d, err := FromObject(obj)
	if err != nil {
		return []Defect{{ID: DefectUnreadable, Message: err.Error()}}
	}
	return d.Defects()
}

// Defects is CheckDefects on the model.
func (d *DGD) Defects() []Defect {
	var out []Defect
	// The README ships with the blueprint: an object that stands for the blueprint as published carries
	// its selectors (the fixed render's header gives working ones instead).
	if d.Metadata.Annotations[AnnotationAsPublished] == "true" {
		out = append(out, Defect{ID: DefectREADMESelectors, Message: fmt.Sprintf(
			"the published README selects pods with -l app=… and componentType=worker, which the operator never sets: select with %s",
			SelectorHint(d.Metadata.Name))})
	}
	kvRouter := usesKVRouter(d)
	for _, k := range d.ServiceKeys() {
		s := d.Spec.Services[k]
		if s == nil {
			continue
		}
		w, err := splitCommand(s)
		if err != nil {
			out = append(out, Defect{ID: DefectUnreadable, Service: k, Message: err.Error()})
			continue
		}
		if pythonModule(w) == moduleSGLang {
			if !hasFlag(w, "--enable-metrics") {
				out = append(out, Defect{ID: DefectMetricsOff, Service: k,
					Message: "no --enable-metrics: SGLang's sglang:* metrics stay empty and the worker's KV gauges report start-up zeros"})
			}
			if kvRouter && !hasFlag(w, "--kv-events-config") {
				out = append(out, Defect{ID: DefectKVEventsMissing, Service: k,
					Message: "the frontend routes with --router-mode kv but this worker has no --kv-events-config: SGLang publishes no KV events, so the router gets no cache events"})
			}
		}
		if s.gpus() > 0 && !hasGPUToleration(s) {
			out = append(out, Defect{ID: DefectGPUToleration, Service: k, Advice: true,
				Message: "asks for GPUs without tolerating nvidia.com/gpu:NoSchedule: fine on EKS (its admission plugin adds the toleration), but elsewhere a tainted GPU node pool will not take the pods"})
		}
	}
	return out
}
