package kubefake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/radixops/radix/kube"
)

const (
	workerArgs = "python3 -m dynamo.sglang --model-path %[1]s --served-model-name %[1]s --page-size 16 --tp 1 --trust-remote-code --skip-tokenizer-init"
	llama8B    = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
	qwen06B    = "Qwen/Qwen3-0.6B"
)

// BlueprintProfiles are the three ai-on-eks SGLang blueprints as fake profiles (REFERENCE.md §1).
func BlueprintProfiles() []Profile {
	fe := kube.Service{Name: "Frontend", ComponentType: "frontend", Replicas: 1, Args: "python3 -m dynamo.frontend --http-port=8000"}
	w := func(name, sub, model string, replicas int, extra string) kube.Service {
		return kube.Service{Name: name, ComponentType: "worker", SubType: sub, Replicas: replicas, GPUs: 1,
			Args: strings.TrimSpace(fmt.Sprintf(workerArgs, model) + " " + extra)}
	}
	return []Profile{
		{Name: "sglang-aggregated-default", Backend: "sglang", Model: llama8B, PageSize: 16,
			Services: []kube.Service{fe, w("SGLangWorker", "", llama8B, 1, "")}},
		{Name: "sglang-disaggregated-default", Backend: "sglang", Model: llama8B, PageSize: 16,
			Services: []kube.Service{fe,
				w("SGLangDecodeWorker", "decode", llama8B, 1, "--disaggregation-mode decode --disaggregation-transfer-backend nixl"),
				w("SGLangPrefillWorker", "prefill", llama8B, 1, "--disaggregation-mode prefill --disaggregation-transfer-backend nixl")}},
		{Name: "sglang-router", Backend: "sglang", Model: qwen06B, PageSize: 16,
			Services: []kube.Service{
				{Name: "Frontend", ComponentType: "frontend", Replicas: 1, Args: "python3 -m dynamo.frontend --http-port 8000 --router-mode kv --kv-overlap-score-weight 1.0 --router-temperature 0.1"},
				w("SGLangWorker", "", qwen06B, 2, "")}},
	}
}

// podsFor makes the pods a deployment's services would have, running and ready.
func podsFor(d kube.Deployment, now time.Time) []kube.Pod {
	var pods []kube.Pod
	n := 0
	for _, s := range d.Services {
		for r := 0; r < s.Replicas; r++ {
			n++
			pods = append(pods, kube.Pod{
				Name:          fmt.Sprintf("%s-%s-%05x", d.Name, strings.ToLower(s.Name), (n*7919+len(d.Name)*104729)&0xfffff),
				Namespace:     d.Namespace,
				Deployment:    d.Name,
				Component:     s.Name,
				ComponentType: s.ComponentType,
				Phase:         "Running",
				Ready:         true,
				Node:          fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", 16+n%4, 10+n),
				GPUs:          s.GPUs,
				Created:       d.Created,
			})
		}
	}
	return pods
}

// DeploymentFor builds a deployment of profile p as the operator would report it when successful.
func DeploymentFor(p Profile, ns, name string, created time.Time) kube.Deployment {
	d := kube.Deployment{Name: name, Namespace: ns, Backend: p.Backend, Profile: p.Name, State: kube.StateSuccessful,
		Reason: "all_resources_are_ready", Message: "All resources are ready", Model: p.Model, PageSize: p.PageSize,
		Created: created}
	for _, s := range p.Services {
		s.Ready = s.Replicas
		d.Services = append(d.Services, s)
		d.GPUs += s.GPUs * s.Replicas
	}
	return d
}

