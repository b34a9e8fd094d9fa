package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/fleet"
	"github.com/radixops/radix/kube"
)

// openCluster opens what the global flags name. With --local, or when no kubeconfig context was named
// and the default one is missing or unreachable, that is the embedded environment (local processes of
// radix's own runtime); otherwise it connects as kubectl would (--kubeconfig, $KUBECONFIG, --context,
// in-cluster config, exec credential plugins). A context named explicitly never falls back: its error
// is the answer. The namespace defaults to config.yaml's, else dynamo-cloud; --readonly or
// config.yaml's readOnly disable mutating actions.
func openCluster(ctx context.Context, g *globals) (kube.Cluster, error) {
	settings, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("reading radix settings: %w", err)
	}
	if g.Local {
		return openEmbedded(g, settings)
	}
	explicit := g.Kubeconfig != "" || g.Context != "" || os.Getenv("KUBECONFIG") != ""
	probe := 3 * time.Second
	if explicit {
		probe = 10 * time.Second
	}
	c, err := openKubeCluster(ctx, g, settings, probe)
	if err == nil {
		return c, nil
	}
	if explicit {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "radix: using the embedded environment (local processes): %v\n", err)
	return openEmbedded(g, settings)
}

func openKubeCluster(ctx context.Context, g *globals, settings config.Settings, probe time.Duration) (*kube.KubeCluster, error) {
	ns := g.Namespace
	if ns == "" {
		ns = settings.Namespace
	}
	return kube.Connect(ctx, kube.Options{
		Kubeconfig: g.Kubeconfig, Context: g.Context, Namespace: ns,
		ReadOnly: g.ReadOnly || settings.ReadOnly, ProbeTimeout: probe,
	})
}

// openEmbedded opens the embedded environment, whose state lives under $XDG_STATE_HOME/radix.
func openEmbedded(g *globals, settings config.Settings) (kube.Cluster, error) {
	paths, err := config.Paths()
	if err != nil {
		return nil, err
	}
	ns := g.Namespace
	if ns == "" {
		ns = settings.Namespace
	}
	return fleet.Open(fleet.Options{
		StateDir:  paths.StateDir,
		Namespace: ns,
		ReadOnly:  g.ReadOnly || settings.ReadOnly,
		Refresh:   min(settings.RefreshInterval, time.Second),
	})
}

// watchNamespace is the namespace a listing covers: "" with -A.
func watchNamespace(g *globals, c kube.Cluster) string {
	if g.AllNamespaces {
		return ""
	}
	return c.Info().Namespace
}

// outputFlag adds -o/--output.
func outputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", "table", "output format: table, json or yaml")
}

// printStructured writes v as JSON or YAML; table output is the caller's.
func printStructured(w io.Writer, format string, v any) (bool, error) {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, fmt.Errorf("encoding JSON: %w", err)
		}
		_, err = fmt.Fprintln(w, string(b))
		return true, err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = w.Write(b)
		return true, err
	case "table", "":
		return false, nil
	}
	return true, fmt.Errorf("unknown output format %q: use table, json or yaml", format)
}

// printJSONLine writes v as one line of JSON (for streams such as logs).
func printJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// age formats a duration as kubectl does (5s, 3m, 2h, 4d).
func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printProgress writes one progress event as a line; pod details indented below it.
func printProgress(w io.Writer, p kube.Progress) {
	fmt.Fprintf(w, "%s  %-8s %s\n", p.Time.Format("15:04:05"), p.Phase, p.Message)
	for _, pod := range p.Pods {
		if pod.Reason == "" {
			continue
		}
		msg := strings.ReplaceAll(strings.TrimSpace(pod.Message), "\n", "\n             ")
		fmt.Fprintf(w, "           pod %s: %s %s\n", pod.Name, pod.Reason, msg)
	}
}

// drainProgress prints every event and returns the final one's error.
func drainProgress(w io.Writer, ch <-chan kube.Progress) error {
	var last kube.Progress
	for p := range ch {
		printProgress(w, p)
		last = p
	}
	if last.Err != nil {
		return last.Err
	}
	if !last.Done {
		return errors.New("progress ended without a final event (interrupted)")
	}
	return nil
}
