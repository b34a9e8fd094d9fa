package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/kube"
)

func init() {
	register(lsCmd)
	register(deployCmd)
	register(deleteCmd)
	register(logsCmd)
	register(gpusCmd)
	register(cacheCmd)
}

// interruptible cancels the command's context on Ctrl-C, so waits end cleanly.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt)
}

// clusterRun makes a RunE of a verb that needs the cluster and nothing checked
// before connecting: the context ends on Ctrl-C, the cluster is opened as the
// global flags say, then run gets both.
func clusterRun(g *globals, run func(ctx context.Context, cmd *cobra.Command, cl kube.Cluster, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx, cancel := interruptible(cmd)
		defer cancel()
		cl, err := openCluster(ctx, g)
		if err != nil {
			return err
		}
		return run(ctx, cmd, cl, args)
	}
}

func lsCmd(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the DynamoGraphDeployments (-A for all namespaces)",
		Example: "  radix ls\n  radix ls -A -o json",
		Args:    cobra.NoArgs,
		RunE: clusterRun(g, func(ctx context.Context, cmd *cobra.Command, cl kube.Cluster, _ []string) error {
			wctx, stop := context.WithCancel(ctx)
			defer stop()
			snaps, err := cl.Watch(wctx, watchNamespace(g, cl))
			if err != nil {
				return err
			}
			snap, ok := <-snaps
			if !ok {
				return errors.New("listing deployments: interrupted")
			}
			deps := snap.Deployments
			if deps == nil {
				deps = []kube.Deployment{}
			}
			w := cmd.OutOrStdout()
			if done, err := printStructured(w, output, deps); done {
				return err
			}
			t := newTable(w)
			if g.AllNamespaces {
				fmt.Fprint(t, "NAMESPACE\t")
			}
			fmt.Fprintln(t, "NAME\tPROFILE\tSTATE\tREADY\tGPUS\tMODEL\tPAGE\tAGE\tREASON")
			for _, d := range deps {
				ready, want := 0, 0
				for _, s := range d.Services {
					ready += s.Ready
					want += s.Replicas
				}
				if g.AllNamespaces {
					fmt.Fprintf(t, "%s\t", d.Namespace)
				}
				page := "-"
				if d.PageSize > 0 {
					page = fmt.Sprint(d.PageSize)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\t%s\n", d.Name, dash(d.Profile), d.State,
					ready, want, d.GPUs, dash(d.Model), page, age(d.Created), dash(d.Reason))
			}
			if len(deps) == 0 {
				where := "namespace " + cl.Info().Namespace
				if g.AllNamespaces {
					where = "any namespace"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "no DynamoGraphDeployments in %s\n", where)
			}
			return t.Flush()
		}),
	}
	outputFlag(c, &output)
	return c
}

