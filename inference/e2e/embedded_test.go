package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cli runs the radix binary as a user would, against the embedded environment of one test: its own
// state and config directories and no kubeconfig, so radix falls back to local processes.
type cli struct {
	t    *testing.T
	home string
}

func newCLI(t *testing.T) *cli {
	home := t.TempDir()
	c := &cli{t: t, home: home}
	t.Cleanup(func() {
		// Whatever a failed test left running goes with it.
		out, _ := c.run("ls", "-o", "json")
		var ds []struct{ Name string }
		if json.Unmarshal([]byte(out), &ds) == nil {
			for _, d := range ds {
				c.run("delete", d.Name, "--wait")
			}
		}
	})
	return c
}

func (c *cli) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "HOME="+c.home, "XDG_STATE_HOME="+filepath.Join(c.home, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(c.home, "config"), "KUBECONFIG=")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		err = &cliError{err: ee, stderr: string(ee.Stderr)}
	}
	return string(out), err
}

type cliError struct {
	err    *exec.ExitError
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("radix %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

type listed struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Model string `json:"model"`
}

func (c *cli) ls() map[string]listed {
	c.t.Helper()
	var ds []listed
	if err := json.Unmarshal([]byte(c.must("ls", "-o", "json")), &ds); err != nil {
		c.t.Fatal(err)
	}
	out := map[string]listed{}
	for _, d := range ds {
		out[d.Name] = d
	}
	return out
}

// state reads a deployment's state file, as a restarted console would.
func (c *cli) state(name string) (pids []int, ports []int) {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.home, "state", "radix", "deployments", "dynamo-cloud", name, "deployment.json"))
	if err != nil {
		c.t.Fatal(err)
	}
	var d struct {
		Processes []struct {
			Role                    string
			PID, Port, TransferPort int
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		c.t.Fatal(err)
	}
	for _, p := range d.Processes {
		if p.Role != "frontend" {
			pids = append(pids, p.PID)
		}
		ports = append(ports, p.Port)
		if p.TransferPort != 0 {
			ports = append(ports, p.TransferPort)
		}
	}
	return pids, ports
}

// The embedded environment through the same CLI verbs a user types: deploy each profile, list, chat,
// run the cache test, follow logs with the cache filter, and delete.
func TestEmbeddedEnvironmentVerbs(t *testing.T) {
	c := newCLI(t)
	names := map[string]string{
		"sglang-aggregated-default":    "agg",
		"sglang-disaggregated-default": "disagg",
		"sglang-router":                "router",
	}
	for profile, name := range names {
		out := c.must("deploy", profile, "--name", name, "--wait", "--timeout", "2m")
		if !strings.Contains(out, "ready") {
			t.Fatalf("deploy %s:\n%s", profile, out)
		}
	}
	seen := map[int]string{}
	for _, name := range names {
		_, ports := c.state(name)
		for _, p := range ports {
			if other, dup := seen[p]; dup {
				t.Fatalf("port %d used by %s and %s", p, other, name)
			}
			seen[p] = name
		}
	}
	ds := c.ls()
	for _, name := range names {
		if ds[name].State != "successful" || ds[name].Model != "radix-demo" {
			t.Fatalf("%s listed as %+v", name, ds[name])
		}
		reply := c.must("chat", name, "What is machine learning?")
		if !strings.Contains(strings.ToLower(reply), "learning") {
			t.Fatalf("%s answered %q", name, reply)
		}
		var runs []struct {
			Run          int `json:"run"`
			CachedTokens int `json:"cachedTokens"`
			PromptTokens int `json:"promptTokens"`
		}
		out := c.must("cache-test", name, "-o", "json")
		if err := json.Unmarshal([]byte(out), &runs); err != nil {
			t.Fatalf("%s cache-test: %v\n%s", name, err, out)
		}
		if len(runs) != 3 {
			t.Fatalf("%s cache-test printed %d runs:\n%s", name, len(runs), out)
		}
		for _, r := range runs[1:] {
			if r.CachedTokens == 0 || r.CachedTokens > r.PromptTokens {
				t.Fatalf("%s cache-test run %d: %d of %d prompt tokens cached", name, r.Run, r.CachedTokens, r.PromptTokens)
			}
		}
		logs := c.must("logs", name, "--filter", "cache")
		if !strings.Contains(logs, "#cached-token") {
			t.Fatalf("%s: cache-filtered logs lack prefill lines:\n%s", name, logs)
		}
		for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
			if !strings.Contains(strings.ToLower(l), "cache") && !strings.Contains(strings.ToLower(l), "hit") &&
				!strings.Contains(l, "radix") && !strings.Contains(l, "miss") {
				t.Fatalf("%s: the cache filter let through %q", name, l)
			}
		}
	}
	for _, name := range names {
		c.must("delete", name, "--wait")
	}
	if ds := c.ls(); len(ds) != 0 {
		t.Fatalf("left after delete: %+v", ds)
	}
}

// A worker killed from outside shows as failed at the next listing (each CLI call is a restarted
// console reading the state), and delete still cleans up.
func TestEmbeddedKilledWorkerShowsFailed(t *testing.T) {
	c := newCLI(t)
	c.must("deploy", "sglang-aggregated-default", "--name", "agg", "--wait", "--timeout", "2m")
	if ds := c.ls(); ds["agg"].State != "successful" {
		t.Fatalf("after deploy: %+v", ds["agg"])
	}
	pids, _ := c.state("agg")
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.ls()["agg"].State != "failed" {
		if time.Now().After(deadline) {
			t.Fatalf("killed worker still listed as %+v", c.ls()["agg"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.must("delete", "agg", "--wait")
}
