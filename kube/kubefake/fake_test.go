package kubefake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radixops/radix/kube"
)

func demo(t *testing.T) *Cluster {
	t.Helper()
	c := NewDemo(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	c.StepDelay = time.Millisecond
	return c
}

func TestWatchEmitsOnChange(t *testing.T) {
	c := demo(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := c.Watch(ctx, "dynamo-cloud")
	if err != nil {
		t.Fatal(err)
	}
	s := <-ch
	if len(s.Deployments) != 3 {
		t.Fatalf("first snapshot has %d deployments in dynamo-cloud, want 3", len(s.Deployments))
	}
	if err := c.SetState("dynamo-cloud", "sglang-agg", kube.StateFailed, "r", "broken"); err != nil {
		t.Fatal(err)
	}
	s = <-ch
	for _, d := range s.Deployments {
		if d.Name == "sglang-agg" && (d.State != kube.StateFailed || d.Message != "broken") {
			t.Fatalf("after SetState: %+v", d)
		}
	}
	c.Remove("dynamo-cloud", "sglang-agg")
	if s = <-ch; len(s.Deployments) != 2 {
		t.Fatalf("after Remove: %d deployments", len(s.Deployments))
	}
	cancel()
	for range ch { // closed by the fake once ctx ends
	}
}

func TestSlowWatcherGetsNewest(t *testing.T) {
	c := demo(t)
	ch, _ := c.Watch(t.Context(), "")
	for i := 0; i < 10; i++ {
		c.Upsert(kube.Deployment{Name: fmt.Sprintf("d%d", i), Namespace: "x"}, nil)
	}
	s := <-ch
	if len(s.Deployments) != 14 {
		t.Fatalf("newest snapshot has %d deployments, want 14", len(s.Deployments))
	}
}

func TestDeployProgressAndFailure(t *testing.T) {
	c := demo(t)
	req := kube.DeployRequest{Profile: "sglang-router", Name: "r2", Namespace: "dynamo-cloud"}
	pv, err := c.Preview(t.Context(), req)
	if err != nil || pv.Exists || !strings.Contains(pv.Manifest, "SGLangWorker") {
		t.Fatalf("preview: %v %+v", err, pv)
	}
	ch, err := c.Deploy(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for p := range ch {
		phases = append(phases, p.Phase)
	}
	if got := strings.Join(phases, ","); got != "checks,apply,waiting,ready" {
		t.Fatalf("phases %s", got)
	}
	d, err := c.Describe(t.Context(), "dynamo-cloud", "r2")
	if err != nil || d.Deployment.State != kube.StateSuccessful || len(d.Pods) != 3 {
		t.Fatalf("after deploy: %v %+v", err, d)
	}
	pv, _ = c.Preview(t.Context(), kube.DeployRequest{Profile: "sglang-router", Name: "r2", Namespace: "dynamo-cloud", Overrides: map[string]string{"model": "m"}})
	if !pv.Exists {
		t.Fatal("preview of an existing deployment says it is new")
	}
	c.FailDeploys = "OOMKilled"
	ch, _ = c.Deploy(t.Context(), kube.DeployRequest{Profile: "sglang-router", Name: "r3", Namespace: "x"})
	var last kube.Progress
	for p := range ch {
		last = p
	}
	if !last.Done || last.Err == nil || last.State != kube.StateFailed {
		t.Fatalf("failed deploy ended with %+v", last)
	}
	if _, err := c.Deploy(t.Context(), kube.DeployRequest{Profile: "nope", Name: "a", Namespace: "b"}); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

func TestDelete(t *testing.T) {
	c := demo(t)
	ch, err := c.Delete(t.Context(), "dynamo-cloud", "sglang-agg", true)
	if err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
	if _, err := c.Describe(t.Context(), "dynamo-cloud", "sglang-agg"); !errors.Is(err, kube.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := c.Delete(t.Context(), "dynamo-cloud", "sglang-agg", false); !errors.Is(err, kube.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestLogsHistoryThenFollowInOrder(t *testing.T) {
	c := demo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Logs(ctx, kube.LogRequest{Namespace: "dynamo-cloud", Deployment: "sglang-agg", Follow: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			c.AppendLog("dynamo-cloud", "sglang-agg", "p", fmt.Sprint("line ", i))
		}
	}()
	got := 0
	hist := 0
	for l := range ch {
		if !strings.HasPrefix(l.Text, "line ") {
			if got > 0 {
				t.Fatalf("history line after followed lines: %q", l.Text)
			}
			hist++
			continue
		}
		if l.Text != fmt.Sprint("line ", got) {
			t.Fatalf("line %d is %q", got, l.Text)
		}
		got++
		if got == 2000 {
			cancel()
		}
	}
	wg.Wait()
	if hist != 3 {
		t.Fatalf("history lines %d, want 3", hist)
	}
}

func TestLogsCancelledNeverBlocksWriter(t *testing.T) {
	c := demo(t)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := c.Logs(ctx, kube.LogRequest{Namespace: "dynamo-cloud", Deployment: "sglang-agg", Follow: true}); err != nil {
		t.Fatal(err)
	}
	cancel()
	for i := 0; i < 5000; i++ { // more than the stream's buffer: would block if the follower were not released
		c.AppendLog("dynamo-cloud", "sglang-agg", "p", "x")
	}
}

func TestAllowed(t *testing.T) {
	c := demo(t)
	if !c.Allowed(t.Context(), kube.ActionDelete, "x") {
		t.Fatal("delete refused")
	}
	c.SetReadOnly(true)
	if c.Allowed(t.Context(), kube.ActionDelete, "x") || !c.Allowed(t.Context(), kube.ActionLogs, "x") {
		t.Fatal("read-only not honoured")
	}
	c.Deny(kube.ActionLogs)
	if c.Allowed(t.Context(), kube.ActionLogs, "x") {
		t.Fatal("deny not honoured")
	}
}

func TestSimulateIsRaceFree(t *testing.T) {
	c := demo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ch, _ := c.Logs(ctx, kube.LogRequest{Namespace: "dynamo-cloud", Deployment: "sglang-router", Follow: true})
	go c.Simulate(ctx, 1000)
	w, _ := c.Watch(ctx, "")
	go func() {
		for range w {
		}
	}()
	for range ch {
	}
}
