package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/radixops/radix/config"
)

// Get returns one deployment as the list shows it.
func (c *KubeCluster) Get(ctx context.Context, namespace, name string) (*Deployment, error) {
	namespace = c.ns(namespace)
	obj, err := c.getDGD(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	pods, err := c.podObjects(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	d := DeploymentFromObject(obj, pods)
	return &d, nil
}

func (c *KubeCluster) getDGD(ctx context.Context, namespace, name string) (*unstructured.Unstructured, error) {
	obj, err := c.dyn.Resource(DGDResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("deployment %s/%s: %w", namespace, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %s/%s: %w", namespace, name, err)
	}
	return obj, nil
}

func (c *KubeCluster) podObjects(ctx context.Context, namespace, name string) ([]*corev1.Pod, error) {
	list, err := c.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{config.LabelDGDName: name}.String()})
	if err != nil {
		return nil, fmt.Errorf("listing pods of %s/%s: %w", namespace, name, err)
	}
	out := make([]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Describe returns one deployment with its components, pods, conditions, events and live manifest.
func (c *KubeCluster) Describe(ctx context.Context, namespace, name string) (*Detail, error) {
	namespace = c.ns(namespace)
	obj, err := c.getDGD(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	podObjs, err := c.podObjects(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	det := &Detail{Deployment: DeploymentFromObject(obj, podObjs), Conditions: conditions(obj)}
	for _, p := range podObjs {
		det.Pods = append(det.Pods, PodFromObject(p))
	}
	det.Events, err = c.events(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	det.Manifest, err = manifestYAML(obj)
	if err != nil {
		return nil, err
	}
	det.Components, err = c.components(ctx, namespace, name, det.Deployment.Services)
	if err != nil {
		return nil, err
	}
	return det, nil
}

// components finds each service's DynamoComponentDeployment and apps/v1 Deployment by the names the
// operator gives them. A user who may not read them gets the rest of the detail.
func (c *KubeCluster) components(ctx context.Context, namespace, name string, services []Service) ([]Component, error) {
	dcds, err := c.dyn.Resource(DCDResource).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil && !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("listing DynamoComponentDeployments in %s: %w", namespace, err)
	}
	byName := map[string]*unstructured.Unstructured{}
	if dcds != nil {
		for i := range dcds.Items {
			byName[dcds.Items[i].GetName()] = &dcds.Items[i]
		}
	}
	out := make([]Component, 0, len(services))
	for _, s := range services {
		comp := Component{Service: s.Name, Name: config.DCDName(name, s.Name), Desired: -1}
		if u := byName[comp.Name]; u != nil {
			comp.Exists, comp.Conditions = true, conditions(u)
		}
		dep, err := c.cs.AppsV1().Deployments(namespace).Get(ctx, comp.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			comp.Desired, comp.Ready = 1, int(dep.Status.ReadyReplicas)
			if dep.Spec.Replicas != nil {
				comp.Desired = int(*dep.Spec.Replicas)
			}
		case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		default:
			return nil, fmt.Errorf("reading deployment %s/%s: %w", namespace, comp.Name, err)
		}
		out = append(out, comp)
	}
	return out, nil
}

// events lists the events of a deployment and of everything the operator names after it (its
// DynamoComponentDeployments, Deployments, ReplicaSets and pods are all called <dgd>-…), oldest first.
func (c *KubeCluster) events(ctx context.Context, namespace, name string) ([]Event, error) {
	list, err := c.cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if apierrors.IsForbidden(err) {
		return nil, nil // events are an extra: a user who may not read them still gets the rest
	}
	if err != nil {
		return nil, fmt.Errorf("listing events in %s: %w", namespace, err)
	}
	var out []Event
	for _, e := range list.Items {
		n := e.InvolvedObject.Name
		if n != name && !strings.HasPrefix(n, name+"-") {
			continue
		}
		t := e.LastTimestamp.Time
		if t.IsZero() {
			t = e.EventTime.Time
		}
		if t.IsZero() {
			t = e.CreationTimestamp.Time
		}
		out = append(out, Event{Time: t, Type: e.Type, Reason: e.Reason, Object: e.InvolvedObject.Kind + "/" + n,
			Message: e.Message, Count: int(e.Count)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// manifestYAML renders an object for reading: without managedFields, which nobody reads.
func manifestYAML(obj *unstructured.Unstructured) (string, error) {
	cp := obj.DeepCopy()
	unstructured.RemoveNestedField(cp.Object, "metadata", "managedFields")
	y, err := toYAML(cp.Object)
	if err != nil {
		return "", fmt.Errorf("rendering %s as YAML: %w", obj.GetName(), err)
	}
	return y, nil
}
