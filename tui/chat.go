package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/radixops/radix/kube"
)

// ChatMessage is one turn of a conversation.
type ChatMessage struct{ Role, Content string }

// ChatRequest is what the chat pane sends.
type ChatRequest struct {
	Model     string
	Messages  []ChatMessage
	MaxTokens int
}

// ChatResult is how one reply went.
type ChatResult struct {
	TTFT             time.Duration
	Duration         time.Duration
	PromptTokens     int
	CompletionTokens int
	CachedTokens     int
	TokensPerSecond  float64
}

// ChatClient streams chat completions from an OpenAI-compatible base URL. cmd/radix adapts
// inference/client to it; tests use a fake.
type ChatClient interface {
	Models(ctx context.Context, baseURL string) ([]string, error)
	// Stream sends req, calls onToken for every content delta as it arrives and returns the timings.
	Stream(ctx context.Context, baseURL string, req ChatRequest, onToken func(string)) (ChatResult, error)
}

type turn struct {
	role, text string
	res        *ChatResult
	err        error
}

// chat is the chat pane: a conversation with a deployment's frontend through its Endpoint.
type chat struct {
	sh      *Shared
	id      int
	w, h    int
	dep     kube.Deployment
	url     string
	release func()
	ctx     context.Context
	cancel  context.CancelFunc

	models  []string
	model   string
	picking bool
	pick    int

	system    textinput.Model
	input     textinput.Model
	focus     int // 0 input, 1 system prompt
	turns     []turn
	streaming bool
	testing   bool
	status    string
	dirty     bool
	cache     string
}

