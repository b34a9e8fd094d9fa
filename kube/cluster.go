package kube

import (
	"context"
	"errors"
	"time"
)

// Cluster is everything the console shows and does. It is implemented by the client-go cluster in this
// package and by the embedded environment in inference/fleet. Methods that wait take a context;
// streams end when the context is cancelled, and their channels are closed by the implementation.
type Cluster interface {
	// Info names the target: the kubeconfig context and server, or the embedded environment.
	Info() Info

	// Watch streams snapshots of the deployments in namespace ("" means all namespaces). The first
	// snapshot arrives once the initial list is synced; a new one follows every change.
	Watch(ctx context.Context, namespace string) (<-chan Snapshot, error)

	// Describe returns one deployment with its components, pods, conditions, events and rendered spec.
	Describe(ctx context.Context, namespace, name string) (*Detail, error)

	// Preview renders a deploy request without changing anything: the manifest, a diff against the
	// live object if there is one, and the prerequisite checks.
	Preview(ctx context.Context, req DeployRequest) (*Preview, error)

	// Deploy applies a request and reports progress until the deployment is ready, fails, or the
	// request's timeout passes; the channel is closed after the final event.
	Deploy(ctx context.Context, req DeployRequest) (<-chan Progress, error)

	// Delete removes a deployment; with wait it reports progress until its pods are gone.
	Delete(ctx context.Context, namespace, name string, wait bool) (<-chan Progress, error)

	// Logs follows (or, without Follow, reads) the logs of every pod of a deployment, merged in time order.
	Logs(ctx context.Context, req LogRequest) (<-chan LogLine, error)

	// GPUs returns the GPU inventory: nodes of a cluster, or the local machine.
	GPUs(ctx context.Context) (*GPUReport, error)

	// CacheStats returns per-worker prefix-cache and load figures of a deployment.
	CacheStats(ctx context.Context, namespace, name string) ([]WorkerStats, error)

	// Endpoint returns a local base URL for the deployment's OpenAI-compatible frontend (a
	// port-forward in a cluster, a loopback port locally) and a function that releases it.
	Endpoint(ctx context.Context, namespace, name string) (url string, release func(), err error)

	// Allowed reports whether the user may perform action in namespace (RBAC, read-only mode).
	Allowed(ctx context.Context, action Action, namespace string) bool
}

// Info describes what a Cluster is connected to.
type Info struct {
	Context   string // kubeconfig context name, or "local (embedded)"
	Server    string // API server URL, or the state directory of the embedded environment
	Namespace string // the default namespace
	Embedded  bool
	ReadOnly  bool
}

// EmbeddedContext is the context name shown for the embedded environment.
const EmbeddedContext = "local (embedded)"

// Action is a mutating or sensitive operation the console may offer.
type Action string

const (
	ActionDeploy       Action = "deploy"
	ActionDelete       Action = "delete"
	ActionLogs         Action = "logs"
	ActionPortForward  Action = "port-forward"
	ActionCreateSecret Action = "create-secret"
)

// State of a deployment, as the Dynamo operator reports it (status.state), plus states the console derives.
type State string

const (
	StatePending      State = "pending"
	StateInitializing State = "initializing"
	StateSuccessful   State = "successful"
	StateFailed       State = "failed"
	StateDeleting     State = "deleting"
	StateUnknown      State = "unknown"
)

// Snapshot is the full list of deployments at one moment; views render it, never mutate it.
type Snapshot struct {
	Deployments []Deployment
	At          time.Time
	// Err is set when the watch is degraded (for example reconnecting); Deployments is the last good list.
	Err error
}

// Deployment is one DynamoGraphDeployment (or one embedded deployment).
type Deployment struct {
	Name      string
	Namespace string
	Backend   string // sglang, vllm, trtllm
	Profile   string // catalog profile it was deployed from (radix's annotation), "" if unknown
	State     State
	Reason    string // Ready condition reason
	Message   string // Ready condition message
	Services  []Service
	Model     string // --model-path of the workers
	PageSize  int    // --page-size of the workers, 0 if unset
	GPUs      int    // total GPUs requested by all replicas
	Created   time.Time
	Pods      int // pods currently belonging to it
}

// Service is one entry of spec.services (a DynamoComponentDeployment).
type Service struct {
	Name          string // service key, e.g. SGLangDecodeWorker
	ComponentType string // frontend, worker, planner, main
	SubType       string // prefill, decode, or ""
	Replicas      int    // desired
	Ready         int
	GPUs          int // per replica
	Args          string
}

// Detail is everything the deployment detail view shows.
type Detail struct {
	Deployment Deployment
	Pods       []Pod
	Conditions []Condition
	Events     []Event
	Manifest   string // the live object (or embedded plan) as YAML
}