// NewDemo returns a fake cluster seeded with a small fleet at time now: the three blueprints running
// in dynamo-cloud, one failing deployment, GPU nodes, events, log history and worker statistics.
func NewDemo(now time.Time) *Cluster {
	c := New(kube.Info{Context: "demo-eks", Server: "https://demo.eks.amazonaws.com", Namespace: "dynamo-cloud"})
	c.Now = func() time.Time { return now }
	ps := BlueprintProfiles()
	for _, p := range ps {
		c.AddProfile(p)
	}
	c.SetChecks([]kube.Check{
		{Name: "namespace", OK: true, Blocking: true, Message: "namespace dynamo-cloud exists"},
		{Name: "hf-token-secret", OK: true, Blocking: true, Message: "secret hf-token-secret has HF_TOKEN"},
		{Name: "kv-events", OK: false, Message: "workers lack --kv-events-config: the KV router gets no cache events", Fix: "set kvEvents=true"},
	})
	seed := []struct {
		p       Profile
		ns, n   string
		age     time.Duration
		failing string
	}{
		{ps[0], "dynamo-cloud", "sglang-agg", 26 * time.Hour, ""},
		{ps[1], "dynamo-cloud", "sglang-disagg", 5 * time.Hour, ""},
		{ps[2], "dynamo-cloud", "sglang-router", 47 * time.Minute, ""},
		{ps[0], "team-a", "llama-broken", 12 * time.Minute, "Resources not ready: llama-broken-sglangworker: ImagePullBackOff"},
	}
	nodes := map[string][]string{}
	for _, s := range seed {
		d := DeploymentFor(s.p, s.ns, s.n, now.Add(-s.age))
		pods := podsFor(d, now)
		if s.failing != "" {
			d.State, d.Reason, d.Message = kube.StateFailed, "some_resources_are_not_ready", s.failing
			for i := range d.Services {
				if d.Services[i].ComponentType == "worker" {
					d.Services[i].Ready = 0
				}
			}
			for i := range pods {
				if pods[i].ComponentType == "worker" {
					pods[i].Phase, pods[i].Ready, pods[i].Reason = "Pending", false, "ImagePullBackOff"
					pods[i].Message = "Back-off pulling image nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.5.1"
					pods[i].Restarts = 3
				}
			}
		}
		c.Upsert(d, pods)
		for _, p := range pods {
			if p.GPUs > 0 {
				nodes[p.Node] = append(nodes[p.Node], d.Name)
			}
		}
		c.AddEvent(s.ns, s.n, kube.Event{Time: now.Add(-s.age), Type: "Normal", Reason: "Created", Object: "DynamoGraphDeployment/" + s.n, Message: "created from profile " + s.p.Name, Count: 1})
		if s.failing != "" {
			c.AddEvent(s.ns, s.n, kube.Event{Time: now.Add(-time.Minute), Type: "Warning", Reason: "Failed", Object: "Pod/" + pods[1].Name, Message: "Failed to pull image: not found", Count: 7})
			continue
		}
		var stats []kube.WorkerStats
		for i, p := range pods {
			if p.ComponentType != "worker" {
				continue
			}
			c.AppendLogLine(s.ns, s.n, kube.LogLine{Time: now.Add(-2 * time.Minute), Pod: p.Name,
				Text: "max_total_num_tokens=665690, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=65536"})
			c.AppendLogLine(s.ns, s.n, kube.LogLine{Time: now.Add(-time.Minute), Pod: p.Name, Text: "Successfully registered LLM with runtime config"})
			c.AppendLogLine(s.ns, s.n, kube.LogLine{Time: now.Add(-30 * time.Second), Pod: p.Name, Text: "Prefill batch. #new-seq: 1, #new-token: 2192, #cached-token: 35, token usage: 0.00, #running-req: 0, #queue-req: 0, "})
			role := "worker"
			if p.Component == "SGLangDecodeWorker" {
				role = "decode"
			} else if p.Component == "SGLangPrefillWorker" {
				role = "prefill"
			}
			stats = append(stats, kube.WorkerStats{Pod: p.Name, Role: role, Source: "metrics", CacheSource: "metrics", At: now,
				CacheHitRate: 0.42 + 0.1*float64(i), TokenUsage: 0.12, Running: 2, Queued: 0, GenThroughput: 45.9,
				TTFT: 180 * time.Millisecond, CachedTokens: 4200, PromptTokens: 10000})
		}
		c.SetStats(s.ns, s.n, stats)
	}
	var gn []kube.GPUNode
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", 16+(i+1)%4, 11+i)
		holders := nodes[name]
		gn = append(gn, kube.GPUNode{Name: name, Pool: "g5-gpu-karpenter", InstanceType: "g5.2xlarge", Product: "NVIDIA-A10G",
			Capacity: 1, Allocatable: 1, Requested: min(len(holders), 1), Holders: holders,
			Utilization: -1, MemUsedMiB: -1, MemTotalMiB: 23028, CPUMilli: -1, MemoryBytes: -1})
	}
	c.SetGPUs(kube.GPUReport{Nodes: gn, Note: "no DCGM exporter: utilisation unknown"})
	return c
}

// Simulate appends SGLang-format log lines to every successful deployment at about rate lines per
// second and moves the worker statistics, until ctx ends. It uses the wall clock for line times.
func (c *Cluster) Simulate(ctx context.Context, rate int) {
	if rate <= 0 {
		rate = 10
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	per := max(rate/10, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		deps := c.Deployments()
		for i := 0; i < per; i++ {
			var live []kube.Deployment
			for _, d := range deps {
				if d.State == kube.StateSuccessful {
					live = append(live, d)
				}
			}
			if len(live) == 0 {
				break
			}
			d := live[rng.IntN(len(live))]
			det, err := c.Describe(ctx, d.Namespace, d.Name)
			if err != nil || len(det.Pods) == 0 {
				continue
			}
			p := det.Pods[rng.IntN(len(det.Pods))]
			c.AppendLogLine(d.Namespace, d.Name, kube.LogLine{Time: time.Now(), Pod: p.Name, Text: sampleLine(rng)})
		}
		for _, d := range deps {
			st, err := c.CacheStats(ctx, d.Namespace, d.Name)
			if err != nil {
				continue
			}
			for i := range st {
				st[i].At = time.Now()
				st[i].PromptTokens += float64(200 + rng.IntN(2000))
				st[i].CachedTokens += float64(rng.IntN(1500))
				st[i].CacheHitRate = st[i].CachedTokens / st[i].PromptTokens
				st[i].TokenUsage = rng.Float64() * 0.3
				st[i].Running = rng.IntN(8)
				st[i].Queued = rng.IntN(3)
				st[i].GenThroughput = 30 + rng.Float64()*40
				st[i].TTFT = time.Duration(80+rng.IntN(300)) * time.Millisecond
			}
			c.SetStats(d.Namespace, d.Name, st)
		}
	}
}

func sampleLine(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return fmt.Sprintf("Prefill batch. #new-seq: 1, #new-token: %d, #cached-token: %d, token usage: 0.%02d, #running-req: %d, #queue-req: 0, ",
			rng.IntN(4000), rng.IntN(2000), rng.IntN(40), rng.IntN(6))
	case 1, 2, 3:
		return fmt.Sprintf("Decode batch. #running-req: %d, #token: %d, token usage: 0.%02d, cuda graph: True, gen throughput (token/s): %.2f, #queue-req: 0, ",
			rng.IntN(8), rng.IntN(9000), rng.IntN(40), 30+rng.Float64()*40)
	case 4:
		return `INFO:     10.0.17.4:51234 - "POST /v1/chat/completions HTTP/1.1" 200 OK`
	default:
		if rng.IntN(10) == 0 {
			return "KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.0980 -> 0.3487"
		}
		return "Successfully registered LLM with runtime config"
	}
}
