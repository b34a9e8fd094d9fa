package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/radixops/radix/inference/discovery"
	"github.com/radixops/radix/inference/frontend"
	"github.com/radixops/radix/inference/server"
	"github.com/radixops/radix/inference/worker"
)

// topology holds `radix serve`'s flags for the Dynamo-style roles and profiles.
type topology struct {
	role, namespace, frontend, routerMode, profile string
	transferPort                                   int
	overlap, temperature                           float64
	kvEvents                                       bool
	leaseTTL, heartbeat, xferHeartbeat, xferTimout time.Duration
	set                                            []string
}

func addTopologyFlags(f *pflag.FlagSet, t *topology) {
	ns := os.Getenv("DYNAMO_NAMESPACE")
	if ns == "" {
		ns = "dynamo"
	}
	f.StringVar(&t.role, "role", "", "run one part of a topology: frontend, worker, prefill or decode (default: one aggregated server)")
	f.StringVar(&t.namespace, "namespace", ns, "Dynamo namespace the frontend and its workers share (default $DYNAMO_NAMESPACE)")
	f.StringVar(&t.frontend, "frontend", "", "worker roles: the frontend URL to register with")
	f.IntVar(&t.transferPort, "transfer-port", 0, "prefill/decode: KV transfer port (0: any free port)")
	f.StringVar(&t.routerMode, "router-mode", "round-robin", "frontend: round-robin, random or kv")
	f.Float64Var(&t.overlap, "kv-overlap-score-weight", 1.0, "frontend, kv mode: weight of prefill blocks against decode blocks")
	f.Float64Var(&t.temperature, "router-temperature", 0, "frontend, kv mode: 0 picks the lowest cost, above 0 samples a softmax")
	f.BoolVar(&t.kvEvents, "kv-events", true, "frontend, kv mode: follow workers' KV events (false: approximate from routing decisions)")
	f.DurationVar(&t.leaseTTL, "lease-ttl", 10*time.Second, "frontend: discovery lease; a worker silent this long is removed")
	f.DurationVar(&t.heartbeat, "heartbeat-interval", 0, "worker roles: discovery heartbeat interval (default a third of the lease)")
	f.DurationVar(&t.xferHeartbeat, "disagg-heartbeat", 5*time.Second, "prefill/decode: KV transfer heartbeat; two missed = peer offline")
	f.DurationVar(&t.xferTimout, "disagg-timeout", 300*time.Second, "prefill/decode: KV transfer timeout")
	f.StringArrayVar(&t.set, "set", nil, "with --profile: override a profile key (KEY=VALUE, repeatable; see radix render --help)")
	f.StringVar(&t.profile, "profile", "", "run a whole profile (sglang-aggregated-default, sglang-disaggregated-default, sglang-router) as child processes on loopback")
}

// runTopology runs the role or profile the flags ask for; it reports false for the plain aggregated server.
func runTopology(ctx context.Context, cmd *cobra.Command, o server.ServeOptions, t *topology) (bool, error) {
	switch {
	case t.profile != "":
		if t.role != "" {
			return true, fmt.Errorf("serve: --profile and --role are exclusive")
		}
		exe, err := os.Executable()
		if err != nil {
			return true, fmt.Errorf("serve: finding this executable: %w", err)
		}
		set := map[string]string{}
		for _, kv := range t.set {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return true, fmt.Errorf("serve: --set %q: want KEY=VALUE", kv)
			}
			set[k] = v
		}
		return true, frontend.RunProfile(ctx, frontend.ProfileOptions{
			Profile: t.profile, Model: o.Model, Binary: exe, Namespace: t.namespace, Overrides: set,
			ExtraArgs: passOn(cmd.Flags()), Stdout: cmd.OutOrStdout(), Log: cmd.ErrOrStderr(),
		})
	case t.role == "":
		return false, nil
	case t.role == "frontend":
		return true, frontend.Serve(ctx, frontend.Options{
			Host: o.Host, Port: o.Port, Namespace: t.namespace, RouterMode: t.routerMode,
			OverlapScoreWeight: t.overlap, Temperature: t.temperature, KVEvents: t.kvEvents,
			LeaseTTL: t.leaseTTL, Model: o.Model, APIKey: o.APIKey, Log: o.Log,
		})
	}
	wo := worker.Options{ServeOptions: o, Role: discovery.Role(t.role), Namespace: t.namespace,
		Frontend: t.frontend, TransferPort: t.transferPort, Heartbeat: t.heartbeat}
	wo.Transfer.Heartbeat, wo.Transfer.Timeout = t.xferHeartbeat, t.xferTimout
	return true, worker.Serve(ctx, wo)
}

// passOn forwards the flags given to `radix serve --profile` to the children they concern; they come
// after the profile's own arguments, so they win.
func passOn(f *pflag.FlagSet) map[string][]string {
	out := map[string][]string{}
	frontend := []string{"router-mode", "kv-overlap-score-weight", "router-temperature", "kv-events", "lease-ttl", "api-key"}
	workers := []string{"heartbeat-interval", "disagg-heartbeat", "disagg-timeout", "max-total-tokens",
		"chunked-prefill-size", "max-running-requests", "schedule-policy", "disable-radix-cache", "dtype", "kv-cache-dtype"}
	for _, name := range frontend {
		if fl := f.Lookup(name); fl != nil && fl.Changed {
			out["frontend"] = append(out["frontend"], "--"+name+"="+fl.Value.String())
		}
	}
	for _, name := range workers {
		if fl := f.Lookup(name); fl != nil && fl.Changed {
			for _, role := range []string{"worker", "prefill", "decode"} {
				out[role] = append(out[role], "--"+name+"="+fl.Value.String())
			}
		}
	}
	return out
}
