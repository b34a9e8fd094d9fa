// Package tui is radix's console: a k9s-style bubbletea program over the kube.Cluster interface.
//
// The root Model only routes: it owns the header, the footer (command line, flash messages, crumbs),
// overlays (help, confirmation) and a stack of views. Each view (deployments, detail, logs, GPUs,
// prefix cache, chat, deploy wizard, context and namespace pickers) sits behind the small view
// interface and declares its key bindings as data (Binding); the header hints, the help screen and
// read-only/RBAC filtering are all derived from those bindings, and config.yaml may rebind them.
// Every cluster call, stream, file write and clipboard write runs in a tea.Cmd whose result comes
// back as a message carrying the id of the view that asked; nothing in Update does I/O.
//
// What does not live here: talking to Kubernetes or local processes (kube, inference/fleet), the
// OpenAI HTTP client (inference/client), the settings file (config).
package tui
