package tui

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tmuxTerm is one tmux server the test owns, its sessions running the real binary.
type tmuxTerm struct {
	t      *testing.T
	tmux   string
	sock   string
	stderr string
}

func (m *tmuxTerm) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command(m.tmux, append([]string{"-L", m.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (m *tmuxTerm) screen(session string) string { return m.run("capture-pane", "-p", "-t", session) }

// wait polls the screen until cond holds. The deadline is generous: it catches a hang, and says
// nothing about speed (the machine may be busy with everything else).
func (m *tmuxTerm) wait(session, what string, limit time.Duration, cond func(string) bool) string {
	m.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := m.screen(session)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			errs, _ := os.ReadFile(m.stderr)
			m.t.Fatalf("%s: screen never showed %s:\n%s\nstderr:\n%s", session, what, s, errs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (m *tmuxTerm) waitFor(session, text string, limit time.Duration) string {
	m.t.Helper()
	// Words may wrap onto the next line; compare with the screen's whitespace collapsed too.
	flat := strings.Join(strings.Fields(text), " ")
	return m.wait(session, strconv.Quote(text), limit, func(s string) bool {
		return strings.Contains(s, text) || strings.Contains(strings.Join(strings.Fields(s), " "), flat)
	})
}

func (m *tmuxTerm) keys(session string, k ...string) {
	for _, key := range k {
		m.run("send-keys", "-t", session, key)
		if key == "Escape" {
			time.Sleep(300 * time.Millisecond) // else ESC and the next key read as alt+key
		}
	}
}

// stateProcess is what the test reads of the embedded environment's state file: enough to find a
// worker to kill and to clean up whatever a failed run left.
type stateProcess struct {
	Role string `json:"role"`
	PID  int    `json:"pid"`
}

func stateProcesses(t *testing.T, stateDir string) []stateProcess {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(stateDir, "radix", "deployments", "*", "*", "deployment.json"))
	var out []stateProcess
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // removed between the glob and the read
		}
		var d struct {
			Processes []stateProcess `json:"processes"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		out = append(out, d.Processes...)
	}
	return out
}

// TestEmbeddedEnvironmentInTmux is the newcomer's tour on a fresh machine, through the console in a
// real terminal against the real embedded environment (local `radix serve` processes and the demo
// model): the first screen invites the first deploy, one key deploys the aggregated profile, logs and
// chat work, a second console finds the deployment, a worker killed from outside shows as failed,
// and ctrl-d deletes it.
func TestEmbeddedEnvironmentInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and serves the demo model")
	}
	tmux := needTmux(t)
	dir := t.TempDir()
	bin := buildRadix(t, dir)
	home := filepath.Join(dir, "home")
	state := filepath.Join(home, "state")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &tmuxTerm{t: t, tmux: tmux, sock: "radix-embedded-" + filepath.Base(dir), stderr: filepath.Join(dir, "stderr")}
	// A fresh machine: own home, state and config, no kubeconfig, so radix opens the embedded environment.
	cmd := "env -u KUBECONFIG HOME=" + home + " XDG_STATE_HOME=" + state + " XDG_CONFIG_HOME=" + filepath.Join(home, "config") +
		" TERM=xterm-256color " + bin
	m.run("new-session", "-d", "-s", "first", "-x", "120", "-y", "40", cmd+" 2>>"+m.stderr+"; sleep 60")
	t.Cleanup(func() {
		_ = exec.Command(tmux, "-L", m.sock, "kill-server").Run()
		// Whatever the run left serving goes with it.
		for _, p := range stateProcesses(t, state) {
			if p.PID > 0 {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
	})
	const slow = 3 * time.Minute

	m.waitFor("first", "local (embedded)", slow)
	m.waitFor("first", "press n to deploy sglang-aggregated-default", slow)
	m.keys("first", "n")
	m.waitFor("first", "deploying sglang-aggregated-default", slow)
	m.waitFor("first", "demo model", slow) // the progress says the demo model stands in
	m.waitFor("first", "sglang-aggregated-default is ready", slow)
	m.keys("first", "Escape")
	m.wait("first", "the deployment ready in the table", slow, func(s string) bool {
		return strings.Contains(s, "successful") && strings.Contains(s, "radix-demo") && strings.Contains(s, "1/1 1/1")
	})
	m.waitFor("first", "serves radix's demo model", slow) // the note on the status line

	// Chat: the demo model answers.
	m.keys("first", "c")
	m.waitFor("first", "connected to http://127.0.0.1", slow)
	m.keys("first", "What is machine learning?", "Enter")
	s := m.waitFor("first", "tok/s", slow)
	reply := s[strings.Index(s, "bot:")+len("bot:"):]
	reply = strings.Join(strings.Fields(reply[:strings.Index(reply, "TTFT")]), " ")
	if !strings.Contains(strings.ToLower(reply), "learning") {
		t.Fatalf("the reply to \"What is machine learning?\" is off topic: %q", reply)
	}

	// The cache test: the repeated prompt fits the demo model's context and its repeat hits the cache.
	m.keys("first", "C-t")
	m.waitFor("first", "faster", slow)

	// Logs with the cache preset: the chat's prefill shows its cached-token count.
	m.keys("first", "Escape", "l")
	m.waitFor("first", "following", slow)
	m.keys("first", "C")
	m.waitFor("first", "[cache lines]", slow)
	m.waitFor("first", "#cached-token", slow)
	m.keys("first", "Escape")
	m.waitFor("first", "dgd(", slow)

	// A second console on the same state finds the running deployment.
	m.run("new-session", "-d", "-s", "second", "-x", "120", "-y", "40", cmd+" 2>>"+m.stderr+"; sleep 60")
	m.wait("second", "the running deployment in a second console", slow, func(s string) bool {
		return strings.Contains(s, "sglang-aggregated-default") && strings.Contains(s, "successful")
	})
	m.keys("second", ":", "q", "Enter")

	// A worker killed from outside shows as failed within a refresh.
	killed := false
	for _, p := range stateProcesses(t, state) {
		if p.Role != "frontend" && p.PID > 0 {
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
				t.Fatalf("killing worker %d: %v", p.PID, err)
			}
			killed = true
			break
		}
	}
	if !killed {
		t.Fatalf("no worker in the state file")
	}
	m.waitFor("first", "failed", slow)
	m.waitFor("first", "process exited", slow)

	// Delete with confirmation: the processes stop and the state goes.
	m.keys("first", "C-d")
	m.waitFor("first", "Press y to confirm", slow)
	left := stateProcesses(t, state)
	m.keys("first", "y")
	m.waitFor("first", "no deployments here", slow)
	for _, p := range left {
		deadline := time.Now().Add(slow)
		for syscall.Kill(p.PID, 0) == nil && !zombie(p.PID) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d (%s) still runs after the delete", p.PID, p.Role)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	if ps := stateProcesses(t, state); len(ps) != 0 {
		t.Fatalf("state left after the delete: %+v", ps)
	}
	m.keys("first", ":", "q", "Enter")
}

// zombie reports whether pid has exited but not been reaped (its parent, the console, may not wait).
func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true // gone
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
