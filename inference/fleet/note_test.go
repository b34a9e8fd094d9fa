package fleet

import (
	"context"
	"strings"
	"testing"

	"github.com/radixops/radix/kube"
)

// The console says when the demo model stands in for the blueprint's: the note travels on the
// deployment in every snapshot and in Describe; with a model the user gave, there is none.
func TestDemoModelNoteReachesTheConsole(t *testing.T) {
	f := open(t, "ok")
	if p := last(deploy(t, f, "sglang-aggregated-default", "agg")); p.Phase != "ready" {
		t.Fatalf("deploy: %+v", p)
	}
	s := waitSnapshot(t, f, func(s kube.Snapshot) bool { return len(s.Deployments) == 1 })
	d := s.Deployments[0]
	if d.Model != "radix-demo" || !strings.Contains(d.Note, "demo model") || !strings.Contains(d.Note, "--set model=PATH") {
		t.Fatalf("snapshot model %q note %q", d.Model, d.Note)
	}
	det, err := f.Describe(context.Background(), "", "agg")
	if err != nil || det.Deployment.Note != d.Note {
		t.Fatalf("describe note %q (%v), want %q", det.Deployment.Note, err, d.Note)
	}
	if p := last(deploy2(t, f, "own", map[string]string{"model": t.TempDir()})); p.Phase != "ready" {
		t.Fatalf("deploy with a model: %+v", p)
	}
	det, err = f.Describe(context.Background(), "", "own")
	if err != nil || det.Deployment.Note != "" {
		t.Fatalf("a model the user gave needs no note, got %q (%v)", det.Deployment.Note, err)
	}
}

func deploy2(t *testing.T, f *Fleet, name string, overrides map[string]string) []kube.Progress {
	t.Helper()
	ch, err := f.Deploy(context.Background(), kube.DeployRequest{Profile: "sglang-aggregated-default", Name: name, Overrides: overrides, Timeout: 20e9})
	if err != nil {
		t.Fatal(err)
	}
	var ps []kube.Progress
	for p := range ch {
		ps = append(ps, p)
	}
	return ps
}
