package tui

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/radixops/radix/kube"
	"github.com/radixops/radix/kube/kubefake"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testNow is the fixed clock of every model test, so ages in goldens never move.
var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// harness drives a Model the way bubbletea does: commands run in goroutines and their messages come
// back through one channel into Update, on the test's goroutine.
type harness struct {
	t     *testing.T
	m     *Model
	fake  *kubefake.Cluster
	msgs  chan tea.Msg
	quit  bool
	clip  *syncBuffer
	mu    sync.Mutex
	saved string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, w, h int, tweak func(*Options)) *harness {
	t.Helper()
	fake := kubefake.NewDemo(testNow)
	fake.StepDelay = time.Millisecond
	hs := &harness{t: t, fake: fake, msgs: make(chan tea.Msg, 1024), clip: &syncBuffer{}}
	opts := Options{
		Cluster:         fake,
		Profile:         termenv.Ascii,
		RefreshInterval: time.Hour, // no poll ticks during a test
		Now:             func() time.Time { return testNow },
		Getenv:          func(string) string { return "" },
		Clipboard:       hs.clip,
		SaveDir:         t.TempDir(),
		Favourites:      []string{"dynamo-cloud", "team-a"},
		Chat:            &fakeChat{},
		OverrideKeys:    []string{"model", "page-size"},
		Profiles: []ProfileChoice{
			{Name: "sglang-aggregated-default", Description: "frontend + one worker"},
			{Name: "sglang-router", Description: "KV router + two workers"},
		},
		SwitchContext: func(_ context.Context, name string) (kube.Cluster, error) {
			c := kubefake.New(kube.Info{Context: name, Namespace: "other", Embedded: name == kube.EmbeddedContext})
			return c, nil
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	hs.m = New(opts)
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(hs.m.Init())
	return hs
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			h.msgs <- msg
		}
	}()
}

// send delivers one message and starts the command it returns.
func (h *harness) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
		return
	case tea.QuitMsg:
		h.quit = true
		return
	}
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// waitFor processes messages until cond holds; it fails the test after a generous deadline (a hang,
// not a timing assertion).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-deadline:
			h.t.Fatalf("waiting for %s; screen:\n%s", what, h.screen())
		}
	}
}

// waitScreen waits until the screen shows s.
func (h *harness) waitScreen(s string) {
	h.t.Helper()
	h.waitFor("screen to show "+s, func() bool { return strings.Contains(h.screen(), s) })
}

// settle processes the messages already queued and those they cause, until none arrive for a while.
func (h *harness) settle() {
	for {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-time.After(30 * time.Millisecond):
			return
		}
	}
}

var keyTypes = func() map[string]tea.KeyType {
	m := map[string]tea.KeyType{}
	for t := tea.KeyType(-200); t < 200; t++ {
		if s := (tea.Key{Type: t}).String(); s != "" && t != tea.KeyRunes {
			m[s] = t
		}
	}
	return m
}()

func keyMsg(k string) tea.KeyMsg {
	if k == " " {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	if t, ok := keyTypes[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// press sends keys; a key name ("enter", "ctrl+d") or text typed rune by rune.
func (h *harness) press(keys ...string) {
	for _, k := range keys {
		if _, named := keyTypes[k]; named || len([]rune(k)) == 1 {
			h.send(keyMsg(k))
			continue
		}
		for _, r := range k {
			h.send(keyMsg(string(r)))
		}
	}
}

// screen is the frame without escape sequences.
func (h *harness) screen() string { return ansi.Strip(h.m.View()) }

func (h *harness) top() view { return h.m.top() }

// golden compares the screen with testdata/<name>.golden, rewriting it with -update.
func (h *harness) golden(name string) {
	h.t.Helper()
	got := h.screen()
	lines := strings.Split(got, "\n")
	if len(lines) != h.m.sh.Height {
		h.t.Fatalf("%s: frame has %d lines, terminal %d", name, len(lines), h.m.sh.Height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != h.m.sh.Width {
			h.t.Fatalf("%s: line %d is %d cells wide, terminal %d: %q", name, i, w, h.m.sh.Width, l)
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if string(want) != got {
		h.t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// fakeChat answers every request by echoing the last user message word by word and treats prompts
// it has seen before as cached, like a prefix cache would.
type fakeChat struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *fakeChat) Models(context.Context, string) ([]string, error) {
	return []string{"deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "other-model"}, nil
}

func (f *fakeChat) Stream(ctx context.Context, _ string, req ChatRequest, onToken func(string)) (ChatResult, error) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	var prompt strings.Builder
	for _, m := range req.Messages {
		prompt.WriteString(m.Role + ":" + m.Content + "\n")
	}
	p := prompt.String()
	cached := 0
	if f.seen[p] {
		cached = len(p) / 4
	}
	f.seen[p] = true
	f.mu.Unlock()
	last := req.Messages[len(req.Messages)-1].Content
	words := strings.Fields("echo: " + last)
	for i, w := range words {
		if i > 0 {
			w = " " + w
		}
		if onToken != nil {
			onToken(w)
		}
	}
	ttft := 200 * time.Millisecond
	if cached > 0 {
		ttft = 50 * time.Millisecond
	}
	return ChatResult{TTFT: ttft, Duration: ttft + 100*time.Millisecond, PromptTokens: len(p) / 4, CachedTokens: cached,
		CompletionTokens: len(words), TokensPerSecond: 42}, ctx.Err()
}
