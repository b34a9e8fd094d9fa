package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/client"
	"github.com/radixops/radix/kube"
	"github.com/radixops/radix/kube/kubefake"
	"github.com/radixops/radix/tui"
)

// fakeClusterEnv, when set to a number of log lines per second, makes the console run against the
// in-memory demo cluster of kube/kubefake instead of a real one. It exists for the console's
// end-to-end test and for demos; it is deliberately not a flag.
const fakeClusterEnv = "RADIX_FAKE_CLUSTER"

// firstDeployProfile is what the deployments view deploys on one key (n): the blueprint's aggregated
// profile, the smallest that chats.
const firstDeployProfile = "sglang-aggregated-default"

func init() {
	consoleRun = runConsole
}

func runConsole(cmd *cobra.Command, g *globals) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	settings, err := config.Load()
	if err != nil {
		return fmt.Errorf("reading radix settings: %w", err)
	}
	var cluster kube.Cluster
	if rate := os.Getenv(fakeClusterEnv); rate != "" {
		var n int
		if _, err := fmt.Sscan(rate, &n); err != nil {
			return fmt.Errorf("%s=%q: want lines per second: %w", fakeClusterEnv, rate, err)
		}
		fake := kubefake.NewDemo(time.Now())
		fake.Now = time.Now // seeded at start; from here on the clock moves
		fake.StepDelay = 500 * time.Millisecond
		if g.ReadOnly {
			fake.SetReadOnly(true)
		}
		if n > 0 {
			go fake.Simulate(ctx, n)
		}
		fake.ServeFrontends()
		cluster = fake
	} else if cluster, err = openCluster(ctx, g); err != nil {
		return err
	}
	var profiles []tui.ProfileChoice
	if ps, err := config.Profiles(); err == nil {
		for _, p := range ps {
			profiles = append(profiles, tui.ProfileChoice{Name: p.Name, Description: p.Description})
		}
	}
	// The wizard's form: the profile-wide override keys; name and namespace are its own first fields.
	var keys []string
	for _, k := range config.OverrideKeys() {
		if !strings.HasPrefix(k.Key, "<") && k.Key != "name" && k.Key != "namespace" && !slices.Contains(keys, k.Key) {
			keys = append(keys, k.Key)
		}
	}
	out := termenv.NewOutput(os.Stdout)
	profile := tui.DetectProfile(os.Getenv, out.EnvColorProfile())
	// Settle lipgloss's default renderer up front: left alone it asks the terminal for its background
	// colour the first time a bubbles component renders, and reads the answer from stdin — racing the
	// program for keystrokes, which then get lost.
	lipgloss.SetColorProfile(profile)
	lipgloss.SetHasDarkBackground(true)
	opts := tui.Options{
		Cluster:          cluster,
		Namespace:        g.Namespace,
		AllNamespaces:    g.AllNamespaces,
		ReadOnly:         g.ReadOnly || settings.ReadOnly,
		LogBuffer:        settings.LogBuffer,
		RefreshInterval:  settings.RefreshInterval,
		Mouse:            settings.Mouse,
		Theme:            settings.Theme.Colors,
		Keymap:           settings.Keymap,
		Favourites:       settings.FavouriteNamespaces,
		Profile:          profile,
		Contexts:         kubeContexts(g),
		SwitchContext:    func(ctx context.Context, name string) (kube.Cluster, error) { return switchContext(ctx, g, name) },
		Chat:             chatClient{},
		Profiles:         profiles,
		FirstDeploy:      firstDeployProfile,
		OverrideKeys:     keys,
		ValidateOverride: config.Validate,
	}
	progOpts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}
	if settings.Mouse {
		progOpts = append(progOpts, tea.WithMouseCellMotion())
	}
	if _, err := tea.NewProgram(tui.New(opts), progOpts...).Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("running the console: %w", err)
	}
	return nil
}

// kubeContexts lists the contexts of the kubeconfig the flags name.
func kubeContexts(g *globals) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if g.Kubeconfig != "" {
			rules.ExplicitPath = g.Kubeconfig
		}
		cfg, err := rules.Load()
		if err != nil {
			return nil, fmt.Errorf("reading kubeconfig: %w", err)
		}
		var names []string
		for n := range cfg.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		return names, nil
	}
}

// switchContext opens another kubeconfig context, or the embedded environment.
func switchContext(ctx context.Context, g *globals, name string) (kube.Cluster, error) {
	ng := *g
	ng.Context, ng.Local = name, false
	if name == kube.EmbeddedContext {
		ng.Context, ng.Local = "", true
	}
	return openCluster(ctx, &ng)
}

// chatClient adapts inference/client to the console's chat pane.
type chatClient struct{}

func (chatClient) Models(ctx context.Context, baseURL string) ([]string, error) {
	ms, err := client.New(baseURL).Models(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing models: %w", err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids, nil
}

func (chatClient) Stream(ctx context.Context, baseURL string, req tui.ChatRequest, onToken func(string)) (tui.ChatResult, error) {
	r := client.Request{Model: req.Model, MaxTokens: req.MaxTokens}
	for _, m := range req.Messages {
		r.Messages = append(r.Messages, client.Message{Role: m.Role, Content: m.Content})
	}
	res, err := client.New(baseURL).ChatStream(ctx, r, func(d client.Delta) {
		if onToken != nil && d.Content != "" {
			onToken(d.Content)
		}
	})
	if err != nil {
		return tui.ChatResult{}, fmt.Errorf("chat with %s: %w", baseURL, err)
	}
	return tui.ChatResult{TTFT: res.TTFT, Duration: res.Duration, PromptTokens: res.Usage.PromptTokens,
		CompletionTokens: res.OutputTokens(), CachedTokens: res.Usage.CachedTokens, TokensPerSecond: res.TokensPerSecond()}, nil
}
