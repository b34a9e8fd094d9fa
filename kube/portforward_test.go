package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
)

// pfServer speaks the kubelet's side of pods/portforward over SPDY (protocol portforward.k8s.io: per
// forwarded connection an "error" and a "data" stream with the port and requestID headers) and pipes
// every data stream to target. Port-forwarding needs a kubelet, which cannot run here.
type pfServer struct {
	t      *testing.T
	srv    *httptest.Server
	target string // host:port the "pod" listens on

	mu    sync.Mutex
	conns []httpstream.Connection
	pods  []string // pod of each upgrade, in order
	ports []string // port header of each data stream
}

func newPFServer(t *testing.T, target string) *pfServer {
	s := &pfServer{t: t, target: target}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { s.dropAll(); s.srv.Close() })
	return s
}

func (s *pfServer) serve(w http.ResponseWriter, r *http.Request) {
	// /api/v1/namespaces/NS/pods/POD/portforward
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/")
	if len(parts) != 4 || parts[3] != "portforward" {
		http.NotFound(w, r)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 4)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
		streams <- st
		return nil
	})
	if conn == nil {
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, conn)
	s.pods = append(s.pods, parts[2])
	s.mu.Unlock()
	errStreams := map[string]httpstream.Stream{}
	for {
		select {
		case st := <-streams:
			id := st.Headers().Get("requestID")
			switch st.Headers().Get("streamType") {
			case "error":
				errStreams[id] = st
			case "data":
				s.mu.Lock()
				s.ports = append(s.ports, st.Headers().Get("port"))
				s.mu.Unlock()
				es := errStreams[id]
				go func() {
					defer st.Close()
					if es != nil {
						defer es.Close()
					}
					c, err := net.Dial("tcp", s.target)
					if err != nil {
						if es != nil {
							fmt.Fprintf(es, "dial %s: %v", s.target, err)
						}
						return
					}
					defer c.Close()
					done := make(chan struct{}, 2)
					go func() { io.Copy(c, st); done <- struct{}{} }()
					go func() { io.Copy(st, c); done <- struct{}{} }()
					<-done
				}()
			}
		case <-conn.CloseChan():
			return
		}
	}
}

// dropAll closes every forwarded connection, as a kubelet restart or a network break would.
func (s *pfServer) dropAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (s *pfServer) upgrades() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pods)
}

func TestEndpointPortForwardsAndReconnects(t *testing.T) {
	e := sharedEnv(t)
	const ns = "pf"
	createNamespace(t, adminClientset(t, e), ns)
	c := adminCluster(t, e, ns)
	ctx := context.Background()
	frontend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"Qwen/Qwen3-0.6B"}]}`)
	}))
	defer frontend.Close()
	pfs := newPFServer(t, strings.TrimPrefix(frontend.URL, "http://"))
	if err := c.SetPodClient(&rest.Config{Host: pfs.srv.URL}); err != nil {
		t.Fatal(err)
	}
	// No frontend pod yet: a clear error.
	if _, _, err := c.Endpoint(ctx, ns, "chat"); err == nil || !strings.Contains(err.Error(), "no running frontend pod") {
		t.Fatalf("endpoint without pods: %v", err)
	}
	// The Service names its target port; the pod says which number that is.
	fp := testPod(ns, "chat", "Frontend", "frontend", "chat-frontend-0", 0)
	fp.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8123}}
	if _, err := c.Clientset().CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "chat-frontend"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"nvidia.com/dynamo-graph-deployment-name": "chat", "nvidia.com/dynamo-component": "Frontend"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Clientset().CoreV1().Pods(ns).Create(ctx, fp, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := c.Clientset().CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	url, release, err := c.Endpoint(ctx, ns, "chat")
	if err != nil {
		t.Fatal(err)
	}
	get := func() (string, error) {
		cl := &http.Client{Timeout: 5 * time.Second}
		resp, err := cl.Get(url + "/v1/models")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	body, err := get()
	if err != nil || !strings.Contains(body, "Qwen/Qwen3-0.6B") {
		t.Fatalf("through the forward: %q %v", body, err)
	}
	pfs.mu.Lock()
	first, port := pfs.pods[0], pfs.ports[0]
	pfs.mu.Unlock()
	if first != "chat-frontend-0" || port != "8123" {
		t.Fatalf("forwarded to %s port %s", first, port)
	}

	// The connection drops: the same URL works again once the forward is re-established.
	pfs.dropAll()
	within(t, time.Minute, "the forward to come back", func() bool {
		b, err := get()
		return err == nil && strings.Contains(b, "Qwen") && pfs.upgrades() >= 2
	})

	release()
	release() // idempotent
	if _, err := get(); err == nil {
		t.Fatal("the URL still answers after release")
	}
}
