package kube

import (
	"context"
	"flag"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/kube/testenv"
)

// One real API server for the package's tests: starting one takes seconds, so they share it and each
// test works in namespaces of its own.
var (
	envOnce sync.Once
	env     *testenv.Env
	envErr  error
	envDir  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if env != nil {
		env.Stop()
	}
	if envDir != "" {
		os.RemoveAll(envDir)
	}
	os.Exit(code)
}

// sharedEnv returns the package's API server, starting it on first use (see testenv.Require for
// when the test skips or fails without the binaries).
func sharedEnv(t *testing.T) *testenv.Env {
	t.Helper()
	apiserver, etcd := testenv.Require(t)
	envOnce.Do(func() {
		envDir, envErr = os.MkdirTemp("", "radix-kube-test-")
		if envErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		env, envErr = testenv.Start(ctx, apiserver, etcd, envDir)
	})
	if envErr != nil {
		t.Fatalf("starting the test API server: %v", envErr)
	}
	return env
}

// adminCluster connects as the admin through the kubeconfig the environment wrote, as a user would.
func adminCluster(t *testing.T, e *testenv.Env, namespace string) *KubeCluster {
	t.Helper()
	c, err := Connect(context.Background(), Options{Kubeconfig: e.Kubeconfig, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func adminClientset(t *testing.T, e *testenv.Env) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// testDGD is a small DGD as the blueprints write it: a frontend and one GPU worker.
func testDGD(namespace, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": config.APIVersion,
		"kind":       config.KindDGD,
		"metadata": map[string]any{"name": name, "namespace": namespace,
			"annotations": map[string]any{config.AnnotationProfile: "sglang-aggregated-default"}},
		"spec": map[string]any{
			"backendFramework": "sglang",
			"services": map[string]any{
				"Frontend": map[string]any{"componentType": "frontend", "dynamoNamespace": name, "replicas": int64(1),
					"extraPodSpec": map[string]any{"mainContainer": map[string]any{
						"command": []any{"/bin/sh", "-c"}, "args": []any{"python3 -m dynamo.frontend --http-port=8000"}}}},
				"SGLangWorker": map[string]any{"componentType": "worker", "dynamoNamespace": name, "replicas": int64(2),
					"envFromSecret": "hf-token-secret",
					"resources":     map[string]any{"limits": map[string]any{"gpu": "1"}, "requests": map[string]any{"gpu": "1"}},
					"extraPodSpec": map[string]any{"mainContainer": map[string]any{
						"command": []any{"/bin/sh", "-c"},
						"args":    []any{"python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --page-size 16 --tp 1"}}}},
			},
		},
	}}
}

// testPod is a pod of a DGD as the operator would create it.
func testPod(namespace, dgd, component, ctype, name string, gpus int64) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			config.LabelDGDName: dgd, config.LabelComponent: component, config.LabelComponentType: ctype,
			config.LabelSelector: config.DCDName(dgd, component)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: config.MainContainerName, Image: "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.5.0"}}},
	}
	if gpus > 0 {
		q := *resourceQuantity(gpus)
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{config.GPUResourceName: q}
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{config.GPUResourceName: q}
	}
	return p
}

// within waits for cond on a channel-driven check, failing after limit. Used only to bound waits on
// asynchronous events; no test asserts on how long something took.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
