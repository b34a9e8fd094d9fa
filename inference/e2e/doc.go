// Package e2e holds radix's end-to-end tests of the Dynamo-style topologies: real `radix serve`
// processes (the binary is built once in TestMain) on loopback ports, serving the demo model —
// aggregated, disaggregated and KV-routed, with workers killed, stopped and restarted.
package e2e
