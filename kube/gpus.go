package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/radixops/radix/config"
)

// Node labels the GPU inventory reads.
const (
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelGPUProduct   = "nvidia.com/gpu.product" // set by NVIDIA GPU feature discovery
	LabelEKSNodeGroup = "eks.amazonaws.com/nodegroup"
)

// DCGM exporter metric names (GPU utilisation in percent, framebuffer MiB).
const (
	dcgmUtil   = "DCGM_FI_DEV_GPU_UTIL"
	dcgmFBUsed = "DCGM_FI_DEV_FB_USED"
	dcgmFBFree = "DCGM_FI_DEV_FB_FREE"
	dcgmPort   = "9400"
)

// GPUs returns the GPU nodes with capacity, allocatable and requested nvidia.com/gpu, who holds them,
// CPU and memory from metrics.k8s.io, and utilisation and memory from the DCGM exporter when present.
// Missing sources are named in Note rather than failing the report.
func (c *KubeCluster) GPUs(ctx context.Context) (*GPUReport, error) {
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	rep := &GPUReport{}
	var notes []string
	byName := map[string]*GPUNode{}
	for _, n := range nodes.Items {
		capQ := n.Status.Capacity[config.GPUResourceName]
		_, inPool := n.Labels[config.NodePoolLabel]
		if capQ.Value() == 0 && (!inPool || n.Labels[LabelGPUProduct] == "") {
			continue // a CPU node
		}
		alloc := n.Status.Allocatable[config.GPUResourceName]
		g := GPUNode{
			Name:         n.Name,
			Pool:         firstNonEmpty(n.Labels[config.NodePoolLabel], n.Labels[LabelEKSNodeGroup]),
			InstanceType: n.Labels[LabelInstanceType],
			Product:      n.Labels[LabelGPUProduct],
			Capacity:     int(capQ.Value()),
			Allocatable:  int(alloc.Value()),
			Utilization:  -1, MemUsedMiB: -1, MemTotalMiB: -1, CPUMilli: -1, MemoryBytes: -1,
		}
		rep.Nodes = append(rep.Nodes, g)
	}
	sort.Slice(rep.Nodes, func(i, j int) bool { return rep.Nodes[i].Name < rep.Nodes[j].Name })
	for i := range rep.Nodes {
		byName[rep.Nodes[i].Name] = &rep.Nodes[i]
	}
	if len(rep.Nodes) == 0 {
		notes = append(notes, "no GPU nodes (Karpenter creates them once GPU pods are pending)")
	}
	// Requested GPUs: every scheduled, unfinished pod's requests, wherever it runs.
	pods, err := c.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName!="})
	switch {
	case err == nil:
		for i := range pods.Items {
			p := &pods.Items[i]
			g := byName[p.Spec.NodeName]
			if g == nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			n := podGPURequest(p)
			if n == 0 {
				continue
			}
			g.Requested += n
			holder := p.Namespace + "/" + firstNonEmpty(p.Labels[config.LabelDGDName], p.Name)
			if !contains(g.Holders, holder) {
				g.Holders = append(g.Holders, holder)
			}
		}
	case apierrors.IsForbidden(err):
		notes = append(notes, "requested GPUs unknown (listing pods cluster-wide is forbidden)")
	default:
		return nil, fmt.Errorf("listing pods for GPU requests: %w", err)
	}
	if n := c.nodeMetrics(ctx, byName); n != "" {
		notes = append(notes, n)
	}
	if len(rep.Nodes) > 0 {
		if n := c.dcgm(ctx, byName); n != "" {
			notes = append(notes, n)
		}
	}
	rep.Note = strings.Join(notes, "; ")
	return rep, nil
}

func podGPURequest(p *corev1.Pod) int {
	n := 0
	for _, ct := range p.Spec.Containers {
		if q, ok := ct.Resources.Requests[config.GPUResourceName]; ok {
			n += int(q.Value())
		} else if q, ok := ct.Resources.Limits[config.GPUResourceName]; ok {
			n += int(q.Value()) // extended resources: a limit alone implies the request
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// nodeMetrics fills CPU and memory from metrics.k8s.io; it returns a note when that API is absent.
func (c *KubeCluster) nodeMetrics(ctx context.Context, nodes map[string]*GPUNode) string {
	list, err := c.metrics.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) || isNoMatch(err) {
			return "metrics-server not installed (no metrics.k8s.io): node CPU and memory unknown"
		}
		return "node metrics unavailable: " + logErr(err)
	}
	for _, m := range list.Items {
		if g := nodes[m.Name]; g != nil {
			g.CPUMilli = m.Usage.Cpu().MilliValue()
			g.MemoryBytes = m.Usage.Memory().Value()
		}
	}
	return ""
}

func isNoMatch(err error) bool {
	return strings.Contains(err.Error(), "the server could not find the requested resource")
}

// dcgm scrapes the DCGM exporter pods (through the API server's pod proxy) and fills utilisation and
// framebuffer memory per node, averaged over the node's GPUs.
func (c *KubeCluster) dcgm(ctx context.Context, nodes map[string]*GPUNode) string {
	var exporters []corev1.Pod
	for _, sel := range []string{"app=nvidia-dcgm-exporter", "app.kubernetes.io/name=dcgm-exporter", "app=dcgm-exporter"} {
		list, err := c.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			if apierrors.IsForbidden(err) {
				return "DCGM metrics unknown (listing pods cluster-wide is forbidden)"
			}
			continue
		}
		exporters = append(exporters, list.Items...)
	}
	if len(exporters) == 0 {
		return "no DCGM exporter: GPU utilisation unknown"
	}
	failed := 0
	for _, p := range exporters {
		g := nodes[p.Spec.NodeName]
		if g == nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		raw, err := c.pods.CoreV1().Pods(p.Namespace).ProxyGet("http", p.Name, dcgmPort, "metrics", nil).DoRaw(ctx)
		if err != nil {
			failed++
			continue
		}
		fams, err := parseMetrics(raw)
		if err != nil {
			failed++
			continue
		}
		if v, n := sumGauge(fams, dcgmUtil); n > 0 {
			g.Utilization = v / float64(n)
		}
		used, nu := sumGauge(fams, dcgmFBUsed)
		free, nf := sumGauge(fams, dcgmFBFree)
		if nu > 0 {
			g.MemUsedMiB = used
			if nf > 0 {
				g.MemTotalMiB = used + free
			}
		}
	}
	if failed > 0 {
		return fmt.Sprintf("%d DCGM exporter(s) could not be scraped", failed)
	}
	return ""
}
