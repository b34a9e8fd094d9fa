package kube

import (
	"context"
	"errors"
	"fmt"
	"io"

	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/radixops/radix/config"
)

// Endpoint port-forwards a local loopback port to the deployment's frontend (the pod behind the
// `<dgd>-frontend` Service, port http 8000) and returns its URL. The forward is re-established on the
// same local port when it drops (pod restarted, connection lost), so the URL stays valid until release
// is called or ctx ends.
func (c *KubeCluster) Endpoint(ctx context.Context, namespace, name string) (string, func(), error) {
	namespace = c.ns(namespace)
	pod, port, err := c.frontendTarget(ctx, namespace, name)
	if err != nil {
		return "", nil, err
	}
	fctx, cancel := context.WithCancel(ctx)
	pf := &forwarder{c: c, namespace: namespace, dgd: name}
	local, err := pf.start(fctx, pod, port, 0)
	if err != nil {
		cancel()
		return "", nil, err
	}
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		pf.keep(fctx, local)
	}()
	release := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	return "http://127.0.0.1:" + strconv.Itoa(local), release, nil
}

// frontendTarget finds a running frontend pod and the container port to forward to.
func (c *KubeCluster) frontendTarget(ctx context.Context, namespace, name string) (string, int, error) {
	svcName := config.FrontendServiceName(name)
	port := config.FrontendPort
	namedPort := ""
	selector := labels.Set{config.LabelDGDName: name, config.LabelComponentType: config.ComponentFrontend}.String()
	svc, err := c.cs.CoreV1().Services(namespace).Get(ctx, svcName, metav1.GetOptions{})
	switch {
	case err == nil:
		if len(svc.Spec.Selector) > 0 {
			selector = labels.Set(svc.Spec.Selector).String()
		}
		for _, sp := range svc.Spec.Ports {
			if sp.Name == "http" || len(svc.Spec.Ports) == 1 {
				if sp.TargetPort.IntValue() > 0 {
					port = sp.TargetPort.IntValue()
				} else if sp.TargetPort.StrVal != "" {
					namedPort = sp.TargetPort.StrVal // resolved against the chosen pod's container ports
				}
			}
		}
	case apierrors.IsNotFound(err):
		// deploy.sh creates the Service after the pods are ready; fall back to the frontend pods.
	default:
		return "", 0, fmt.Errorf("reading service %s/%s: %w", namespace, svcName, err)
	}
	pods, err := c.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "", 0, fmt.Errorf("listing frontend pods of %s/%s: %w", namespace, name, err)
	}
	resolve := func(p *corev1.Pod) int {
		for _, ct := range p.Spec.Containers {
			for _, cp := range ct.Ports {
				if namedPort != "" && cp.Name == namedPort {
					return int(cp.ContainerPort)
				}
			}
		}
		return port
	}
	for _, readyOnly := range []bool{true, false} {
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && (!readyOnly || podReady(p)) {
				return p.Name, resolve(p), nil
			}
		}
	}
	return "", 0, fmt.Errorf("no running frontend pod of %s/%s to port-forward to (selector %s)", namespace, name, selector)
}

type forwarder struct {
	c         *KubeCluster
	namespace string
	dgd       string

	mu      sync.Mutex
	stopCh  chan struct{}
	errCh   chan error
	current string // pod forwarded to now
}

// start forwards localPort (0 = any free port) to pod:port and returns the local port in use.
func (f *forwarder) start(ctx context.Context, pod string, port, localPort int) (int, error) {
	cfg := f.c.podsConfig
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, fmt.Errorf("port-forward transport: %w", err)
	}
	url := f.c.pods.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"},
		[]string{fmt.Sprintf("%d:%d", localPort, port)}, stopCh, readyCh, io.Discard, io.Discard)
	if err != nil {
		return 0, fmt.Errorf("port-forward to %s/%s: %w", f.namespace, pod, err)
	}
	errCh := make(chan error, 1)
	go func() { errCh <- pf.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-errCh:
		if err == nil {
			err = errors.New("forward ended before it was ready")
		}
		return 0, fmt.Errorf("port-forward to %s/%s:%d: %w", f.namespace, pod, port, err)
	case <-ctx.Done():
		close(stopCh)
		return 0, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stopCh)
		return 0, fmt.Errorf("port-forward to %s/%s: no local port: %v", f.namespace, pod, err)
	}
	f.mu.Lock()
	f.stopCh, f.errCh, f.current = stopCh, errCh, pod
	f.mu.Unlock()
	return int(ports[0].Local), nil
}

// keep waits for the forward to end and restarts it on the same local port, finding the frontend
// pod again (it may have been replaced), until ctx ends.
func (f *forwarder) keep(ctx context.Context, local int) {
	backoff := 500 * time.Millisecond
	for {
		f.mu.Lock()
		stopCh, errCh := f.stopCh, f.errCh
		f.mu.Unlock()
		// ForwardPorts returns when the connection to the pod is lost (pod gone, stream reset).
		select {
		case <-ctx.Done():
			close(stopCh)
			<-errCh
			return
		case <-errCh:
		}
		for ctx.Err() == nil {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			if backoff < 10*time.Second {
				backoff *= 2
			}
			pod, port, err := f.c.frontendTarget(ctx, f.namespace, f.dgd)
			if err != nil {
				continue
			}
			if _, err := f.start(ctx, pod, port, local); err == nil {
				backoff = 500 * time.Millisecond
				break
			}
		}
	}
}
