package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/radixops/radix/config"
)

// DefaultDeployTimeout is how long a deploy waits for `successful`, as the blueprint's deploy.sh.
const DefaultDeployTimeout = 600 * time.Second

// Check names, stable for callers that look for one.
const (
	CheckNamespace = "namespace"
	CheckCRD       = "crd"
	CheckOperator  = "operator"
	CheckHFSecret  = "hf-token-secret"
	CheckGPUNodes  = "gpu-nodes"
	CheckServer    = "server-validation"
)

// rendered renders a request for the namespace it will land in.
func (c *KubeCluster) rendered(req DeployRequest) (*Rendered, string, error) {
	namespace := c.ns(req.Namespace)
	if req.APIVersion == "" {
		// Until API discovery picks the served version, the client-go cluster speaks v1alpha1.
		req.APIVersion = "v1alpha1"
	}
	r, err := c.render(req, namespace)
	if err != nil {
		return nil, "", err
	}
	obj := &unstructured.Unstructured{Object: r.Object}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(namespace)
	}
	if obj.GetName() == "" {
		return nil, "", errors.New("the rendered deployment has no name")
	}
	return r, obj.GetNamespace(), nil
}

// Preview renders a request, runs the prerequisite checks, validates the object with a server-side
// dry-run apply and diffs it against the live object. Nothing changes in the cluster.
func (c *KubeCluster) Preview(ctx context.Context, req DeployRequest) (*Preview, error) {
	r, namespace, err := c.rendered(req)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{Object: r.Object}
	p := &Preview{Manifest: r.Manifest}
	p.Checks = c.prerequisites(ctx, obj, namespace)
	p.Checks = append(p.Checks, r.Checks...)
	if blocked(p.Checks) != nil {
		return p, nil // a dry run would only repeat what the blocking check says
	}
	live, err := c.dyn.Resource(DGDResource).Namespace(namespace).Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading the live %s/%s: %w", namespace, obj.GetName(), err)
	default:
		p.Exists = true
	}
	dry, err := c.apply(ctx, obj, namespace, true)
	if err != nil {
		p.Checks = append(p.Checks, Check{Name: CheckServer, Blocking: true,
			Message: "the API server rejects the manifest: " + err.Error(),
			Fix:     "fix the override (--set) or profile named in the message"})
		return p, nil
	}
	p.Checks = append(p.Checks, Check{Name: CheckServer, OK: true, Message: "the API server accepts the manifest (server-side dry run)"})
	if p.Exists {
		p.Diff, err = objectDiff(live, dry)
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// apply server-side applies obj with field manager radix (forcing ownership of the fields it sets, as
// `kubectl apply --server-side --force-conflicts`: radix is the manifest's author).
func (c *KubeCluster) apply(ctx context.Context, obj *unstructured.Unstructured, namespace string, dryRun bool) (*unstructured.Unstructured, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return c.dyn.Resource(DGDResource).Namespace(namespace).Apply(ctx, obj.GetName(), obj, opts)
}

// objectDiff is a unified diff of two versions of an object, spec and metadata only (status and the
// server's bookkeeping are not what a deploy changes).
func objectDiff(live, next *unstructured.Unstructured) (string, error) {
	a, err := diffable(live)
	if err != nil {
		return "", err
	}
	b, err := diffable(next)
	if err != nil {
		return "", err
	}
	return TextDiff(a, b, "live/"+live.GetName(), "radix/"+next.GetName())
}

// TextDiff is a unified diff (3 lines of context) of two renderings of an object; "" when they are
// equal. Every Cluster implementation diffs its previews with it, so they read alike.
func TextDiff(live, next, fromFile, toFile string) (string, error) {
	if live == next {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(live), B: difflib.SplitLines(next),
		FromFile: fromFile, ToFile: toFile, Context: 3,
	})
}

func diffable(u *unstructured.Unstructured) (string, error) {
	cp := u.DeepCopy()
	unstructured.RemoveNestedField(cp.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(cp.Object, "metadata", f)
	}
	y, err := toYAML(cp.Object)
	if err != nil {
		return "", fmt.Errorf("rendering %s for the diff: %w", u.GetName(), err)
	}
	return y, nil
}