// Pod is one pod of a deployment (or one local process).
type Pod struct {
	Name            string
	Namespace       string
	Deployment      string
	Component       string // service key
	ComponentType   string
	Phase           string // Pending, Running, Succeeded, Failed, Unknown
	Ready           bool
	Restarts        int
	Node            string
	GPUs            int
	Created         time.Time
	Reason          string // waiting or termination reason now (ImagePullBackOff, CrashLoopBackOff, Unschedulable…)
	Message         string
	LastTermination string // reason of the last container termination
	PID             int    // embedded environment only
	Endpoint        string // embedded environment only: the process's base URL
}

// Condition is a status condition of a deployment.
type Condition struct {
	Type, Status, Reason, Message string
	LastTransition                time.Time
}

// Event is a Kubernetes event (or an embedded-environment event) about a deployment or its pods.
type Event struct {
	Time    time.Time
	Type    string // Normal, Warning
	Reason  string
	Object  string // kind/name
	Message string
	Count   int
}

// DeployRequest asks for a profile to be deployed.
type DeployRequest struct {
	Profile   string
	Name      string
	Namespace string
	Overrides map[string]string // --set keys of the config package
	DryRun    bool
	Wait      bool
	Timeout   time.Duration // default 600 s, as the blueprint's deploy.sh
	// AsPublished renders the blueprint with its known defects kept (config.RenderOptions).
	AsPublished bool
	// CreateHFSecret creates a missing hf-token-secret from $HF_TOKEN before applying; the token is
	// never printed or logged.
	CreateHFSecret bool
}

// Check is one prerequisite check run before a deploy.
type Check struct {
	Name     string
	OK       bool
	Blocking bool   // a failed blocking check stops the deploy
	Message  string // what was found
	Fix      string // what to do about it
}

// Preview is a deploy request rendered but not applied.
type Preview struct {
	Manifest string // YAML
	Diff     string // unified diff against the live object; "" when new or unchanged
	Exists   bool
	Checks   []Check
}

// Progress is one step of a deploy or delete.
type Progress struct {
	Time    time.Time
	Phase   string // checks, apply, waiting, ready, failed, deleting, gone, timeout
	Message string
	State   State
	Pods    []Pod  // pod-level detail when it explains the wait
	Done    bool   // the last event
	Err     error  // set on the final event when it failed
	Check   *Check // phase "checks": the prerequisite check this event reports
}

// LogRequest selects logs to follow.
type LogRequest struct {
	Namespace  string
	Deployment string
	Pod        string // one pod only, "" for all
	Follow     bool
	Since      time.Duration
	Tail       int // lines per pod from the end, -1 for all
	Timestamps bool
}

// LogLine is one line of one pod's log.
type LogLine struct {
	Time time.Time
	Pod  string
	Text string
	// Err marks a stream problem (dropped, reconnecting); Text then explains it.
	Err bool
}

// GPUReport is the GPU inventory.
type GPUReport struct {
	Nodes []GPUNode
	// Local describes the CPU runtime in the embedded environment when no GPU is present.
	Local *LocalRuntime
	// Note explains missing sources, e.g. "metrics-server not installed", "no DCGM exporter".
	Note string
}

// GPUNode is one node's GPUs.
type GPUNode struct {
	Name         string
	Pool         string // karpenter.sh/nodepool
	InstanceType string
	Product      string // nvidia.com/gpu.product
	Capacity     int
	Allocatable  int
	Requested    int
	Holders      []string // deployments holding GPUs here
	// From DCGM when present; negative when unknown.
	Utilization float64
	MemUsedMiB  float64
	MemTotalMiB float64
	CPUMilli    int64 // from metrics.k8s.io, -1 when unknown
	MemoryBytes int64
}

// LocalRuntime is what the embedded environment's CPU runtime uses.
type LocalRuntime struct {
	Threads     int
	WeightBytes int64
	KVTokens    int // KV pool capacity in tokens
	KVUsed      int
}

// WorkerStats are one worker's prefix-cache and load figures.
type WorkerStats struct {
	Pod           string
	Role          string // worker, prefill, decode
	Source        string // "metrics" or "logs"
	At            time.Time
	CacheHitRate  float64 // cumulative cached / prompt tokens when counters exist
	TokenUsage    float64
	Running       int
	Queued        int
	GenThroughput float64 // tokens/s
	TTFT          time.Duration
	CachedTokens  float64 // cumulative
	PromptTokens  float64 // cumulative
}

// ErrNotFound is returned when a named deployment does not exist.
var ErrNotFound = errors.New("not found")
