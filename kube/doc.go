// Package kube is the console's model of a fleet of SGLang deployments — DynamoGraphDeployments, their
// components and pods, logs, events, GPUs and prefix-cache statistics — behind the Cluster interface,
// and the client-go implementation of that interface for a real Kubernetes cluster.
//
// The embedded environment (inference/fleet) implements the same interface over local processes, so
// every console view works on both. Nothing here renders; the tui package draws what this package models.
//
// The client-go implementation, KubeCluster (Connect), in the order data flows:
//   - client.go: connection like kubectl (kubeconfig loading rules, --context, in-cluster config, exec
//     credential plugins), errors that name the context and server;
//   - watch.go, model.go: DGD and pod informers (pods by nvidia.com/dynamo-graph-deployment-name) →
//     Snapshot; the mapping of a DGD and its pods to Deployment, Service and Pod;
//   - deploy.go, progress.go, render.go: profile → DGD (config package) → prerequisite checks →
//     server-side apply (field manager radix) with dry-run and diff → progress until successful,
//     failed or timeout, with pod-level reasons; delete and its wait;
//   - logs.go, logfilter.go: every pod's main container followed and merged by time, resumed after
//     drops, colours stripped; LogFilter and the one table of presets, shared with the console;
//   - gpus.go, cachestats.go: node GPU inventory, metrics.k8s.io, DCGM; worker and frontend /metrics
//     through the pod proxy, with SGLang's log lines as the fallback;
//   - portforward.go: the frontend's local URL, re-established when it drops;
//   - allowed.go: SelfSubjectAccessReview and read-only mode.
//
// Tests run against a real kube-apiserver and etcd (kube/testenv, binaries from scripts/testbin.sh);
// the kubelet-side paths (logs, pod proxy, port-forward) and metrics-server are served by httptest
// servers speaking their wire formats, because no kubelet can run next to the test API server.
package kube