// prerequisites runs the checks deploy.sh runs, and more, each with the fix it suggests. Only a
// missing namespace or CRD blocks: the rest leave the deployment pending, which the progress then
// explains (Karpenter, for one, creates GPU nodes only once pods are pending).
func (c *KubeCluster) prerequisites(ctx context.Context, obj *unstructured.Unstructured, namespace string) []Check {
	var out []Check
	// Namespace.
	nsCheck := Check{Name: CheckNamespace, Blocking: true}
	_, err := c.cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case err == nil:
		nsCheck.OK, nsCheck.Message = true, "namespace "+namespace+" exists"
	case apierrors.IsNotFound(err):
		nsCheck.Message = "namespace " + namespace + " does not exist"
		nsCheck.Fix = "kubectl create namespace " + namespace + " (and install the Dynamo operator there), or deploy with -n <namespace of the operator>"
	case apierrors.IsForbidden(err):
		// Many users may not read namespaces but may deploy into theirs: do not block on that.
		nsCheck.OK, nsCheck.Blocking = true, false
		nsCheck.Message = "cannot read namespace " + namespace + " (forbidden); assuming it exists"
	default:
		nsCheck.Message = "checking namespace " + namespace + ": " + err.Error()
	}
	out = append(out, nsCheck)

	// CRD.
	crd := Check{Name: CheckCRD, Blocking: true}
	if res, err := c.cs.Discovery().ServerResourcesForGroupVersion(config.APIVersion); err == nil && hasResource(res, config.ResourceDGD) {
		crd.OK, crd.Message = true, "the DynamoGraphDeployment CRD ("+config.ResourceDGD+"."+config.Group+") is installed"
	} else {
		crd.Message = "the API server does not serve " + config.ResourceDGD + "." + config.Group + "/" + config.Version
		if err != nil && !apierrors.IsNotFound(err) {
			crd.Message += ": " + err.Error()
		}
		crd.Fix = "install the Dynamo platform (its CRDs and operator) with the blueprint's install script or `helm install dynamo-crds …`"
	}
	out = append(out, crd)

	out = append(out, c.operatorCheck(ctx, namespace))
	if usesSecret(obj, config.HFTokenSecret) {
		out = append(out, c.secretCheck(ctx, namespace))
	}
	out = append(out, c.gpuNodeCheck(ctx, obj))
	return out
}

func hasResource(list *metav1.APIResourceList, name string) bool {
	for _, r := range list.APIResources {
		if r.Name == name {
			return true
		}
	}
	return false
}

// operatorCheck looks for the Dynamo operator's Deployment, in the namespace first, then anywhere.
func (c *KubeCluster) operatorCheck(ctx context.Context, namespace string) Check {
	ch := Check{Name: CheckOperator,
		Fix: "install the Dynamo platform (helm chart dynamo-platform) so the operator turns the DGD into pods; until then it stays pending"}
	var lastErr error
	for _, ns := range []string{namespace, ""} {
		list, err := c.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			lastErr = err
			continue
		}
		for _, d := range list.Items {
			if !isOperator(d.Name, d.Labels) {
				continue
			}
			if d.Status.ReadyReplicas > 0 {
				ch.OK = true
				ch.Message = fmt.Sprintf("the Dynamo operator runs (%s/%s, %d ready)", d.Namespace, d.Name, d.Status.ReadyReplicas)
				ch.Fix = ""
				return ch
			}
			ch.Message = fmt.Sprintf("the Dynamo operator %s/%s has no ready replica: the deployment will stay pending", d.Namespace, d.Name)
			ch.Fix = "kubectl -n " + d.Namespace + " describe deployment " + d.Name
			return ch
		}
	}
	if lastErr != nil && apierrors.IsForbidden(lastErr) {
		ch.Message = "cannot look for the Dynamo operator (listing deployments is forbidden)"
		ch.Fix = ""
		return ch
	}
	ch.Message = "no Dynamo operator found: the deployment will stay pending"
	return ch
}

func isOperator(name string, labels map[string]string) bool {
	if strings.Contains(name, "dynamo-operator") {
		return true
	}
	for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/component", "app"} {
		if strings.Contains(labels[k], "dynamo-operator") {
			return true
		}
	}
	return false
}

