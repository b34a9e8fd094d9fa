package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RenderOptions choose how a Spec becomes an object.
type RenderOptions struct {
	// AsPublished keeps the blueprint as published (its known defects, its probes) instead of fixing it.
	AsPublished bool
	// APIVersion is the DGD version to write: "v1alpha1" or "v1beta1" (the group may be given too).
	// "" means v1beta1, except with AsPublished, where it means v1alpha1: the version of the
	// published files.
	APIVersion string
}

// renderVersion is the version RenderOptions ask for.
func renderVersion(opts RenderOptions) (string, error) {
	switch opts.APIVersion {
	case "":
		if opts.AsPublished {
			return VersionV1Alpha1, nil
		}
		return DefaultVersion, nil
	case VersionV1Alpha1, APIVersionV1Alpha1:
		return VersionV1Alpha1, nil
	case VersionV1Beta1, APIVersionV1Beta1:
		return VersionV1Beta1, nil
	}
	return "", fmt.Errorf("API version %q: want %s or %s", opts.APIVersion, VersionV1Alpha1, VersionV1Beta1)
}

// Fix is one change Render made to the published blueprint so the deployment works.
type Fix struct {
	ID       string   `json:"id"`                 // the Defect ID it removes, or ChangeProbes
	Services []string `json:"services,omitempty"` // the services changed; none for the whole object
	Sentence string   `json:"sentence"`           // what was done and why
}

func (f Fix) String() string {
	if len(f.Services) == 0 {
		return f.ID + ": " + f.Sentence
	}
	return fmt.Sprintf("%s (%s): %s", f.ID, strings.Join(f.Services, ", "), f.Sentence)
}

// KVEventsConfig is the --kv-events-config radix gives router workers: SGLang publishes its radix-tree
// events over ZMQ, and Dynamo's KV router subscribes to them.
const KVEventsConfig = `{"publisher":"zmq","topic":"kv-events","endpoint":"tcp://*:5557"}`

// Render turns a spec into the DynamoGraphDeployment to apply, in the version opts ask for. Unless
// opts.AsPublished, it fixes the published blueprints' known defects, gives every service probes that
// check Dynamo's health endpoints, and returns what it changed; the object's YAML header lists it.
func Render(spec *Spec, opts RenderOptions) (*DGD, []Fix, error) {
	if spec == nil || spec.DGD == nil {
		return nil, nil, fmt.Errorf("rendering: no spec (use Resolve)")
	}
	version, err := renderVersion(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("rendering %s: %w", spec.Profile, err)
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
	delete(d.Metadata.Annotations, AnnotationAsPublished)
	var fixes []Fix
	if opts.AsPublished {
		d.Metadata.Annotations[AnnotationAsPublished] = "true"
	} else {
		fixes, err = applyFixes(d)
		if err != nil {
			return nil, nil, fmt.Errorf("rendering %s: %w", spec.Profile, err)
		}
	}
	d.APIVersion = APIVersionV1Alpha1
	if version == VersionV1Beta1 {
		// The model of a v1beta1 object is what the translation holds (no dynamoNamespace, prefill and
		// decode as types), so what is rendered is what reads back.
		if d, err = d.Beta().model(true); err != nil {
			return nil, nil, fmt.Errorf("rendering %s as %s: %w", spec.Profile, APIVersionV1Beta1, err)
		}
	}
	d.profile, d.fixes, d.asPublished, d.rendered = spec.Profile, fixes, opts.AsPublished, true
	return d, append([]Fix(nil), fixes...), nil
}

// The probes of the fixed render, for what radix deploys (the published ones are exec "exit 0" on
// most services, which calls a worker ready before its model has loaded):
//   - frontend: ready when /health says "healthy" (current Dynamo answers 503 not_ready until a worker
//     is ready; the check is the router blueprint's and the operator's default); alive while port 8000
//     accepts connections, so a frontend waiting for its workers is not restarted;
//   - worker: Dynamo's system server on 9090: /live for startup (up to 2 h, 720 × 10 s, for download
//     and load, as the operator's default) and liveness, /health (the generate endpoint is up) for
//     readiness.
//
// Ports are numbers, as in the published files, so they hold whether or not the container port is named.
func frontendProbes() (live, ready *corev1.Probe) {
	live = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(FrontendPort)}},
		PeriodSeconds: 30, TimeoutSeconds: 10, FailureThreshold: 10}
	ready = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c",
		fmt.Sprintf(`curl -s http://localhost:%d/health | jq -e ".status == \"healthy\""`, FrontendPort)}}},
		PeriodSeconds: 10, TimeoutSeconds: 10, FailureThreshold: 3}
	return live, ready
}

