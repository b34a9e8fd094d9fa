// Package fleet is the embedded environment: it runs a profile's components as local processes of
// radix's own runtime and implements kube.Cluster over them, so every console view and CLI verb works
// with no cluster at all.
//
// Deploying a profile resolves it with the config package, takes the local process plan (frontend,
// workers, prefill and decode workers) and starts each one as a child `radix serve` on a free loopback
// port, in its own session so it outlives the console. Everything about a deployment — profile,
// overrides, pids, ports, start times, events — is kept in a JSON file under the state directory
// ($XDG_STATE_HOME/radix/deployments/<namespace>/<name>/), so a restarted console finds its
// deployments again; a pid whose process is gone (or was reused by another program) shows as failed.
// Each process writes its log to a file beside the state, rotated by size, and followed like a pod log.
//
// Health comes from each process's /health, telemetry from its /metrics and its parsed log lines.
// Delete sends SIGTERM to each process group, SIGKILL after a grace period, and removes the state.
package fleet
