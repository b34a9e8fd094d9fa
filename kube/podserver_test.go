package kube

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// podServer stands in for the kubelet side of the API server: the pod log endpoint
// (/api/v1/namespaces/NS/pods/POD/log, text lines with RFC3339Nano timestamps as kubelets write them
// with timestamps=true, honouring follow, sinceTime, sinceSeconds and tailLines) and the pod proxy
// (/api/v1/namespaces/NS/pods/[SCHEME:]POD:PORT/proxy/PATH). No kubelet can run next to the test API
// server, so these paths are served here, speaking the same wire format client-go reads.
type podServer struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	logs    map[string][]string            // pod → "TIMESTAMP text" lines
	more    map[string]chan string         // pod → lines appended while following
	dropAt  map[string]int                 // pod → close the first follow connection after this many lines
	conns   map[string]int                 // pod → follow connections served
	proxy   map[string]string              // "POD:PORT/PATH" → body (404 when absent)
	status  map[string]int                 // "POD:PORT/PATH" → status code override
	queries map[string][]map[string]string // pod → query of every log request
}

func newPodServer(t *testing.T) *podServer {
	ps := &podServer{t: t, logs: map[string][]string{}, more: map[string]chan string{}, dropAt: map[string]int{},
		conns: map[string]int{}, proxy: map[string]string{}, status: map[string]int{}, queries: map[string][]map[string]string{}}
	ps.srv = httptest.NewServer(http.HandlerFunc(ps.serve))
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *podServer) config() *rest.Config { return &rest.Config{Host: ps.srv.URL} }

func (ps *podServer) setLog(pod string, lines ...string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.logs[pod] = append([]string(nil), lines...)
	if ps.more[pod] == nil {
		ps.more[pod] = make(chan string, 100)
	}
}

// appendLive adds a line to a pod's log and hands it to a connection that is following.
func (ps *podServer) appendLive(pod, line string) {
	ps.mu.Lock()
	ps.logs[pod] = append(ps.logs[pod], line)
	ch := ps.more[pod]
	ps.mu.Unlock()
	ch <- line
}

func (ps *podServer) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/")
	// NS pods POD log | NS pods SCHEME:POD:PORT proxy PATH...
	if len(parts) < 4 || parts[1] != "pods" {
		http.NotFound(w, r)
		return
	}
	switch parts[3] {
	case "log":
		ps.serveLog(w, r, parts[2])
	case "proxy":
		target := parts[2]
		if segs := strings.Split(target, ":"); len(segs) == 3 {
			target = segs[1] + ":" + segs[2] // drop the scheme
		}
		key := target + "/" + strings.Join(parts[4:], "/")
		ps.mu.Lock()
		body, ok := ps.proxy[key]
		code := ps.status[key]
		ps.mu.Unlock()
		if code != 0 {
			http.Error(w, "proxy error", code)
			return
		}
		if !ok {
			statusError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "no endpoints available for the pod")
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, body)
	default:
		http.NotFound(w, r)
	}
}

// statusError answers as the API server does: a metav1.Status as JSON.
func statusError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code})
	w.Write(b)
}

func lineTime(l string) time.Time {
	ts, _, _ := strings.Cut(l, " ")
	t, _ := time.Parse(time.RFC3339Nano, ts)
	return t
}

func (ps *podServer) serveLog(w http.ResponseWriter, r *http.Request, pod string) {
	q := r.URL.Query()
	qm := map[string]string{}
	for k := range q {
		qm[k] = q.Get(k)
	}
	ps.mu.Lock()
	ps.queries[pod] = append(ps.queries[pod], qm)
	lines, ok := ps.logs[pod]
	lines = append([]string(nil), lines...)
	more := ps.more[pod]
	follow := q.Get("follow") == "true"
	conn := 0
	if follow {
		ps.conns[pod]++
		conn = ps.conns[pod]
	}
	drop := ps.dropAt[pod]
	ps.mu.Unlock()
	if !ok {
		statusError(w, http.StatusBadRequest, "BadRequest", `container "main" in pod "`+pod+`" is waiting to start: ContainerCreating`)
		return
	}
	if q.Get("container") != "main" {
		http.Error(w, "wrong container "+q.Get("container"), http.StatusBadRequest)
		return
	}
	// Filters as the kubelet applies them: since (second resolution), then tail.
	var since time.Time
	if s := q.Get("sinceTime"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	if s := q.Get("sinceSeconds"); s != "" {
		n, _ := strconv.Atoi(s)
		since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	var sel []string
	for _, l := range lines {
		if since.IsZero() || !lineTime(l).Before(since) {
			sel = append(sel, l)
		}
	}
	if s := q.Get("tailLines"); s != "" {
		n, _ := strconv.Atoi(s)
		if n < len(sel) {
			sel = sel[len(sel)-n:]
		}
	}
	write := func(l string) {
		if q.Get("timestamps") != "true" {
			_, l, _ = strings.Cut(l, " ")
		}
		fmt.Fprintln(w, l)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	for i, l := range sel {
		if follow && conn == 1 && drop > 0 && i == drop {
			return // the connection drops mid-stream
		}
		write(l)
	}
	if !follow {
		return
	}
	for {
		select {
		case l := <-more:
			write(l)
		case <-r.Context().Done():
			return
		}
	}
}
