package kube

import (
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/radixops/radix/config"
)

// DeploymentFromObject maps a DynamoGraphDeployment (unstructured) and the pods that carry its label
// to the console's model. Ready replicas are counted from the pods: the 0.5.0 operator reports no
// per-service counts in the DGD status.
func DeploymentFromObject(obj *unstructured.Unstructured, pods []*corev1.Pod) Deployment {
	d := Deployment{
		Name:      obj.GetName(),
		Namespace: obj.GetNamespace(),
		Created:   obj.GetCreationTimestamp().Time,
		Profile:   obj.GetAnnotations()[config.AnnotationProfile],
	}
	d.Backend, _, _ = unstructured.NestedString(obj.Object, "spec", "backendFramework")
	state, _, _ := unstructured.NestedString(obj.Object, "status", "state")
	d.State = State(state)
	if d.State == "" {
		d.State = StatePending // the operator has not written a status yet
	}
	if obj.GetDeletionTimestamp() != nil {
		d.State = StateDeleting
	}
	for _, c := range conditions(obj) {
		if c.Type == "Ready" {
			d.Reason, d.Message = c.Reason, c.Message
		}
	}
	ready := map[string]int{}
	for _, p := range pods {
		if p.Labels[config.LabelDGDName] != d.Name || p.Namespace != d.Namespace {
			continue
		}
		d.Pods++
		if podReady(p) && p.DeletionTimestamp == nil {
			ready[p.Labels[config.LabelComponent]]++
		}
	}
	services, _ := nested(obj.Object, "spec", "services").(map[string]any) // read-only: no deep copy
	keys := make([]string, 0, len(services))
	for k := range services {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return serviceOrder(services, keys[i], keys[j]) })
	for _, k := range keys {
		m, _ := services[k].(map[string]any)
		s, words := serviceFromMap(k, m)
		s.Ready = ready[k]
		d.Services = append(d.Services, s)
		d.GPUs += s.GPUs * s.Replicas
		if s.ComponentType == config.ComponentWorker || s.ComponentType == config.ComponentMain {
			if d.Model == "" {
				d.Model = flagValue(words, "--model-path", "--model")
			}
			if d.PageSize == 0 {
				d.PageSize, _ = strconv.Atoi(flagValue(words, "--page-size"))
			}
			if d.Backend == "" {
				d.Backend = backendOf(words)
			}
		}
	}
	return d
}

// serviceOrder puts frontends first, then by key, as the console lists them.
func serviceOrder(services map[string]any, a, b string) bool {
	ta, tb := componentType(services[a]), componentType(services[b])
	if (ta == config.ComponentFrontend) != (tb == config.ComponentFrontend) {
		return ta == config.ComponentFrontend
	}
	return a < b
}

func componentType(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["componentType"].(string)
	return s
}

// serviceFromMap maps one spec.services entry; it also returns the words of its args.
func serviceFromMap(key string, m map[string]any) (Service, []string) {
	s := Service{Name: key, Replicas: 1}
	s.ComponentType, _ = m["componentType"].(string)
	s.SubType, _ = m["subComponentType"].(string)
	if r, ok := m["replicas"]; ok {
		s.Replicas = toInt(r)
	}
	s.GPUs = quantityInt(nested(m, "resources", "limits", "gpu"))
	if s.GPUs == 0 {
		s.GPUs = quantityInt(nested(m, "resources", "requests", "gpu"))
	}
	if mc, ok := nested(m, "extraPodSpec", "mainContainer").(map[string]any); ok {
		s.Args = joinStrings(mc["args"])
		if s.Args == "" {
			s.Args = joinStrings(mc["command"])
		}
	}
	words := splitWords(s.Args)
	if s.SubType == "" {
		switch flagValue(words, "--disaggregation-mode") {
		case "prefill":
			s.SubType = config.RolePrefill
		case "decode":
			s.SubType = config.RoleDecode
		}
	}
	return s, words
}

