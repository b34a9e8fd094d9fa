package config

import "fmt"

// Defect IDs: the published blueprints' known defects (REFERENCE §1). A Fix carries the ID it removes.
const (
	DefectNamespaceMismatch = "namespace-mismatch"     // deployed to dynamo-system, the script's namespace
	DefectKVEventsMissing   = "kv-events-missing"      // KV router, but workers publish no KV events
	DefectMetricsOff        = "metrics-off"            // SGLang workers without --enable-metrics
	DefectDynamoNamespace   = "dynamo-namespace-unset" // DYNAMO_NAMESPACE unset: workers collide under "dynamo"
	DefectGPUToleration     = "gpu-toleration-missing" // GPU pods cannot schedule on the tainted pool
	DefectUnreadable        = "unreadable"             // the object could not be read as a DGD
)

// Defect is one known problem found in a DGD object.
type Defect struct {
	ID      string `json:"id"`
	Service string `json:"service,omitempty"` // "" for the whole object
	Message string `json:"message"`
}

func (d Defect) String() string {
	if d.Service == "" {
		return d.ID + ": " + d.Message
	}
	return fmt.Sprintf("%s (%s): %s", d.ID, d.Service, d.Message)
}

// CheckDefects inspects a DynamoGraphDeployment object (rendered here or read from a cluster) for the
// published blueprints' known defects. It never fails: an object it cannot read is itself a Defect.
func CheckDefects(obj map[string]any) []Defect {
	d, err := FromObject(obj)
	if err != nil {
		return []Defect{{ID: DefectUnreadable, Message: err.Error()}}
	}
	return d.Defects()
}

// Defects is CheckDefects on the typed object.
func (d *DGD) Defects() []Defect {
	var out []Defect
	if d.Metadata.Namespace == PublishedScriptNamespace {
		out = append(out, Defect{ID: DefectNamespaceMismatch, Message: fmt.Sprintf(
			"deployed to %s, the namespace of the newer published deploy script, while the blueprints and the operator install use %s: check that the Dynamo operator watches %s",
			PublishedScriptNamespace, DefaultNamespace, PublishedScriptNamespace)})
	}
	kvRouter := usesKVRouter(d)
	for _, k := range d.ServiceKeys() {
		s := d.Spec.Services[k]
		if s == nil {
			continue
		}
		w, err := splitArgs(s.argString())
		if err != nil {
			out = append(out, Defect{ID: DefectUnreadable, Service: k, Message: err.Error()})
			continue
		}
		if pythonModule(w) == moduleSGLang {
			if !hasFlag(w, "--enable-metrics") {
				out = append(out, Defect{ID: DefectMetricsOff, Service: k,
					Message: "no --enable-metrics: sglang:* metrics and Dynamo's kvstats stay empty"})
			}
			if kvRouter && !hasFlag(w, "--kv-events-config") {
				out = append(out, Defect{ID: DefectKVEventsMissing, Service: k,
					Message: "the frontend routes with --router-mode kv but this worker has no --kv-events-config: the router gets no cache events"})
			}
			if v := envValue(d, s, DynamoNSEnv); v == "" {
				out = append(out, Defect{ID: DefectDynamoNamespace, Service: k, Message: fmt.Sprintf(
					"%s is unset (the operator sets only %s): the worker registers under namespace \"dynamo\" and collides with other deployments",
					DynamoNSEnv, OperatorDynNSEnv)})
			}
		}
		if s.gpus() > 0 && !hasGPUToleration(s) {
			out = append(out, Defect{ID: DefectGPUToleration, Service: k,
				Message: "asks for GPUs but does not tolerate nvidia.com/gpu:NoSchedule, the taint of the GPU node pool"})
		}
	}
	return out
}