func newChat(sh *Shared, d kube.Deployment) *chat {
	mk := func(prompt, ph string) textinput.Model {
		ti := textinput.New()
		ti.Prompt = prompt
		ti.Placeholder = ph
		ti.Cursor.SetMode(cursor.CursorStatic)
		return ti
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &chat{sh: sh, id: sh.newID(), dep: d, ctx: ctx, cancel: cancel, model: d.Model,
		system: mk("system> ", "You are a helpful assistant."), input: mk("you> ", "type a message, enter sends"), dirty: true}
	v.input.Focus()
	return v
}

func (v *chat) ID() int         { return v.id }
func (v *chat) Name() string    { return "chat" }
func (v *chat) Title() string   { return "chat(" + v.dep.Namespace + "/" + v.dep.Name + ")" }
func (v *chat) Capturing() bool { return !v.picking }
func (v *chat) SetSize(w, h int) {
	v.w, v.h, v.dirty = w, max(h, 4), true
	v.input.Width = w - 8
	v.system.Width = w - 10
}
func (v *chat) selected() (kube.Deployment, bool) { return v.dep, v.dep.Name != "" }
func (v *chat) Close() {
	v.cancel()
	if v.release != nil {
		v.release()
		v.release = nil
	}
}

func (v *chat) Bindings() []Binding {
	if v.picking {
		return append([]Binding{
			{Action: "pick", Keys: []string{"enter"}, Help: "use model"},
			{Action: "pick-cancel", Keys: []string{"esc"}, Help: "cancel"},
		}, navBindings()...)
	}
	return []Binding{
		{Action: "send", Keys: []string{"enter"}, Help: "send"},
		{Action: "focus", Keys: []string{"tab"}, Help: "system prompt ⇄ message"},
		{Action: "models", Keys: []string{"ctrl+o"}, Help: "model"},
		{Action: "cache-test", Keys: []string{"ctrl+t"}, Help: "cache test"},
		{Action: "stop", Keys: []string{"ctrl+x"}, Help: "stop reply"},
		{Action: "clear", Keys: []string{"ctrl+l"}, Help: "new conversation"},
		{Action: "back", Keys: []string{"esc"}, Help: "back"},
	}
}

type (
	endpointMsg struct {
		to
		url     string
		release func()
		models  []string
		err     error
	}
	chatEvent struct {
		token string
		res   *ChatResult
		err   error
		done  bool
	}
	chatStreamMsg struct {
		to
		events []chatEvent
		ch     <-chan chatEvent
	}
	cacheTestMsg struct {
		to
		first, second ChatResult
		err           error
	}
)

func (v *chat) Init() tea.Cmd {
	if v.dep.Name == "" {
		v.status = "no deployment selected: open chat with c on a deployment"
		return nil
	}
	if v.sh.Opts.Chat == nil {
		v.status = "chat is not available in this build"
		return nil
	}
	v.status = "connecting…"
	c, cl, d, id, ctx := v.sh.Cluster, v.sh.Opts.Chat, v.dep, v.id, v.ctx
	return func() tea.Msg {
		url, release, err := c.Endpoint(ctx, d.Namespace, d.Name)
		if err != nil {
			return endpointMsg{to: to{id}, err: fmt.Errorf("connecting to %s: %w", d.Name, err)}
		}
		mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		models, err := cl.Models(mctx, url)
		return endpointMsg{to: to{id}, url: url, release: release, models: models, err: err}
	}
}

// readChat forwards the stream's events in batches.
func readChat(id int, ch <-chan chatEvent) tea.Cmd {
	return func() tea.Msg {
		recv := func() chatEvent {
			e, ok := <-ch
			if !ok { // the stream gave up on a cancelled request without a final event
				return chatEvent{done: true, err: context.Canceled}
			}
			return e
		}
		e := recv()
		evs := []chatEvent{e}
		for !e.done {
			select {
			case e0, ok := <-ch:
				e = e0
				if !ok {
					e = chatEvent{done: true, err: context.Canceled}
				}
				evs = append(evs, e)
				continue
			default:
			}
			break
		}
		return chatStreamMsg{to: to{id}, events: evs, ch: ch}
	}
}

func (v *chat) request() ChatRequest {
	req := ChatRequest{Model: v.model}
	if s := strings.TrimSpace(v.system.Value()); s != "" {
		req.Messages = append(req.Messages, ChatMessage{"system", s})
	}
	for _, t := range v.turns {
		if t.role == "user" || t.role == "assistant" && t.err == nil {
			req.Messages = append(req.Messages, ChatMessage{t.role, t.text})
		}
	}
	return req
}

func (v *chat) Update(msg tea.Msg) tea.Cmd {
	v.dirty = true
	switch msg := msg.(type) {
	case endpointMsg:
		if msg.release != nil {
			if v.ctx.Err() != nil { // closed meanwhile
				msg.release()
				return nil
			}
			v.release = msg.release
		}
		v.url, v.models = msg.url, msg.models
		if msg.err != nil {
			v.status = "not connected"
			v.turns = append(v.turns, turn{role: "note", err: msg.err})
			return flashErr(msg.err)
		}
		if v.model == "" && len(v.models) > 0 {
			v.model = v.models[0]
		}
		if len(v.models) > 0 && !contains(v.models, v.model) {
			v.model = v.models[0]
		}
		v.status = "connected to " + v.url
	case chatStreamMsg:
		if len(v.turns) == 0 { // cleared while a reply was streaming
			v.turns = append(v.turns, turn{role: "assistant"})
		}
		last := &v.turns[len(v.turns)-1]
		for _, e := range msg.events {
			last.text += e.token
			if e.done {
				v.streaming = false
				last.res, last.err = e.res, e.err
				return nil
			}
		}
		return readChat(v.id, msg.ch)
	case cacheTestMsg:
		v.testing = false
		if msg.err != nil {
			v.turns = append(v.turns, turn{role: "note", err: msg.err})
			return nil
		}
		speed := 0.0
		if msg.second.TTFT > 0 {
			speed = float64(msg.first.TTFT) / float64(msg.second.TTFT)
		}
		v.turns = append(v.turns, turn{role: "note", text: fmt.Sprintf(
			"cache test: same %d-token prompt twice — TTFT %s then %s (%.1f× faster), cached tokens %d then %d",
			msg.first.PromptTokens, msg.first.TTFT.Round(time.Millisecond), msg.second.TTFT.Round(time.Millisecond), speed,
			msg.first.CachedTokens, msg.second.CachedTokens)})
	case actionMsg:
		return v.action(msg.Action)
	case tea.KeyMsg:
		var cmd tea.Cmd
		if v.focus == 0 {
			v.input, cmd = v.input.Update(msg)
		} else {
			v.system, cmd = v.system.Update(msg)
		}
		return cmd
	}
	return nil
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func (v *chat) ready() error {
	switch {
	case v.url == "":
		return fmt.Errorf("not connected: %s", v.status)
	case v.streaming || v.testing:
		return fmt.Errorf("a request is running; ctrl-x stops it")
	}
	return nil
}

func (v *chat) action(a string) tea.Cmd {
	if v.picking {
		if c, ok := navigate(a, v.pick, len(v.models), 5); ok {
			v.pick = c
			return nil
		}
		switch a {
		case "pick":
			if v.pick < len(v.models) {
				v.model = v.models[v.pick]
			}
			v.picking = false
		case "pick-cancel":
			v.picking = false
		}
		return nil
	}
	switch a {
	case "back":
		return func() tea.Msg { return popMsg{} }
	case "focus":
		v.focus = 1 - v.focus
		if v.focus == 0 {
			v.system.Blur()
			return v.input.Focus()
		}
		v.input.Blur()
		return v.system.Focus()
	case "models":
		if len(v.models) == 0 {
			return flashErr(fmt.Errorf("no models listed by the frontend"))
		}
		v.picking = true
	case "clear":
		v.turns = nil
	case "stop":
		v.cancel()
		v.ctx, v.cancel = context.WithCancel(context.Background())
	case "send":
		text := strings.TrimSpace(v.input.Value())
		if text == "" {
			return nil
		}
		if err := v.ready(); err != nil {
			return flashErr(err)
		}
		v.input.SetValue("")
		v.turns = append(v.turns, turn{role: "user", text: text})
		req := v.request()
		v.turns = append(v.turns, turn{role: "assistant"})
		v.streaming = true
		cl, url, ctx := v.sh.Opts.Chat, v.url, v.ctx
		ch := make(chan chatEvent, 256)
		go func() {
			// The stream runs beside the program; it only talks to it through ch.
			res, err := cl.Stream(ctx, url, req, func(tok string) {
				select {
				case ch <- chatEvent{token: tok}:
				case <-ctx.Done():
				}
			})
			select {
			case ch <- chatEvent{res: &res, err: err, done: true}:
			case <-ctx.Done():
			}
			close(ch)
		}()
		return readChat(v.id, ch)
	case "cache-test":
		if err := v.ready(); err != nil {
			return flashErr(err)
		}
		v.testing = true
		cl, url, ctx, id, model := v.sh.Opts.Chat, v.url, v.ctx, v.id, v.model
		return func() tea.Msg {
			first, second, err := cacheTest(ctx, cl, url, model)
			return cacheTestMsg{to{id}, first, second, err}
		}
	}
	return nil
}

// cacheTest sends one long prompt twice, as the blueprint's repeated-prompt test does: the second
// request finds the prompt in the prefix cache, so its TTFT shows what the cache saves.
func cacheTest(ctx context.Context, cl ChatClient, url, model string) (ChatResult, ChatResult, error) {
	var sb strings.Builder
	// About 4,000 characters: a prefill long enough to dominate TTFT, yet about 1,200 tokens of the
	// demo model, which fits the embedded environment's 2,048-token context with room for the reply.
	for i := 0; sb.Len() < 4000; i++ {
		fmt.Fprintf(&sb, "Section %d of the operations manual: a radix tree keeps every prompt prefix it has seen, so a repeated prompt skips its prefill. ", i)
	}
	req := ChatRequest{Model: model, MaxTokens: 16, Messages: []ChatMessage{{"system", sb.String()}, {"user", "Summarise the manual in one sentence."}}}
	first, err := cl.Stream(ctx, url, req, nil)
	if err != nil {
		return first, ChatResult{}, fmt.Errorf("cache test, first request: %w", err)
	}
	second, err := cl.Stream(ctx, url, req, nil)
	if err != nil {
		return first, second, fmt.Errorf("cache test, second request: %w", err)
	}
	return first, second, nil
}

func (v *chat) View() string {
	if !v.dirty && v.cache != "" {
		return v.cache
	}
	st := v.sh.Styles
	model := v.model
	if model == "" {
		model = "(default)"
	}
	head := []string{st.Title.Render(" "+v.Title()+" ") + st.Dim.Render(" model "+model), st.Dim.Render(" " + v.status), padRight(v.system.View(), v.w)}
	var body []string
	for _, t := range v.turns {
		var who string
		switch t.role {
		case "user":
			who = st.Key.Render("you: ")
		case "assistant":
			who = st.Header.Render("bot: ")
		default:
			who = st.Dim.Render("··· ")
		}
		text := ansiFree(strings.ReplaceAll(t.text, "\n", " ⏎ "))
		if text != "" || t.role != "note" {
			for _, l := range strings.Split(ansi.Wordwrap(who+text, max(v.w-2, 10), " "), "\n") {
				body = append(body, " "+l)
			}
		}
		if t.err != nil {
			for _, l := range strings.Split(ansi.Wordwrap(ansiFree(t.err.Error()), max(v.w-2, 10), " /:"), "\n") {
				body = append(body, " "+st.Error.Render(l))
			}
		}
		if r := t.res; r != nil && t.err == nil {
			body = append(body, " "+st.Dim.Render(fmt.Sprintf("TTFT %s · %.1f tok/s · %d prompt tokens (%d cached) · %d completion tokens",
				r.TTFT.Round(time.Millisecond), r.TokensPerSecond, r.PromptTokens, r.CachedTokens, r.CompletionTokens)))
		}
	}
	if v.streaming {
		body = append(body, " "+st.Dim.Render("streaming…"))
	}
	if v.testing {
		body = append(body, " "+st.Dim.Render("running the cache test…"))
	}
	if v.picking {
		body = []string{st.Header.Render(" choose a model")}
		for i, m := range v.models {
			line := "  " + m
			if i == v.pick {
				line = st.Selected.Render(padRight(line, v.w))
			}
			body = append(body, line)
		}
	}
	room := v.h - len(head) - 1
	if len(body) > room {
		body = body[len(body)-room:] // the newest part of the conversation
	}
	lines := append(head, body...)
	for len(lines) < v.h-1 {
		lines = append(lines, "")
	}
	lines = append(lines, v.input.View())
	v.cache = padLines(lines, v.w, v.h)
	v.dirty = false
	return v.cache
}
