package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/kube"
)

// openCluster connects to the cluster the global flags name, as kubectl would (--kubeconfig,
// $KUBECONFIG, --context, in-cluster config, exec credential plugins). The namespace defaults to
// config.yaml's, else dynamo-cloud; --readonly or config.yaml's readOnly disable mutating actions.
func openCluster(ctx context.Context, g *globals) (kube.Cluster, error) {
	return openKubeCluster(ctx, g)
}

func openKubeCluster(ctx context.Context, g *globals) (*kube.KubeCluster, error) {
	if g.Local {
		return nil, errors.New("--local: the embedded environment is not built into this binary yet; " +
			"drop --local to use the cluster of your kubeconfig")
	}
	settings, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("reading radix settings: %w", err)
	}
	ns := g.Namespace
	if ns == "" {
		ns = settings.Namespace
	}
	c, err := kube.Connect(ctx, kube.Options{
		Kubeconfig: g.Kubeconfig, Context: g.Context, Namespace: ns,
		ReadOnly: g.ReadOnly || settings.ReadOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n(radix needs a reachable cluster for this; the embedded environment that "+
			"runs without one is not built into this binary yet)", err)
	}
	return c, nil
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