func deployCmd(g *globals) *cobra.Command {
	var (
		name, output                         string
		sets                                 []string
		dryRun, wait, asPublished, hfFromEnv bool
		timeout                              time.Duration
	)
	c := &cobra.Command{
		Use:   "deploy PROFILE",
		Short: "Deploy a profile to the cluster (prerequisite checks, server-side apply, progress)",
		Long: `Render a profile into a DynamoGraphDeployment, run the prerequisite checks (namespace, CRD, operator,
hf-token-secret, GPU nodes, blueprint defects), server-side apply it with field manager radix, and with
--wait follow it until it is successful, failed, or the timeout passes, explaining pending pods.

--dry-run shows the manifest, the checks and a diff against the live object, and changes nothing.`,
		Example: `  radix deploy sglang-aggregated-default --wait
  radix deploy sglang-router --name qwen --set replicas=3 --dry-run
  HF_TOKEN=… radix deploy sglang-disaggregated-default --create-hf-secret --wait --timeout 15m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			overrides, err := config.ParseSets(sets)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd)
			defer cancel()
			cl, err := openCluster(ctx, g)
			if err != nil {
				return err
			}
			req := kube.DeployRequest{Profile: args[0], Name: name, Namespace: cl.Info().Namespace,
				Overrides: overrides, DryRun: dryRun, Wait: wait, Timeout: timeout,
				AsPublished: asPublished, CreateHFSecret: hfFromEnv}
			w := cmd.OutOrStdout()
			if dryRun {
				pv, err := cl.Preview(ctx, req)
				if err != nil {
					return err
				}
				if done, err := printStructured(w, output, pv); done {
					return err
				}
				fmt.Fprint(w, pv.Manifest)
				fmt.Fprintln(w, "---")
				for _, ch := range pv.Checks {
					fmt.Fprintln(w, checkText(ch))
				}
				if pv.Diff != "" {
					fmt.Fprintln(w, "--- diff against the live object:")
					fmt.Fprint(w, pv.Diff)
				} else if pv.Exists {
					fmt.Fprintln(w, "the live object is unchanged by this manifest")
				}
				for _, ch := range pv.Checks {
					if !ch.OK && ch.Blocking {
						return fmt.Errorf("check %s fails: the deploy would stop there", ch.Name)
					}
				}
				return nil
			}
			if !cl.Allowed(ctx, kube.ActionDeploy, req.Namespace) {
				return fmt.Errorf("not allowed to deploy in %s (RBAC or --readonly)", req.Namespace)
			}
			ch, err := cl.Deploy(ctx, req)
			if err != nil {
				return err
			}
			if output == "json" || output == "yaml" {
				var events []kube.Progress
				var last kube.Progress
				for p := range ch {
					events = append(events, p)
					last = p
				}
				if _, err := printStructured(w, output, events); err != nil {
					return err
				}
				return last.Err
			}
			return drainProgress(w, ch)
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "name of the DynamoGraphDeployment (default: the profile's)")
	f.StringArrayVar(&sets, "set", nil, "override key=value (repeatable; see `radix render --help`)")
	f.BoolVar(&dryRun, "dry-run", false, "show manifest, checks and diff; apply nothing")
	f.BoolVar(&wait, "wait", false, "wait until the deployment is successful or failed")
	f.DurationVar(&timeout, "timeout", kube.DefaultDeployTimeout, "how long --wait waits")
	f.BoolVar(&asPublished, "as-published", false, "deploy the blueprint as published, known defects included")
	f.BoolVar(&hfFromEnv, "create-hf-secret", false, "create a missing hf-token-secret from $HF_TOKEN (never printed)")
	outputFlag(c, &output)
	return c
}

func checkText(ch kube.Check) string {
	mark := "ok  "
	switch {
	case !ch.OK && ch.Blocking:
		mark = "FAIL"
	case !ch.OK:
		mark = "warn"
	}
	s := fmt.Sprintf("[%s] %s: %s", mark, ch.Name, ch.Message)
	if !ch.OK && ch.Fix != "" {
		s += "\n       fix: " + ch.Fix
	}
	return s
}

func deleteCmd(g *globals) *cobra.Command {
	var (
		wait    bool
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a DynamoGraphDeployment (--wait until its pods are gone)",
		Example: "  radix delete sglang-aggregated-default --wait",
		Args:    cobra.ExactArgs(1),
		RunE: clusterRun(g, func(ctx context.Context, cmd *cobra.Command, cl kube.Cluster, args []string) error {
			ns := cl.Info().Namespace
			if !cl.Allowed(ctx, kube.ActionDelete, ns) {
				return fmt.Errorf("not allowed to delete in %s (RBAC or --readonly)", ns)
			}
			if wait && timeout > 0 {
				var stop context.CancelFunc
				ctx, stop = context.WithTimeout(ctx, timeout)
				defer stop()
			}
			ch, err := cl.Delete(ctx, ns, args[0], wait)
			if err != nil {
				return err
			}
			return drainProgress(cmd.OutOrStdout(), ch)
		}),
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait until the deployment's pods are gone")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long --wait waits")
	return c
}

func logsCmd(g *globals) *cobra.Command {
	var (
		filter, pod        string
		invert, follow, ts bool
		since              time.Duration
		tail               int
		output             string
	)
	c := &cobra.Command{
		Use:   "logs NAME",
		Short: "Logs of every pod of a deployment, merged in time order, filtered",
		Long: `Print (or with -f follow) the main container of every pod of a deployment, merged in time order.
Following picks up new pods and restarted containers and resumes dropped streams.

--filter takes a preset (` + strings.Join(kube.PresetNames(), ", ") + `) or a regular expression; a leading
'!' or --invert keeps the lines that do not match.`,
		Example: `  radix logs sglang-router -f --filter cache
  radix logs sglang-disaggregated-default --filter disagg --since 5m
  radix logs my-dgd --filter '!health' --tail 100`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lf, err := kube.ParseLogFilter(filter, invert)
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd)
			defer cancel()
			cl, err := openCluster(ctx, g)
			if err != nil {
				return err
			}
			lines, err := cl.Logs(ctx, kube.LogRequest{Namespace: cl.Info().Namespace, Deployment: args[0], Pod: pod,
				Follow: follow, Since: since, Tail: tail, Timestamps: ts})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for l := range lines {
				if !l.Err && !lf.Match(l.Text) {
					continue
				}
				if output == "json" {
					if err := printJSONLine(w, l); err != nil {
						return err
					}
					continue
				}
				if l.Err {
					fmt.Fprintln(cmd.ErrOrStderr(), kube.FormatLogLine(l, ts))
					continue
				}
				fmt.Fprintln(w, kube.FormatLogLine(l, ts))
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&filter, "filter", "", "preset ("+strings.Join(kube.PresetNames(), ", ")+") or regex; '!' prefix inverts")
	f.BoolVar(&invert, "invert", false, "keep the lines that do not match the filter")
	f.BoolVarP(&follow, "follow", "f", false, "follow the logs")
	f.DurationVar(&since, "since", 0, "only lines newer than this (e.g. 5m)")
	f.IntVar(&tail, "tail", -1, "lines per pod from the end (-1: all)")
	f.BoolVar(&ts, "timestamps", false, "print each line's timestamp")
	f.StringVar(&pod, "pod", "", "one pod only")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json (one object a line)")
	return c
}

func gpusCmd(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "gpus",
		Short: "GPU inventory: nodes, capacity, allocatable, requested, holders, utilisation",
		Args:  cobra.NoArgs,
		RunE: clusterRun(g, func(ctx context.Context, cmd *cobra.Command, cl kube.Cluster, _ []string) error {
			rep, err := cl.GPUs(ctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if done, err := printStructured(w, output, rep); done {
				return err
			}
			t := newTable(w)
			if len(rep.Nodes) > 0 || rep.Local == nil {
				fmt.Fprintln(t, "NODE\tPOOL\tINSTANCE\tGPU\tCAP\tALLOC\tREQ\tUTIL\tMEM(MiB)\tCPU\tHOLDERS")
			}
			for _, n := range rep.Nodes {
				util, mem, cpu := "-", "-", "-"
				if n.Utilization >= 0 {
					util = fmt.Sprintf("%.0f%%", n.Utilization)
				}
				if n.MemUsedMiB >= 0 {
					mem = fmt.Sprintf("%.0f", n.MemUsedMiB)
					if n.MemTotalMiB > 0 {
						mem += fmt.Sprintf("/%.0f", n.MemTotalMiB)
					}
				}
				if n.CPUMilli >= 0 {
					cpu = fmt.Sprintf("%dm", n.CPUMilli)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", n.Name, dash(n.Pool), dash(n.InstanceType),
					dash(n.Product), n.Capacity, n.Allocatable, n.Requested, util, mem, cpu, dash(strings.Join(n.Holders, ",")))
			}
			if err := t.Flush(); err != nil {
				return err
			}
			if l := rep.Local; l != nil {
				t = newTable(w)
				fmt.Fprintln(t, "LOCAL RUNTIME\tTHREADS\tWEIGHTS\tKV TOKENS\tKV USED")
				fmt.Fprintf(t, "cpu\t%d\t%.1f MiB\t%d\t%d\n", l.Threads, float64(l.WeightBytes)/(1<<20), l.KVTokens, l.KVUsed)
				if err := t.Flush(); err != nil {
					return err
				}
			}
			if rep.Note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", rep.Note)
			}
			return nil
		}),
	}
	outputFlag(c, &output)
	return c
}

func cacheCmd(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "cache NAME",
		Short: "Prefix-cache and load figures of each worker (metrics, or parsed SGLang log lines)",
		Args:  cobra.ExactArgs(1),
		RunE: clusterRun(g, func(ctx context.Context, cmd *cobra.Command, cl kube.Cluster, args []string) error {
			stats, err := cl.CacheStats(ctx, cl.Info().Namespace, args[0])
			if err != nil {
				return err
			}
			if stats == nil {
				stats = []kube.WorkerStats{}
			}
			w := cmd.OutOrStdout()
			if done, err := printStructured(w, output, stats); done {
				return err
			}
			t := newTable(w)
			fmt.Fprintln(t, "POD\tROLE\tSOURCE\tCACHE FROM\tHIT RATE\tCACHED/PROMPT\tTOKEN USAGE\tRUNNING\tQUEUED\tGEN TOK/S\tTTFT")
			var notes []string
			for _, s := range stats {
				ttft := "-"
				if s.TTFT > 0 {
					ttft = s.TTFT.Round(time.Millisecond).String()
				}
				// Where the cache figures come from: /metrics, the parsed log lines when /metrics had
				// none (the note says why), or nowhere yet.
				from := s.CacheSource
				switch {
				case s.Role == config.RoleFrontend:
					from = "-"
				case from == "":
					from = "none"
				}
				if s.Role != config.RoleFrontend && s.CacheSource != s.Source && s.CacheNote != "" {
					notes = append(notes, s.Pod+": "+s.CacheNote)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%.1f%%\t%.0f/%.0f\t%.2f\t%d\t%d\t%.1f\t%s\n", s.Pod, s.Role, s.Source, from,
					100*s.CacheHitRate, s.CachedTokens, s.PromptTokens, s.TokenUsage, s.Running, s.Queued, s.GenThroughput, ttft)
			}
			for _, n := range notes {
				fmt.Fprintln(cmd.ErrOrStderr(), n)
			}
			if len(stats) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no running worker or frontend pods with figures")
			}
			return t.Flush()
		}),
	}
	outputFlag(c, &output)
	return c
}
