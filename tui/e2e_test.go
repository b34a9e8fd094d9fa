package tui

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEndInTmux builds the real binary and runs it in a tmux pane (a real pseudo-terminal with a
// real terminal emulator) against the in-memory demo cluster, types keys and reads the screen back.
func TestEndToEndInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmux := needTmux(t)
	dir := t.TempDir()
	bin := buildRadix(t, dir)
	sock := "radix-e2e-" + filepath.Base(dir)
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	env := "XDG_CONFIG_HOME=" + dir + " XDG_STATE_HOME=" + dir + " RADIX_FAKE_CLUSTER=200 TERM=xterm-256color"
	stderr := filepath.Join(dir, "stderr")
	tm("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", "env "+env+" "+bin+" 2>"+stderr+"; sleep 30")
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", sock, "kill-server").Run() })
	screen := func() string { return tm("capture-pane", "-p", "-t", "e2e") }
	wait := func(what string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, what) {
				return s
			}
			if time.Now().After(deadline) {
				errs, _ := os.ReadFile(stderr)
				t.Fatalf("screen never showed %q:\n%s\nstderr:\n%s", what, s, errs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Keys go one by one; after Escape a pause, or the terminal reads ESC+key as alt+key.
	keys := func(k ...string) {
		for _, key := range k {
			tm("send-keys", "-t", "e2e", key)
			if key == "Escape" {
				time.Sleep(300 * time.Millisecond)
			}
		}
	}

	s := wait("sglang-router")
	if lines := strings.Split(strings.TrimRight(s, "\n"), "\n"); len(lines) > 24 {
		t.Fatalf("frame taller than the terminal: %d lines", len(lines))
	}
	wait("Context: demo-eks")
	keys("0")
	wait("llama-broken")
	keys("/", "broken", "Enter")
	wait("ImagePullBackOff")
	wait("</broken>")
	keys(":", "ns dynamo-cloud", "Enter")
	wait("Namespace: dynamo-cloud")
	keys("/", "Escape") // esc while typing a filter clears it
	wait("sglang-agg")
	keys("Enter")
	wait("SERVICES")
	keys("Escape", "l")
	wait("following")
	keys("E")
	wait("[errors]")
	keys("s")
	wait("paused")
	keys(":", "gpu", "Enter")
	wait("NVIDIA")
	keys("?")
	wait("GENERAL")
	keys("Escape")
	// Chat through the real inference client against the fake frontend.
	keys(":", "dgd", "Enter", "c")
	wait("connected to http://127.0.0.1")
	keys("hello radix", "Enter")
	wait("echo: hello radix")
	wait("tok/s")
	keys("C-t")
	wait("faster")
	keys("Escape", ":", "gpu", "Enter")
	// Resize: the console redraws for the new size.
	tm("resize-window", "-t", "e2e", "-x", "120", "-y", "40")
	wait("g5-gpu-karpenter")
	keys(":", "q", "Enter")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(screen(), "Context:") {
		if time.Now().After(deadline) {
			t.Fatalf(":q did not leave the alternate screen:\n%s", screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = os.Remove(bin)
}

// needTmux finds tmux; without it the test skips, or fails when RADIX_REQUIRE_E2E is set (as
// scripts/test.sh sets it, after installing tmux), so a missing tmux never passes silently there.
func needTmux(t *testing.T) string {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("RADIX_REQUIRE_E2E") != "" {
			t.Fatalf("tmux not installed, and RADIX_REQUIRE_E2E is set: %v", err)
		}
		t.Skip("tmux not installed")
	}
	return tmux
}

// buildRadix builds the real binary into dir.
func buildRadix(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "radix")
	build := exec.Command("go", "build", "-o", bin, "../cmd/radix")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building radix: %v\n%s", err, out)
	}
	return bin
}
