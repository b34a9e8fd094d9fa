package kube

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/radixops/radix/config"
)

func resourceQuantity(n int64) *resource.Quantity { return resource.NewQuantity(n, resource.DecimalSI) }

// nextSnapshot waits for a snapshot satisfying ok.
func nextSnapshot(t *testing.T, ch <-chan Snapshot, limit time.Duration, what string, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case s, open := <-ch:
			if !open {
				t.Fatalf("watch closed while waiting for %s", what)
			}
			if ok(s) {
				return s
			}
		case <-timer.C:
			t.Fatalf("timed out waiting for a snapshot with %s", what)
		}
	}
}

func names(s Snapshot) []string {
	var out []string
	for _, d := range s.Deployments {
		out = append(out, d.Namespace+"/"+d.Name)
	}
	return out
}

func hasDeployment(s Snapshot, ns, name string) (Deployment, bool) {
	for _, d := range s.Deployments {
		if d.Namespace == ns && d.Name == name {
			return d, true
		}
	}
	return Deployment{}, false
}

func setStatus(t *testing.T, dyn dynamic.Interface, ns, name, state, reason, message string) {
	t.Helper()
	ctx := context.Background()
	obj, err := dyn.Resource(DGDResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readyStatus := "False"
	if state == "successful" {
		readyStatus = "True"
	}
	obj.Object["status"] = map[string]any{"state": state, "conditions": []any{map[string]any{
		"type": "Ready", "status": readyStatus, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	if _, err := dyn.Resource(DGDResource).Namespace(ns).UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestWatchListsAndFollowsAcrossNamespaces(t *testing.T) {
	e := sharedEnv(t)
	c := adminCluster(t, e, "watch-a")
	cs := adminClientset(t, e)
	createNamespace(t, cs, "watch-a")
	createNamespace(t, cs, "watch-b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dyn := c.Dynamic()
	if _, err := dyn.Resource(DGDResource).Namespace("watch-a").Create(ctx, testDGD("watch-a", "one"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	all, err := c.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	onlyB, err := c.Watch(ctx, "watch-b")
	if err != nil {
		t.Fatal(err)
	}
	first := nextSnapshot(t, all, 30*time.Second, "watch-a/one", func(s Snapshot) bool { _, ok := hasDeployment(s, "watch-a", "one"); return ok })
	d, _ := hasDeployment(first, "watch-a", "one")
	if d.State != StatePending || d.Model != "Qwen/Qwen3-0.6B" || d.PageSize != 16 || d.GPUs != 2 || d.Backend != "sglang" ||
		d.Profile != "sglang-aggregated-default" || len(d.Services) != 2 || d.Services[0].Name != "Frontend" {
		t.Fatalf("mapped deployment: %+v", d)
	}
	b0 := nextSnapshot(t, onlyB, 30*time.Second, "the initial list of watch-b", func(Snapshot) bool { return true })
	if len(b0.Deployments) != 0 {
		t.Fatalf("namespace watch sees other namespaces: %v", names(b0))
	}

	// A deployment appears in watch-b: both watches see it.
	if _, err := dyn.Resource(DGDResource).Namespace("watch-b").Create(ctx, testDGD("watch-b", "two"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nextSnapshot(t, all, 30*time.Second, "watch-b/two in the all-namespaces watch", func(s Snapshot) bool {
		_, a := hasDeployment(s, "watch-a", "one")
		_, b := hasDeployment(s, "watch-b", "two")
		return a && b
	})
	nextSnapshot(t, onlyB, 30*time.Second, "watch-b/two", func(s Snapshot) bool {
		return len(s.Deployments) == 1 && s.Deployments[0].Name == "two"
	})

	// Status and pods flow into the snapshot.
	setStatus(t, dyn, "watch-a", "one", "successful", "all_resources_are_ready", "All resources are ready")
	p := testPod("watch-a", "one", "SGLangWorker", "worker", "one-sglangworker-0", 1)
	p, err = cs.CoreV1().Pods("watch-a").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Pods("watch-a").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := nextSnapshot(t, all, 30*time.Second, "status and a ready worker", func(s Snapshot) bool {
		d, _ := hasDeployment(s, "watch-a", "one")
		return d.State == StateSuccessful && d.Pods == 1 && len(d.Services) == 2 && d.Services[1].Ready == 1
	})
	d, _ = hasDeployment(s, "watch-a", "one")
	if d.Reason != "all_resources_are_ready" || d.Message != "All resources are ready" {
		t.Fatalf("ready condition not mapped: %+v", d)
	}

	// Deletion removes it.
	if err := dyn.Resource(DGDResource).Namespace("watch-b").Delete(ctx, "two", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nextSnapshot(t, all, 30*time.Second, "watch-b/two gone", func(s Snapshot) bool {
		_, b := hasDeployment(s, "watch-b", "two")
		return !b
	})
	cancel()
	for range all { // the channel is closed once the context ends
	}
}

func TestWatchSurvivesAPIServerRestart(t *testing.T) {
	e := sharedEnv(t)
	c := adminCluster(t, e, "restart")
	createNamespace(t, adminClientset(t, e), "restart")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps, err := c.Watch(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	nextSnapshot(t, snaps, 30*time.Second, "the initial list", func(Snapshot) bool { return true })
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer rcancel()
	// While the server is down the watch says it is degraded (keeping the last list)...
	e.KillAPIServer()
	nextSnapshot(t, snaps, time.Minute, "a degraded snapshot", func(s Snapshot) bool { return s.Err != nil })
	if err := e.StartAPIServer(rctx); err != nil {
		t.Fatal(err)
	}
	// ...and once it is back, says so again.
	nextSnapshot(t, snaps, 2*time.Minute, "the watch recovered", func(s Snapshot) bool { return s.Err == nil })
	if err := e.RestartAPIServer(rctx); err != nil {
		t.Fatal(err)
	}
	// A change made after the restart must reach the watch: the informers reconnected.
	if _, err := c.Dynamic().Resource(DGDResource).Namespace("restart").Create(ctx, testDGD("restart", "after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := nextSnapshot(t, snaps, 2*time.Minute, "the deployment created after the restart", func(s Snapshot) bool {
		_, ok := hasDeployment(s, "restart", "after")
		return ok && s.Err == nil
	})
	if len(s.Deployments) != 1 {
		t.Fatalf("after restart: %v", names(s))
	}
}

func TestConnectErrorsNameContextAndServer(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	data := `apiVersion: v1
kind: Config
current-context: dead
clusters:
- name: dead
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: dead
  context: {cluster: dead, user: u}
`
	if err := os.WriteFile(kc, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Connect(context.Background(), Options{Kubeconfig: kc, ProbeTimeout: 2 * time.Second})
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `context "dead"`) || !strings.Contains(err.Error(), "https://127.0.0.1:1") {
		t.Fatalf("error does not name context and server: %v", err)
	}
	_, err = Connect(context.Background(), Options{Kubeconfig: kc, Context: "nope"})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown context error: %v", err)
	}
}

func TestAllowedFollowsRBACAndReadOnly(t *testing.T) {
	e := sharedEnv(t)
	cs := adminClientset(t, e)
	createNamespace(t, cs, "rbac")
	ctx := context.Background()
	// alice may read and apply DGDs in namespace rbac, but not delete them.
	_, err := cs.RbacV1().Roles("rbac").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "dgd-editor-no-delete"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{config.Group}, Resources: []string{config.ResourceDGD},
			Verbs: []string{"get", "list", "watch", "create", "patch", "update"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.RbacV1().RoleBindings("rbac").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "dgd-editor-no-delete"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "alice"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := Connect(ctx, Options{Kubeconfig: e.PlainConfig, Namespace: "rbac"})
	if err != nil {
		t.Fatal(err)
	}
	if !alice.Allowed(ctx, ActionDeploy, "rbac") {
		t.Error("alice may apply DGDs in rbac, Allowed says no")
	}
	if alice.Allowed(ctx, ActionDelete, "rbac") {
		t.Error("alice may not delete DGDs, Allowed says yes")
	}
	if alice.Allowed(ctx, ActionDeploy, "default") {
		t.Error("alice has no role in default, Allowed(deploy) says yes")
	}
	if alice.Allowed(ctx, ActionCreateSecret, "rbac") {
		t.Error("alice may not create secrets")
	}
	admin := adminCluster(t, e, "rbac")
	if !admin.Allowed(ctx, ActionDelete, "rbac") {
		t.Error("admin (system:masters) may delete")
	}
	ro, err := Connect(ctx, Options{Kubeconfig: e.Kubeconfig, Namespace: "rbac", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Action{ActionDeploy, ActionDelete, ActionCreateSecret} {
		if ro.Allowed(ctx, a, "rbac") {
			t.Errorf("read-only mode allows %s", a)
		}
	}
	if !ro.Allowed(ctx, ActionLogs, "rbac") {
		t.Error("read-only mode should still allow reading logs")
	}
	if _, err := ro.Delete(ctx, "rbac", "x", false); err == nil {
		t.Error("read-only Delete did not refuse")
	}
	// alice may list DGDs in rbac (not pods): the watch works there, without pods; across all
	// namespaces she may not, and the watch says so instead of hanging.
	if _, err := alice.Watch(ctx, ""); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("alice's all-namespaces watch: %v", err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	snaps, err := alice.Watch(wctx, "rbac")
	if err != nil {
		t.Fatal(err)
	}
	if s := <-snaps; s.Err != nil || len(s.Deployments) != 0 {
		t.Errorf("alice's namespace watch: %+v", s)
	}
	// What RBAC forbids, the API server refuses too: Allowed told the truth.
	if _, err := alice.Delete(ctx, "rbac", "anything", false); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("alice's delete: %v", err)
	}
}

// drain collects progress events until the channel closes.
func drain(t *testing.T, ch <-chan Progress, limit time.Duration, each func(Progress)) []Progress {
	t.Helper()
	var out []Progress
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case p, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, p)
			if each != nil {
				each(p)
			}
		case <-timer.C:
			t.Fatalf("progress did not finish; got %d events, last %+v", len(out), out[len(out)-1])
		}
	}
}

func checkByName(checks []Check, name string) (Check, bool) {
	for _, c := range checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func TestPreviewChecksBlockWithoutNamespace(t *testing.T) {
	e := sharedEnv(t)
	c := adminCluster(t, e, "no-such-namespace")
	pv, err := c.Preview(context.Background(), DeployRequest{Profile: "sglang-aggregated-default"})
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := checkByName(pv.Checks, CheckNamespace)
	if ns.OK || !ns.Blocking || ns.Fix == "" {
		t.Fatalf("namespace check: %+v", ns)
	}
	crd, _ := checkByName(pv.Checks, CheckCRD)
	if !crd.OK {
		t.Fatalf("CRD check: %+v", crd)
	}
	ch, err := c.Deploy(context.Background(), DeployRequest{Profile: "sglang-aggregated-default", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	evs := drain(t, ch, time.Minute, nil)
	last := evs[len(evs)-1]
	if !last.Done || last.Err == nil || !strings.Contains(last.Err.Error(), "namespace") {
		t.Fatalf("deploy into a missing namespace: %+v", last)
	}
	if _, err := c.Get(context.Background(), "no-such-namespace", "sglang-aggregated-default"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("something was applied: %v", err)
	}
}

func TestDeployDryRunThenForRealWithProgress(t *testing.T) {
	e := sharedEnv(t)
	const ns = "deploy"
	cs := adminClientset(t, e)
	createNamespace(t, cs, ns)
	c := adminCluster(t, e, ns)
	c.SetGetenv(func(k string) string {
		if k == "HF_TOKEN" {
			return "hf_secret_value_never_printed"
		}
		return ""
	})
	ctx := context.Background()
	req := DeployRequest{Profile: "sglang-aggregated-default", Name: "agg", Overrides: map[string]string{"page-size": "32"}}

	// Preview: checks, manifest, nothing applied.
	pv, err := c.Preview(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Exists || pv.Diff != "" || !strings.Contains(pv.Manifest, "name: agg") || !strings.Contains(pv.Manifest, "--page-size 32") {
		t.Fatalf("preview of a new deployment: exists=%v diff=%q manifest:\n%s", pv.Exists, pv.Diff, pv.Manifest)
	}
	for name, wantOK := range map[string]bool{CheckNamespace: true, CheckCRD: true, CheckOperator: false, CheckHFSecret: false, CheckGPUNodes: false, CheckServer: true} {
		ch, ok := checkByName(pv.Checks, name)
		if !ok || ch.OK != wantOK {
			t.Errorf("check %s: %+v (found %v), want OK=%v", name, ch, ok, wantOK)
		}
		if ok && !ch.OK && ch.Blocking {
			t.Errorf("check %s blocks, but only a missing namespace or CRD may", name)
		}
	}
	if hf, _ := checkByName(pv.Checks, CheckHFSecret); !strings.Contains(hf.Fix, "$HF_TOKEN") {
		t.Errorf("hf-token-secret fix does not offer $HF_TOKEN: %q", hf.Fix)
	}

	// Dry run through Deploy: validated by the server, still nothing applied.
	ch, err := c.Deploy(ctx, DeployRequest{Profile: req.Profile, Name: req.Name, Overrides: req.Overrides, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	evs := drain(t, ch, time.Minute, nil)
	if last := evs[len(evs)-1]; last.Err != nil || !strings.Contains(last.Message, "dry run") {
		t.Fatalf("dry run: %+v", last)
	}
	if _, err := c.Get(ctx, ns, "agg"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dry run applied something: %v", err)
	}

	// For real, with wait: the test plays the operator and the kubelet.
	req.Wait, req.Timeout, req.CreateHFSecret = true, 2*time.Minute, true
	ch, err = c.Deploy(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	dyn := c.Dynamic()
	step := 0
	var sawUnschedulable, sawCrashLogs, sawPending, sawSecret bool
	evs = drain(t, ch, 2*time.Minute, func(p Progress) {
		if strings.Contains(p.Message, "hf_secret_value") {
			t.Errorf("the token leaked into progress: %q", p.Message)
		}
		if strings.Contains(p.Message, "created secret hf-token-secret") {
			sawSecret = true
		}
		for _, po := range p.Pods {
			if po.Reason == "Unschedulable" && strings.Contains(po.Message, "nvidia.com/gpu") {
				sawUnschedulable = true
			}
			if po.Reason == "CrashLoopBackOff" {
				sawCrashLogs = true
			}
		}
		if p.Phase == "waiting" && strings.Contains(p.Message, "some_resources_are_not_ready") || strings.Contains(p.Message, "state pending") {
			sawPending = true
		}
		// Drive the next step once the previous one has been reported.
		switch {
		case step == 0 && p.Phase == "apply":
			step = 1
			setStatus(t, dyn, ns, "agg", "pending", "some_resources_are_not_ready", "Resources not ready: agg-sglangworker: 0/1 ready")
		case step == 1 && p.Phase == "waiting" && strings.Contains(p.Message, "pending"):
			step = 2
			// A worker pod appears and cannot be scheduled: no GPU node yet.
			pod, err := cs.CoreV1().Pods(ns).Create(ctx, testPod(ns, "agg", "SGLangWorker", "worker", "agg-sglangworker-abc", 1), metav1.CreateOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			pod.Status.Phase = corev1.PodPending
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}
			if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
		case step == 2 && len(p.Pods) > 0 && p.Pods[0].Reason == "Unschedulable":
			step = 3
			// It schedules, starts, and crash-loops.
			pod, err := cs.CoreV1().Pods(ns).Get(ctx, "agg-sglangworker-abc", metav1.GetOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			pod.Status.Phase = corev1.PodRunning
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionFalse}}
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", RestartCount: 3,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}}
			if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
		case step == 3 && len(p.Pods) > 0 && p.Pods[0].Reason == "CrashLoopBackOff":
			step = 4
			setStatus(t, dyn, ns, "agg", "successful", "all_resources_are_ready", "All resources are ready")
		}
	})
	last := evs[len(evs)-1]
	if !last.Done || last.Err != nil || last.Phase != "ready" || last.State != StateSuccessful {
		t.Fatalf("final event: %+v", last)
	}
	if !sawUnschedulable || !sawCrashLogs || !sawPending || !sawSecret {
		t.Fatalf("progress missed a step: unschedulable=%v crashloop=%v pending=%v secret=%v", sawUnschedulable, sawCrashLogs, sawPending, sawSecret)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, config.HFTokenSecret, metav1.GetOptions{})
	if err != nil || string(sec.Data["HF_TOKEN"]) != "hf_secret_value_never_printed" {
		t.Fatalf("secret not created from $HF_TOKEN: %v", err)
	}
	obj, err := dyn.Resource(DGDResource).Namespace(ns).Get(ctx, "agg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	managedByRadix := false
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			managedByRadix = true
		}
	}
	if !managedByRadix {
		t.Fatalf("not server-side applied by %q: %+v", FieldManager, obj.GetManagedFields())
	}

	// A changed request previews as a diff against the live object.
	req2 := DeployRequest{Profile: "sglang-aggregated-default", Name: "agg", Overrides: map[string]string{"page-size": "64"}}
	pv, err = c.Preview(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	if !pv.Exists || !diffHas(pv.Diff, "+", "--page-size 64") || !diffHas(pv.Diff, "-", "--page-size 32") {
		t.Fatalf("diff against the live object:\n%s", pv.Diff)
	}
	pv, err = c.Preview(ctx, DeployRequest{Profile: "sglang-aggregated-default", Name: "agg", Overrides: map[string]string{"page-size": "32"}})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Diff != "" {
		t.Fatalf("re-applying the same request shows a diff:\n%s", pv.Diff)
	}

	// Describe: pods, conditions, events, manifest without managedFields.
	_, err = cs.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "agg-sglangworker-abc.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "agg-sglangworker-abc", Namespace: ns},
		Reason:         "FailedScheduling", Message: "0/3 nodes are available", Type: "Warning", Count: 2,
		LastTimestamp: metav1.Now(),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The operator's objects for the worker: its DCD and Deployment (no controller fills them here).
	dcd := &unstructured.Unstructured{Object: map[string]any{"apiVersion": config.APIVersion, "kind": config.KindDCD,
		"metadata": map[string]any{"name": "agg-sglangworker", "namespace": ns}, "spec": map[string]any{}}}
	dcd, err = dyn.Resource(DCDResource).Namespace(ns).Create(ctx, dcd, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dcd.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "False", "reason": "DeploymentNotReady", "message": "0/1 ready"}}}
	if _, err := dyn.Resource(DCDResource).Namespace(ns).UpdateStatus(ctx, dcd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	sel := map[string]string{config.LabelSelector: "agg-sglangworker"}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "agg-sglangworker"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "x"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	det, err := c.Describe(ctx, ns, "agg")
	if err != nil {
		t.Fatal(err)
	}
	if len(det.Components) != 2 || det.Components[0].Exists || det.Components[0].Desired != -1 ||
		!det.Components[1].Exists || det.Components[1].Name != "agg-sglangworker" || det.Components[1].Desired != 1 ||
		det.Components[1].Ready != 0 || len(det.Components[1].Conditions) != 1 || det.Components[1].Conditions[0].Reason != "DeploymentNotReady" {
		t.Fatalf("components: %+v", det.Components)
	}
	if len(det.Pods) != 1 || det.Pods[0].Reason != "CrashLoopBackOff" || det.Pods[0].Restarts != 3 || det.Pods[0].GPUs != 1 ||
		len(det.Events) != 1 || det.Events[0].Reason != "FailedScheduling" || len(det.Conditions) != 1 ||
		strings.Contains(det.Manifest, "managedFields") || det.Deployment.PageSize != 32 {
		t.Fatalf("describe: %+v", det)
	}

	// Delete with wait: the pod outlives the DGD until the test (as the garbage collector) removes it.
	dch, err := c.Delete(ctx, ns, "agg", true)
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	devs := drain(t, dch, time.Minute, func(p Progress) {
		if !removed && strings.Contains(p.Message, "pod/agg-sglangworker-abc") {
			removed = true
			zero := int64(0)
			if err := cs.CoreV1().Pods(ns).Delete(ctx, "agg-sglangworker-abc", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
				t.Error(err)
			}
		}
	})
	if last := devs[len(devs)-1]; !removed || last.Phase != "gone" || last.Err != nil {
		t.Fatalf("delete progress: %+v", devs)
	}
	if _, err := c.Delete(ctx, ns, "agg", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a missing deployment: %v", err)
	}
}

func TestDeployTimesOutExplainingTheWait(t *testing.T) {
	e := sharedEnv(t)
	const ns = "deploy-timeout"
	createNamespace(t, adminClientset(t, e), ns)
	c := adminCluster(t, e, ns)
	ch, err := c.Deploy(context.Background(), DeployRequest{Profile: "sglang-router", Name: "slow", Wait: true, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	evs := drain(t, ch, time.Minute, nil)
	last := evs[len(evs)-1]
	if last.Phase != "timeout" || last.Err == nil || !strings.Contains(last.Message, "operator is not running") {
		t.Fatalf("timeout event: %+v", last)
	}
}

// diffHas reports whether a unified diff has a line starting with sign that contains s.
func diffHas(diff, sign, s string) bool {
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, sign) && !strings.HasPrefix(l, sign+sign+sign) && strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func TestDeleteReportsWhatIsLeft(t *testing.T) {
	e := sharedEnv(t)
	const ns = "delete-left"
	cs := adminClientset(t, e)
	createNamespace(t, cs, ns)
	c := adminCluster(t, e, ns)
	ctx := context.Background()
	if _, err := c.Dynamic().Resource(DGDResource).Namespace(ns).Create(ctx, testDGD(ns, "stuck"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No garbage collector runs here, so this pod stays: the wait must end by the context and say so.
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, testPod(ns, "stuck", "SGLangWorker", "worker", "stuck-w-0", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ch, err := c.Delete(wctx, ns, "stuck", true)
	if err != nil {
		t.Fatal(err)
	}
	var last Progress
	for p := range ch {
		last = p
	}
	if !last.Done || last.Err == nil || !errors.Is(last.Err, context.DeadlineExceeded) || !strings.Contains(last.Err.Error(), "pod/stuck-w-0") ||
		strings.Contains(last.Err.Error(), "dynamographdeployment/") {
		t.Fatalf("final delete event: %+v", last)
	}
}

// An exec credential plugin (as EKS's `aws eks get-token`) supplies the token: here a script that
// prints the admin's ExecCredential, run by client-go exactly as kubectl runs the real one.
func TestConnectWithExecCredentialPlugin(t *testing.T) {
	e := sharedEnv(t)
	dir := t.TempDir()
	plugin := filepath.Join(dir, "get-token")
	script := "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" + e.AdminToken + "\"}}'\n"
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: eks
clusters:
- name: eks
  cluster: {server: %q, certificate-authority-data: %q}
users:
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %q
      interactiveMode: Never
contexts:
- name: eks
  context: {cluster: eks, user: eks-user, namespace: exec-ns}
`, e.Server, base64.StdEncoding.EncodeToString(e.CAData), plugin)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kc) // found the way kubectl finds it
	c, err := Connect(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := c.Info(); info.Context != "eks" || info.Namespace != "exec-ns" || info.Server != e.Server {
		t.Fatalf("info: %+v", info)
	}
	if !c.Allowed(context.Background(), ActionDelete, "exec-ns") {
		t.Fatal("the plugin's admin token was not used")
	}
}
