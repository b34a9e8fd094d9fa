// Package kube is the console's model of a fleet of SGLang deployments — DynamoGraphDeployments, their
// components and pods, logs, events, GPUs and prefix-cache statistics — behind the Cluster interface,
// and the client-go implementation of that interface for a real Kubernetes cluster.
//
// The embedded environment (inference/fleet) implements the same interface over local processes, so
// every console view works on both. Nothing here renders; the tui package draws what this package models.
package kube