func (c *KubeCluster) secretCheck(ctx context.Context, namespace string) Check {
	ch := Check{Name: CheckHFSecret}
	_, err := c.cs.CoreV1().Secrets(namespace).Get(ctx, config.HFTokenSecret, metav1.GetOptions{})
	switch {
	case err == nil:
		ch.OK, ch.Message = true, "secret "+config.HFTokenSecret+" exists"
	case apierrors.IsNotFound(err):
		ch.Message = "secret " + config.HFTokenSecret + " is missing in " + namespace + ": workers cannot download gated models"
		if c.getenv("HF_TOKEN") != "" {
			ch.Fix = "radix can create it from $HF_TOKEN (deploy --create-hf-secret; the token is never shown)"
		} else {
			ch.Fix = "export HF_TOKEN=… and deploy with --create-hf-secret, or: kubectl -n " + namespace +
				" create secret generic " + config.HFTokenSecret + " --from-literal=HF_TOKEN=…"
		}
	case apierrors.IsForbidden(err):
		ch.Message = "cannot read secret " + config.HFTokenSecret + " (forbidden)"
	default:
		ch.Message = "checking secret " + config.HFTokenSecret + ": " + err.Error()
	}
	return ch
}

// usesSecret reports whether any service takes its environment from the named secret.
func usesSecret(obj *unstructured.Unstructured, name string) bool {
	services, _, _ := unstructured.NestedMap(obj.Object, "spec", "services")
	for _, s := range services {
		if m, ok := s.(map[string]any); ok && m["envFromSecret"] == name {
			return true
		}
	}
	return false
}

// gpuNodeCheck looks for nodes of the node pool the workers select, or with GPUs when none is selected.
func (c *KubeCluster) gpuNodeCheck(ctx context.Context, obj *unstructured.Unstructured) Check {
	ch := Check{Name: CheckGPUNodes}
	pools := map[string]bool{}
	gpus := 0
	services, _, _ := unstructured.NestedMap(obj.Object, "spec", "services")
	for _, s := range services {
		m, _ := s.(map[string]any)
		if p, ok := nested(m, "extraPodSpec", "nodeSelector", config.NodePoolLabel).(string); ok {
			pools[p] = true
		}
		gpus += quantityInt(nested(m, "resources", "limits", "gpu"))
	}
	if gpus == 0 && len(pools) == 0 {
		ch.OK, ch.Message = true, "no service needs GPUs"
		return ch
	}
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		ch.Message = "cannot list nodes: " + err.Error()
		return ch
	}
	var poolNames []string
	for p := range pools {
		poolNames = append(poolNames, p)
	}
	sort.Strings(poolNames)
	found, withGPU := 0, 0
	for _, n := range nodes.Items {
		if pools[n.Labels[config.NodePoolLabel]] {
			found++
		}
		if q, ok := n.Status.Capacity[config.GPUResourceName]; ok && q.Value() > 0 {
			withGPU++
		}
	}
	switch {
	case len(pools) > 0 && found > 0:
		ch.OK, ch.Message = true, fmt.Sprintf("%d node(s) of node pool %s", found, strings.Join(poolNames, ", "))
	case len(pools) > 0:
		ch.Message = fmt.Sprintf("no node of node pool %s yet (%d node(s) with %s): Karpenter creates them once the pods are pending",
			strings.Join(poolNames, ", "), withGPU, config.GPUResourceName)
		ch.Fix = "if nothing appears, check the NodePool " + strings.Join(poolNames, ", ") + " exists (kubectl get nodepools) or deploy with --set node-pool=<pool>"
	case withGPU > 0:
		ch.OK, ch.Message = true, fmt.Sprintf("%d node(s) with %s", withGPU, config.GPUResourceName)
	default:
		ch.Message = "no node has " + config.GPUResourceName + ": GPU pods will stay Pending until one joins"
		ch.Fix = "add GPU nodes (a Karpenter NodePool or node group with the NVIDIA device plugin)"
	}
	return ch
}

// blocked returns the first failed blocking check, or nil.
func blocked(checks []Check) *Check {
	for i := range checks {
		if !checks[i].OK && checks[i].Blocking {
			return &checks[i]
		}
	}
	return nil
}

// createHFSecret creates hf-token-secret from $HF_TOKEN. The token goes into the API request only.
func (c *KubeCluster) createHFSecret(ctx context.Context, namespace string) error {
	tok := c.getenv("HF_TOKEN")
	if tok == "" {
		return errors.New("$HF_TOKEN is not set")
	}
	_, err := c.cs.CoreV1().Secrets(namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: config.HFTokenSecret, Namespace: namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager}},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"HF_TOKEN": tok},
	}, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		// Never echo the object: wrap only the status.
		return fmt.Errorf("creating secret %s in %s: %s", config.HFTokenSecret, namespace, apierrors.ReasonForError(err))
	}
	return nil
}
