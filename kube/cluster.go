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
	Context   string `json:"context"`   // kubeconfig context name, or "local (embedded)"
	Server    string `json:"server"`    // API server URL, or the state directory of the embedded environment
	Namespace string `json:"namespace"` // the default namespace
	Embedded  bool   `json:"embedded"`
	ReadOnly  bool   `json:"readOnly"`
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
	Deployments []Deployment `json:"deployments"`
	At          time.Time    `json:"at"`
	// Err is set when the watch is degraded (for example reconnecting); Deployments is the last good list.
	Err error `json:"-"`
}

// Deployment is one DynamoGraphDeployment (or one embedded deployment).
type Deployment struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Backend   string    `json:"backend"` // sglang, vllm, trtllm
	Profile   string    `json:"profile"` // catalog profile it was deployed from (radix's annotation), "" if unknown
	State     State     `json:"state"`
	Reason    string    `json:"reason"`  // Ready condition reason
	Message   string    `json:"message"` // Ready condition message
	Services  []Service `json:"services"`
	Model     string    `json:"model"`    // --model-path of the workers
	PageSize  int       `json:"pageSize"` // --page-size of the workers, 0 if unset
	GPUs      int       `json:"gpus"`     // total GPUs requested by all replicas
	Created   time.Time `json:"created"`
	Pods      int       `json:"pods"` // pods currently belonging to it
	// Note says something the user should know about what is served, e.g. that the embedded
	// environment serves its demo model in place of the blueprint's; "" when there is nothing to say.
	Note string `json:"note,omitempty"`
}

// Service is one entry of spec.services (a DynamoComponentDeployment).
type Service struct {
	Name          string `json:"name"`          // service key, e.g. SGLangDecodeWorker
	ComponentType string `json:"componentType"` // frontend, worker, planner, main
	SubType       string `json:"subType"`       // prefill, decode, or ""
	Replicas      int    `json:"replicas"`      // desired
	Ready         int    `json:"ready"`
	GPUs          int    `json:"gpus"` // per replica
	Args          string `json:"args"`
}

// Detail is everything the deployment detail view shows.
type Detail struct {
	Deployment Deployment
	Pods       []Pod
	Conditions []Condition
	Events     []Event
	Manifest   string // the live object (or embedded plan) as YAML
	// Components are the operator's objects behind each service: its DynamoComponentDeployment and
	// the apps/v1 Deployment of the same name (empty in the embedded environment).
	Components []Component
}

// Component is what the operator made of one service: a DynamoComponentDeployment (dcd) named
// <dgd>-<lowercase service key> and the Deployment it owns.
type Component struct {
	Service    string      `json:"service"`    // service key
	Name       string      `json:"name"`       // DCD (and Deployment) name
	Exists     bool        `json:"exists"`     // the DCD exists
	Conditions []Condition `json:"conditions"` // the DCD's status conditions
	Desired    int         `json:"desired"`    // the Deployment's replicas, -1 when there is none
	Ready      int         `json:"ready"`      // its ready replicas
}

// Pod is one pod of a deployment (or one local process).
type Pod struct {
	Name            string    `json:"name,omitempty"`
	Namespace       string    `json:"namespace,omitempty"`
	Deployment      string    `json:"deployment,omitempty"`
	Component       string    `json:"component,omitempty"` // service key
	ComponentType   string    `json:"componentType,omitempty"`
	Phase           string    `json:"phase,omitempty"` // Pending, Running, Succeeded, Failed, Unknown
	Ready           bool      `json:"ready,omitempty"`
	Restarts        int       `json:"restarts,omitempty"`
	Node            string    `json:"node,omitempty"`
	GPUs            int       `json:"gpus,omitempty"`
	Created         time.Time `json:"created"`
	Reason          string    `json:"reason,omitempty"` // waiting or termination reason now (ImagePullBackOff, CrashLoopBackOff, Unschedulable…)
	Message         string    `json:"message,omitempty"`
	LastTermination string    `json:"lastTermination,omitempty"` // reason of the last container termination
	PID             int       `json:"pid,omitempty"`             // embedded environment only
	Endpoint        string    `json:"endpoint,omitempty"`        // embedded environment only: the process's base URL
}

// Condition is a status condition of a deployment.
type Condition struct {
	Type           string    `json:"type"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason"`
	Message        string    `json:"message"`
	LastTransition time.Time `json:"lastTransition"`
}

// Event is a Kubernetes event (or an embedded-environment event) about a deployment or its pods.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // Normal, Warning
	Reason  string    `json:"reason"`
	Object  string    `json:"object"` // kind/name
	Message string    `json:"message"`
	Count   int       `json:"count"`
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
	APIVersion  string // DGD version to render: "v1alpha1" or "v1beta1"; "" means v1beta1
	// CreateHFSecret creates a missing hf-token-secret from $HF_TOKEN before applying; the token is
	// never printed or logged.
	CreateHFSecret bool
}

