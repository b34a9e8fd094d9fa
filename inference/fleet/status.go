package fleet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/kube"
)

// health is what one probe of a process found.
type health struct {
	Alive   bool
	Healthy bool
	Detail  string // the /health body's message when unhealthy
}

var probeClient = &http.Client{Timeout: 800 * time.Millisecond}

// probe checks every process of d at once: alive by pid and start time, healthy by GET /health.
func probe(ctx context.Context, d *Deployment) []health {
	out := make([]health, len(d.Processes))
	var wg sync.WaitGroup
	for i, p := range d.Processes {
		if !alive(p.PID, p.StartTicks) {
			continue
		}
		out[i].Alive = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/health", nil)
			if err != nil {
				return
			}
			resp, err := probeClient.Do(req)
			if err != nil {
				out[i].Detail = "not answering yet"
				return
			}
			defer resp.Body.Close()
			// The answer in either Dynamo generation's shape (a 503 not_ready, or 0.5.0's 200 with
			// status unhealthy) or the worker's; its message is what the pod row shows.
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			out[i].Healthy, out[i].Detail = telemetry.ReadHealth(resp.StatusCode, body)
		}()
	}
	wg.Wait()
	return out
}

// view maps a deployment and its probe to the console's model.
func view(d *Deployment, h []health, st store) (kube.Deployment, []kube.Pod) {
	kd := kube.Deployment{
		Name: d.Name, Namespace: d.Namespace, Backend: "sglang", Profile: d.Profile,
		Model: d.ServedModel, PageSize: d.PageSize, Created: d.Created, Pods: len(d.Processes),
		Note: d.ModelNote,
	}
	services := map[string]*kube.Service{}
	var order []string
	var notReady []string
	dead := false
	pods := make([]kube.Pod, len(d.Processes))
	for i, p := range d.Processes {
		s := services[p.Service]
		if s == nil {
			s = &kube.Service{Name: p.Service, ComponentType: componentType(p.Role), SubType: subType(p.Role), Args: strings.Join(p.Args, " ")}
			services[p.Service] = s
			order = append(order, p.Service)
		}
		s.Replicas++
		pod := kube.Pod{
			Name: p.Pod, Namespace: d.Namespace, Deployment: d.Name, Component: p.Service,
			ComponentType: componentType(p.Role), Node: "localhost", Created: p.Started, PID: p.PID, Endpoint: p.URL(),
		}
		switch {
		case !h[i].Alive:
			dead = true
			pod.Phase, pod.Reason = "Failed", "ProcessExited"
			pod.Message = fmt.Sprintf("pid %d is gone; last log lines:\n%s", p.PID, strings.Join(tailLines(st.logPath(d, p), 5), "\n"))
			notReady = append(notReady, p.Pod+": process exited")
		case h[i].Healthy:
			pod.Phase, pod.Ready = "Running", true
			s.Ready++
		default:
			pod.Phase, pod.Reason, pod.Message = "Running", "Starting", h[i].Detail
			notReady = append(notReady, p.Pod+": "+h[i].Detail)
		}
		pods[i] = pod
	}
	for _, k := range order {
		kd.Services = append(kd.Services, *services[k])
	}
	switch {
	case d.Deleting:
		kd.State = kube.StateDeleting
	case dead:
		kd.State, kd.Reason = kube.StateFailed, "some_resources_are_not_ready"
	case len(notReady) == 0 && len(d.Processes) > 0:
		kd.State, kd.Reason, kd.Message = kube.StateSuccessful, "all_resources_are_ready", "All resources are ready"
	default:
		kd.State, kd.Reason = kube.StatePending, "some_resources_are_not_ready"
	}
	if len(notReady) > 0 {
		kd.Message = "Resources not ready: " + strings.Join(notReady, "; ")
	}
	return kd, pods
}

func componentType(role string) string {
	if role == "frontend" {
		return "frontend"
	}
	return "worker"
}

func subType(role string) string {
	if role == "prefill" || role == "decode" {
		return role
	}
	return ""
}