func workerProbes() (live, ready, startup *corev1.Probe) {
	get := func(path string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(SystemPort)}}
	}
	live = &corev1.Probe{ProbeHandler: get("/live"), PeriodSeconds: 10, TimeoutSeconds: 30, FailureThreshold: 3}
	ready = &corev1.Probe{ProbeHandler: get("/health"), PeriodSeconds: 10, TimeoutSeconds: 30, FailureThreshold: 3}
	startup = &corev1.Probe{ProbeHandler: get("/live"), PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 720}
	return live, ready, startup
}

// setProbes gives a frontend or worker service the fixed render's probes; it reports a change.
func setProbes(s *Service) bool {
	var live, ready, startup *corev1.Probe
	switch s.ComponentType {
	case ComponentFrontend:
		live, ready = frontendProbes()
	case ComponentWorker, ComponentMain:
		live, ready, startup = workerProbes()
	default:
		return false
	}
	var oldStartup *corev1.Probe
	if s.ExtraPodSpec != nil && s.ExtraPodSpec.MainContainer != nil {
		oldStartup = s.ExtraPodSpec.MainContainer.StartupProbe
	}
	if reflect.DeepEqual(s.LivenessProbe, live) && reflect.DeepEqual(s.ReadinessProbe, ready) && reflect.DeepEqual(oldStartup, startup) {
		return false
	}
	s.LivenessProbe, s.ReadinessProbe = live, ready
	if startup != nil || oldStartup != nil {
		if s.ExtraPodSpec == nil {
			s.ExtraPodSpec = &ExtraPodSpec{}
		}
		if s.ExtraPodSpec.MainContainer == nil {
			s.ExtraPodSpec.MainContainer = &Container{}
		}
		s.ExtraPodSpec.MainContainer.StartupProbe = startup
	}
	return true
}

// applyFixes removes every fixable Defect from d, in a fixed order, and says what it did.
func applyFixes(d *DGD) ([]Fix, error) {
	var fixes []Fix
	add := func(id, sentence string, services []string) {
		if len(services) > 0 {
			fixes = append(fixes, Fix{ID: id, Services: services, Sentence: sentence})
		}
	}
	var metrics, kv, tol, probes []string
	kvRouter := usesKVRouter(d)
	for _, k := range d.ServiceKeys() {
		s := d.Spec.Services[k]
		w, suffix, err := s.words()
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
				s.setWords(w, suffix)
			}
		}
		if s.gpus() > 0 && !hasGPUToleration(s) {
			if s.ExtraPodSpec == nil {
				s.ExtraPodSpec = &ExtraPodSpec{}
			}
			s.ExtraPodSpec.Tolerations = append(s.ExtraPodSpec.Tolerations, corev1.Toleration{
				Key: GPUResourceName, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
			tol = append(tol, k)
		}
		if setProbes(s) {
			probes = append(probes, k)
		}
	}
	fixes = append(fixes, Fix{ID: DefectREADMESelectors, Sentence: fmt.Sprintf(
		"the published README's -l app=… and componentType=worker select nothing (the operator sets neither label); select this deployment's pods with %s",
		SelectorHint(d.Metadata.Name))})
	add(DefectMetricsOff, "added --enable-metrics, so SGLang exports its sglang:* metrics (and the worker's KV gauges are more than start-up zeros)", metrics)
	add(DefectKVEventsMissing, "added --kv-events-config "+KVEventsConfig+", so SGLang publishes KV events and the KV router receives the workers' cache state", kv)
	add(DefectGPUToleration, "added the toleration nvidia.com/gpu Exists NoSchedule, so the pods schedule onto a tainted GPU node pool on any cluster (EKS adds it itself; harmless there)", tol)
	add(ChangeProbes, "probes check Dynamo's health endpoints instead of the published ones (exec \"exit 0\" on most services): frontends ready when /health says healthy, workers on port 9090 with /live for startup (up to 2 h) and liveness and /health for readiness", probes)
	return fixes, nil
}

// usesKVRouter reports whether a frontend routes by KV cache (--router-mode kv).
func usesKVRouter(d *DGD) bool {
	for _, s := range d.Spec.Services {
		if s.ComponentType != ComponentFrontend {
			continue
		}
		if w, err := splitCommand(s); err == nil {
			if m, _ := flagValue(w, "--router-mode"); m == "kv" {
				return true
			}
		}
	}
	return false
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
