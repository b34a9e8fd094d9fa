// Package kubefake is an in-memory, concurrency-safe implementation of kube.Cluster for tests and demos.
//
// It behaves like a cluster rather than replaying screens: Watch emits a snapshot on every change,
// Deploy and Delete move a deployment through its states and report progress, Logs replays history and
// then follows lines as they are appended, and tests drive it through Upsert, SetState, AppendLog,
// SetStats and friends. NewDemo seeds it with deployments shaped like the ai-on-eks SGLang blueprints;
// Simulate keeps that demo alive with SGLang-format log lines and moving cache statistics.
package kubefake
