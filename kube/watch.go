package kube

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/radixops/radix/config"
)

// fleetWatch is one namespace's (or all namespaces') DGD and pod informers, and the signal that
// something changed. Informers list once, then watch; the reflectors inside reconnect by themselves
// after a dropped watch or an API server restart.
type fleetWatch struct {
	dgd     cache.SharedIndexInformer
	pods    cache.SharedIndexInformer
	changed chan struct{} // capacity 1: coalesces bursts of events into one rebuild

	health *connHealth // the cluster's connection state: degraded while the API server is away
}

// newFleetWatch starts informers for namespace ("" = all) and, with name set, one DGD only.
func (c *KubeCluster) newFleetWatch(ctx context.Context, namespace, name string) (*fleetWatch, error) {
	// Informers retry a forbidden list for ever; ask once first so a user without the rights gets an
	// error instead of a watch that never syncs.
	where := "namespace " + namespace
	if namespace == "" {
		where = "all namespaces"
	}
	probe := metav1.ListOptions{Limit: 1}
	if name != "" {
		probe.FieldSelector = "metadata.name=" + name
	}
	if _, err := c.dyn.Resource(DGDResource).Namespace(namespace).List(ctx, probe); err != nil {
		return nil, fmt.Errorf("listing DynamoGraphDeployments in %s: %w", where, err)
	}
	_, podErr := c.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{Limit: 1, LabelSelector: config.LabelDGDName})
	if podErr != nil && !apierrors.IsForbidden(podErr) {
		return nil, fmt.Errorf("listing pods in %s: %w", where, podErr)
	}
	podsAllowed := podErr == nil // without the right to list pods, deployments are shown without them
	w := &fleetWatch{changed: make(chan struct{}, 1), health: c.health}
	unsubscribe := c.health.subscribe(w.changed)
	go func() { <-ctx.Done(); unsubscribe() }()
	dynFactory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.dyn, 0, namespace, func(o *metav1.ListOptions) {
		if name != "" {
			o.FieldSelector = "metadata.name=" + name
		}
	})
	w.dgd = dynFactory.ForResource(DGDResource).Informer()
	podFactory := informers.NewSharedInformerFactoryWithOptions(c.cs, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = config.LabelDGDName
			if name != "" {
				o.LabelSelector = config.LabelDGDName + "=" + name
			}
		}))
	informers := []cache.SharedIndexInformer{w.dgd}
	synced := []cache.InformerSynced{w.dgd.HasSynced}
	if podsAllowed {
		w.pods = podFactory.Core().V1().Pods().Informer()
		informers = append(informers, w.pods)
		synced = append(synced, w.pods.HasSynced)
	}
	for _, inf := range informers {
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			// The reflector backs off and retries; the next request that gets an answer clears this.
			c.health.set(err)
		}); err != nil {
			return nil, fmt.Errorf("setting the watch error handler: %w", err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { w.signal() },
			UpdateFunc: func(any, any) { w.signal() },
			DeleteFunc: func(any) { w.signal() },
		}); err != nil {
			return nil, fmt.Errorf("adding an event handler: %w", err)
		}
	}
	dynFactory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("listing deployments: %w", ctx.Err())
		}
		return nil, fmt.Errorf("listing deployments: the informers did not sync")
	}
	return w, nil
}

func (w *fleetWatch) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// err is the watch's degradation: set while the API server does not answer.
func (w *fleetWatch) err() error { return w.health.get() }

// podList returns the informer's pods, sorted by name.
func (w *fleetWatch) podList() []*corev1.Pod {
	if w.pods == nil {
		return nil
	}
	items := w.pods.GetStore().List()
	out := make([]*corev1.Pod, 0, len(items))
	for _, it := range items {
		if p, ok := it.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (w *fleetWatch) dgdList() []*unstructured.Unstructured {
	items := w.dgd.GetStore().List()
	out := make([]*unstructured.Unstructured, 0, len(items))
	for _, it := range items {
		if u, ok := it.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GetNamespace() != out[j].GetNamespace() {
			return out[i].GetNamespace() < out[j].GetNamespace()
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out
}

func (w *fleetWatch) snapshot() Snapshot {
	return buildSnapshot(w.dgdList(), w.podList(), w.err())
}

// buildSnapshot maps sorted DGDs and their pods to a Snapshot: one pass over the pods to group them,
// one over the DGDs, so a change in a fleet of thousands of pods costs a linear rebuild.
func buildSnapshot(dgds []*unstructured.Unstructured, pods []*corev1.Pod, err error) Snapshot {
	byDGD := map[string][]*corev1.Pod{}
	for _, p := range pods {
		k := p.Namespace + "/" + p.Labels[config.LabelDGDName]
		byDGD[k] = append(byDGD[k], p)
	}
	s := Snapshot{At: time.Now(), Err: err, Deployments: make([]Deployment, 0, len(dgds))}
	for _, u := range dgds {
		s.Deployments = append(s.Deployments, DeploymentFromObject(u, byDGD[u.GetNamespace()+"/"+u.GetName()]))
	}
	return s
}

// Watch streams snapshots of the deployments in namespace ("" means all namespaces).
func (c *KubeCluster) Watch(ctx context.Context, namespace string) (<-chan Snapshot, error) {
	wctx, cancel := context.WithCancel(ctx)
	w, err := c.newFleetWatch(wctx, namespace, "")
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan Snapshot, 1)
	go func() {
		defer cancel()
		defer close(out)
		for {
			snap := w.snapshot()
			select {
			case out <- snap:
			case <-wctx.Done():
				return
			}
			select {
			case <-w.changed:
			case <-wctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Pods lists the pods of a deployment (all of them with name "").
func (c *KubeCluster) Pods(ctx context.Context, namespace, name string) ([]Pod, error) {
	sel := config.LabelDGDName
	if name != "" {
		sel = labels.Set{config.LabelDGDName: name}.String()
	}
	list, err := c.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing pods of %s/%s: %w", namespace, name, err)
	}
	out := make([]Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, PodFromObject(&list.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