// Check is one prerequisite check run before a deploy.
type Check struct {
	Name     string `json:"name,omitempty"`
	OK       bool   `json:"oK,omitempty"`
	Blocking bool   `json:"blocking,omitempty"` // a failed blocking check stops the deploy
	Message  string `json:"message,omitempty"`  // what was found
	Fix      string `json:"fix,omitempty"`      // what to do about it
}

// Preview is a deploy request rendered but not applied.
type Preview struct {
	Manifest string  `json:"manifest"` // YAML
	Diff     string  `json:"diff"`     // unified diff against the live object; "" when new or unchanged
	Exists   bool    `json:"exists"`
	Checks   []Check `json:"checks"`
}

// Progress is one step of a deploy or delete.
type Progress struct {
	Time    time.Time `json:"time"`
	Phase   string    `json:"phase,omitempty"` // checks, apply, waiting, ready, failed, deleting, gone, timeout
	Message string    `json:"message,omitempty"`
	State   State     `json:"state"`
	Pods    []Pod     `json:"pods,omitempty"`  // pod-level detail when it explains the wait
	Done    bool      `json:"done,omitempty"`  // the last event
	Err     error     `json:"-"`               // set on the final event when it failed
	Check   *Check    `json:"check,omitempty"` // phase "checks": the prerequisite check this event reports
	Error   string    `json:"error,omitempty"` // Err as text, for -o json (set by the client-go implementation)
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
	Time time.Time `json:"time"`
	Pod  string    `json:"pod,omitempty"`
	Text string    `json:"text,omitempty"`
	// Err marks a stream problem (dropped, reconnecting); Text then explains it.
	Err bool `json:"err,omitempty"`
}

// GPUReport is the GPU inventory.
type GPUReport struct {
	Nodes []GPUNode `json:"nodes"`
	// Local describes the CPU runtime in the embedded environment when no GPU is present.
	Local *LocalRuntime `json:"local,omitempty"`
	// Note explains missing sources, e.g. "metrics-server not installed", "no DCGM exporter".
	Note string `json:"note,omitempty"`
}

// GPUNode is one node's GPUs.
type GPUNode struct {
	Name         string   `json:"name"`
	Pool         string   `json:"pool"` // karpenter.sh/nodepool
	InstanceType string   `json:"instanceType"`
	Product      string   `json:"product"` // nvidia.com/gpu.product
	Capacity     int      `json:"capacity"`
	Allocatable  int      `json:"allocatable"`
	Requested    int      `json:"requested"`
	Holders      []string `json:"holders"` // deployments holding GPUs here
	// From DCGM when present; negative when unknown.
	Utilization float64 `json:"utilization"`
	MemUsedMiB  float64 `json:"memUsedMiB"`
	MemTotalMiB float64 `json:"memTotalMiB"`
	CPUMilli    int64   `json:"cpuMilli"` // from metrics.k8s.io, -1 when unknown
	MemoryBytes int64   `json:"memoryBytes"`
}

// LocalRuntime is what the embedded environment's CPU runtime uses.
type LocalRuntime struct {
	Threads     int   `json:"threads"`
	WeightBytes int64 `json:"weightBytes"`
	KVTokens    int   `json:"kvTokens"` // KV pool capacity in tokens
	KVUsed      int   `json:"kvUsed"`
}

// WorkerStats are one worker's prefix-cache and load figures.
type WorkerStats struct {
	Pod    string `json:"pod"`
	Role   string `json:"role"`   // worker, prefill, decode
	Source string `json:"source"` // where the load figures come from: "metrics" or "logs"
	// CacheSource is where the cache figures (hit rate, token usage, cached/prompt tokens) come from:
	// "metrics", or "logs" when /metrics has no cache figure (SGLang's metrics off, 0.5.0's start-up
	// zeros, no scrape at all) and the worker's SGLang lines were parsed instead; "" when neither had
	// any. CacheNote says why, in a few words.
	CacheSource   string        `json:"cacheSource"`
	CacheNote     string        `json:"cacheNote,omitempty"`
	At            time.Time     `json:"at"`
	CacheHitRate  float64       `json:"cacheHitRate"` // cumulative cached / prompt tokens when counters exist
	TokenUsage    float64       `json:"tokenUsage"`
	Running       int           `json:"running"`
	Queued        int           `json:"queued"`
	GenThroughput float64       `json:"genThroughput"` // tokens/s
	TTFT          time.Duration `json:"ttftNs"`
	CachedTokens  float64       `json:"cachedTokens"` // cumulative
	PromptTokens  float64       `json:"promptTokens"` // cumulative
	// Frontend: requests answered and, of them, failed (dynamo_frontend_requests_total by status and
	// error_type), cumulative.
	Requests float64 `json:"requests,omitempty"`
	Errors   float64 `json:"errors,omitempty"`
}

// ErrNotFound is returned when a named deployment does not exist.
var ErrNotFound = errors.New("not found")
