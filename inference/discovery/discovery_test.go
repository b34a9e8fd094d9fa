package discovery

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radixops/radix/inference/telemetry"
)

func worker(id, model string) Registration {
	return Registration{ID: id, Namespace: "dgd-a", Model: model, Role: RoleWorker, Endpoint: "http://127.0.0.1:9000", KVTokens: 4096, PageSize: 16}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLeasesAddAndRemoveWorkers(t *testing.T) {
	var logs bytes.Buffer
	clk := &clock{t: time.Unix(0, 0)}
	r := NewRegistry(RegistryOptions{Namespace: "dgd-a", TTL: 10 * time.Second, Now: clk.now, Log: telemetry.NewLogger(&logs, "dynamo_llm::discovery")})
	var changes []string
	r.Subscribe(func(c Change) {
		changes = append(changes, map[ChangeKind]string{Added: "+", Removed: "-"}[c.Kind]+c.Worker.ID+" "+c.Reason)
	})
	for _, id := range []string{"w1", "w2"} {
		if _, err := r.Register(worker(id, "demo")); err != nil {
			t.Fatal(err)
		}
	}
	clk.add(6 * time.Second)
	if err := r.Heartbeat("w1"); err != nil {
		t.Fatal(err)
	}
	clk.add(6 * time.Second) // w2 lapsed at 10 s, w1 renewed until 16 s
	r.Sweep()
	if ws := r.Workers(); len(ws) != 1 || ws[0].ID != "w1" {
		t.Fatalf("workers after sweep: %+v", ws)
	}
	clk.add(5 * time.Second)
	r.Sweep()
	if err := r.Heartbeat("w1"); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("heartbeat after lapse: %v", err)
	}
	want := "[+w1  +w2  -w2 lease expired -w1 lease expired]"
	if got := strings.Join(changes, " "); "["+got+"]" != want {
		t.Fatalf("changes %q, want %s", got, want)
	}
	out := logs.String()
	for _, want := range []string{"clear_namespace", `added model model_name="demo"`, `removed model model_name="demo"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "added model"); n != 1 {
		t.Errorf("added model logged %d times for one model", n)
	}
	// The console's parser must recognise the registration lines the registry writes.
	found := false
	for _, l := range strings.Split(out, "\n") {
		if rec, ok := telemetry.ParseLine(l); ok && rec.Kind == telemetry.KindModelAdded {
			found = true
		}
	}
	if !found {
		t.Error("telemetry.ParseLine did not recognise the added model line")
	}
}

func TestRegistrationRules(t *testing.T) {
	r := NewRegistry(RegistryOptions{Namespace: "dgd-a"})
	other := worker("w", "demo")
	other.Namespace = "dgd-b"
	if _, err := r.Register(other); !errors.Is(err, ErrWrongNamespace) {
		t.Fatalf("other namespace: %v", err)
	}
	bad := []func(*Registration){
		func(r *Registration) { r.ID = "" },
		func(r *Registration) { r.Model = "" },
		func(r *Registration) { r.Role = "router" },
		func(r *Registration) { r.KVTokens = 0 },
		func(r *Registration) { r.PageSize = 24 },
		func(r *Registration) { r.Endpoint = "unix:///x" },
		func(r *Registration) { r.Role = RolePrefill }, // no transfer address
	}
	for i, mut := range bad {
		reg := worker("w", "demo")
		mut(&reg)
		if _, err := r.Register(reg); err == nil {
			t.Errorf("case %d accepted: %+v", i, reg)
		}
	}
	// Re-registering the same id with a new endpoint replaces it.
	var kinds []ChangeKind
	r.Subscribe(func(c Change) { kinds = append(kinds, c.Kind) })
	a := worker("w", "demo")
	r.Register(a)
	a.Endpoint = "http://127.0.0.1:9001"
	r.Register(a)
	r.Register(a) // identical: a renewal, no change
	if len(kinds) != 3 || kinds[1] != Removed || r.Workers()[0].Endpoint != a.Endpoint {
		t.Fatalf("replace: changes %v workers %+v", kinds, r.Workers())
	}
}

// A worker keeps its lease over HTTP, comes back by itself after the frontend restarts, and
// deregisters when it stops.
func TestKeepSurvivesFrontendRestart(t *testing.T) {
	var current atomic.Pointer[Registry]
	current.Store(NewRegistry(RegistryOptions{Namespace: "dgd-a", TTL: 300 * time.Millisecond}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var registrations atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Keep(ctx, srv.URL, worker("w1", "demo"), KeepOptions{OnRegistered: func() { registrations.Add(1) }})
	}()
	waitFor(t, func() bool { return len(current.Load().Workers()) == 1 })
	// Outlive several leases: heartbeats must keep it.
	time.Sleep(time.Second)
	current.Load().Sweep()
	if len(current.Load().Workers()) != 1 {
		t.Fatal("worker lost its lease while heartbeating")
	}
	// Restart: a new, empty registry.
	current.Store(NewRegistry(RegistryOptions{Namespace: "dgd-a", TTL: 300 * time.Millisecond}))
	waitFor(t, func() bool { return len(current.Load().Workers()) == 1 })
	if registrations.Load() < 2 {
		t.Fatalf("registered %d times", registrations.Load())
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Keep returned %v", err)
	}
	if ws := current.Load().Workers(); len(ws) != 0 {
		t.Fatalf("still registered after stopping: %+v", ws)
	}
}

func TestKeepGivesUpOnARefusal(t *testing.T) {
	reg := NewRegistry(RegistryOptions{Namespace: "dgd-a"})
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	w := worker("w1", "demo")
	w.Namespace = "dgd-other"
	err := Keep(context.Background(), srv.URL, w, KeepOptions{})
	if err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("Keep with a wrong namespace: %v", err)
	}
}

func TestHandlerRejectsBadBodies(t *testing.T) {
	srv := httptest.NewServer(NewRegistry(RegistryOptions{}).Handler())
	defer srv.Close()
	for _, body := range []string{`{`, `{"id":"x","bogus":1}`, `{"id":"x"}`, strings.Repeat(" ", maxBody+10) + "{}"} {
		resp, err := http.Post(srv.URL+PathRegister, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%.30q: status %d", body, resp.StatusCode)
		}
	}
	resp, _ := http.Post(srv.URL+PathHeartbeat, "application/json", strings.NewReader(`{"id":"nobody"}`))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown heartbeat: %d", resp.StatusCode)
	}
}

func FuzzDecodeRegistration(f *testing.F) {
	f.Add([]byte(`{"id":"w1","namespace":"a","model":"m","role":"worker","endpoint":"http://h:1","kv_tokens":16,"page_size":16}`))
	f.Add([]byte(`{"id":"w1","role":"prefill","transfer":"h:2"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		reg, err := DecodeRegistration(bytes.NewReader(b))
		if err == nil {
			if verr := reg.Validate(); verr != nil {
				t.Fatalf("decoded an invalid registration: %v", verr)
			}
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