func nested(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func toInt(v any) int {
	switch t := v.(type) {
	case int64:
		return int(t)
	case int:
		return t
	case float64:
		return int(t)
	case string:
		n, _ := strconv.Atoi(t)
		return n
	}
	return 0
}

// quantityInt reads a resource amount given as a string ("1") or a number.
func quantityInt(v any) int {
	switch t := v.(type) {
	case string:
		q, err := resource.ParseQuantity(t)
		if err != nil {
			return 0
		}
		return int(q.Value())
	case nil:
		return 0
	}
	return toInt(v)
}

func joinStrings(v any) string {
	l, _ := v.([]any)
	parts := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// splitWords splits a shell command line on blanks, honouring single and double quotes; it never
// fails (an unterminated quote runs to the end), because it only reads flags for display.
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// flagValue returns the value of the first of names present, as `--flag value` or `--flag=value`.
func flagValue(words []string, names ...string) string {
	for _, name := range names {
		for i, w := range words {
			if w == name && i+1 < len(words) {
				return words[i+1]
			}
			if v, ok := strings.CutPrefix(w, name+"="); ok {
				return v
			}
		}
	}
	return ""
}

func backendOf(words []string) string {
	for _, w := range words {
		switch {
		case strings.HasPrefix(w, "dynamo.sglang"):
			return "sglang"
		case strings.HasPrefix(w, "dynamo.vllm"):
			return "vllm"
		case strings.HasPrefix(w, "dynamo.trtllm"):
			return "trtllm"
		}
	}
	return ""
}

func conditions(obj *unstructured.Unstructured) []Condition {
	raw, _ := nested(obj.Object, "status", "conditions").([]any)
	var out []Condition
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		c := Condition{}
		c.Type, _ = m["type"].(string)
		c.Status, _ = m["status"].(string)
		c.Reason, _ = m["reason"].(string)
		c.Message, _ = m["message"].(string)
		if ts, ok := m["lastTransitionTime"].(string); ok {
			c.LastTransition, _ = time.Parse(time.RFC3339, ts)
		}
		out = append(out, c)
	}
	return out
}

// readyObservedGeneration is the Ready condition's observedGeneration, -1 when absent.
func readyObservedGeneration(obj *unstructured.Unstructured) int64 {
	raw, _ := nested(obj.Object, "status", "conditions").([]any)
	for _, r := range raw {
		m, _ := r.(map[string]any)
		if m["type"] == "Ready" {
			if g, ok := m["observedGeneration"].(int64); ok {
				return g
			}
		}
	}
	return -1
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodFromObject maps a pod to the console's model, with the reason that explains a wait or failure:
// Unschedulable (with the scheduler's message, e.g. insufficient nvidia.com/gpu), a waiting container
// (ImagePullBackOff, CrashLoopBackOff…), or a terminated one.
func PodFromObject(p *corev1.Pod) Pod {
	out := Pod{
		Name:          p.Name,
		Namespace:     p.Namespace,
		Deployment:    p.Labels[config.LabelDGDName],
		Component:     p.Labels[config.LabelComponent],
		ComponentType: p.Labels[config.LabelComponentType],
		Phase:         string(p.Status.Phase),
		Ready:         podReady(p),
		Node:          p.Spec.NodeName,
		Created:       p.CreationTimestamp.Time,
	}
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Limits[config.GPUResourceName]; ok {
			out.GPUs += int(q.Value())
		} else if q, ok := c.Resources.Requests[config.GPUResourceName]; ok {
			out.GPUs += int(q.Value())
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			out.Reason, out.Message = c.Reason, c.Message
		}
	}
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		out.Restarts += int(cs.RestartCount)
		if cs.LastTerminationState.Terminated != nil && (cs.Name == config.MainContainerName || out.LastTermination == "") {
			t := cs.LastTerminationState.Terminated
			out.LastTermination = t.Reason
			if t.ExitCode != 0 {
				out.LastTermination += " (exit " + strconv.Itoa(int(t.ExitCode)) + ")"
			}
		}
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating":
			if out.Reason == "" || cs.Name == config.MainContainerName {
				out.Reason, out.Message = cs.State.Waiting.Reason, cs.State.Waiting.Message
			}
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "" && cs.State.Terminated.ExitCode != 0:
			if out.Reason == "" {
				out.Reason, out.Message = cs.State.Terminated.Reason, cs.State.Terminated.Message
			}
		}
	}
	if out.Reason == "" && p.Status.Reason != "" {
		out.Reason, out.Message = p.Status.Reason, p.Status.Message
	}
	if p.DeletionTimestamp != nil {
		out.Reason = "Terminating"
	}
	return out
}

// podProblem says whether a pod's state explains a wait (and so belongs in a progress event).
func podProblem(p Pod) bool {
	switch p.Reason {
	case "", "Terminating":
		return false
	}
	return !p.Ready
}
