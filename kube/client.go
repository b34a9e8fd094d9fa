package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/radixops/radix/config"
)

// The Dynamo operator's resources (REFERENCE §2).
var (
	DGDResource = schema.GroupVersionResource{Group: config.Group, Version: config.Version, Resource: config.ResourceDGD}
	DCDResource = schema.GroupVersionResource{Group: config.Group, Version: config.Version, Resource: config.ResourceDCD}
)

// FieldManager is the server-side apply field manager radix applies as.
const FieldManager = "radix"

// Options says how to connect, as kubectl's flags do.
type Options struct {
	Kubeconfig string // path; "" means $KUBECONFIG or ~/.kube/config (or in-cluster config)
	Context    string // kubeconfig context; "" means the current one
	Namespace  string // default namespace; "" means the context's, else config.DefaultNamespace
	ReadOnly   bool   // disable every mutating action
	// Render turns a deploy request into a DGD; nil means the profile catalog of the config package.
	Render Renderer
	// Rest, when set, is used instead of loading a kubeconfig (tests, embedding).
	Rest *rest.Config
	// ProbeTimeout bounds the reachability check of Connect (default 10 s).
	ProbeTimeout time.Duration
}

// Renderer renders a deploy request into the object to apply.
type Renderer func(req DeployRequest, namespace string) (*Rendered, error)

// Rendered is a deploy request turned into a DGD.
type Rendered struct {
	Object   map[string]any // the DGD as unstructured content
	Manifest string         // the same as YAML, as shown to the user
	Checks   []Check        // blueprint defects found while rendering (warnings)
}

// KubeCluster is the client-go implementation of Cluster.
type KubeCluster struct {
	info   Info
	config *rest.Config
	cs     kubernetes.Interface
	dyn    dynamic.Interface
	render Renderer

	// pods is the client for the paths that end at a kubelet or a pod (logs, the pod proxy,
	// port-forward); it is cs except in tests, where those are served by httptest servers because no
	// kubelet runs.
	pods       kubernetes.Interface
	podsConfig *rest.Config
	metrics    metricsclient.Interface

	health *connHealth

	allowMu    sync.Mutex
	allowCache map[string]allowEntry

	// getenv reads the environment ($HF_TOKEN); replaceable in tests.
	getenv func(string) string
}

var _ Cluster = (*KubeCluster)(nil)

// ConnectError says which context and server could not be used, and why.
type ConnectError struct {
	Context string
	Server  string
	Err     error
}

func (e *ConnectError) Error() string {
	where := fmt.Sprintf("context %q", e.Context)
	if e.Context == "" {
		where = "the current kubeconfig context"
	}
	if e.Server != "" {
		where += fmt.Sprintf(" (server %s)", e.Server)
	}
	return fmt.Sprintf("connecting to %s: %v", where, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Connect loads a kubeconfig like kubectl (explicit path, $KUBECONFIG, ~/.kube/config, in-cluster
// config; exec credential plugins such as `aws eks get-token` run through client-go), checks that the
// API server answers, and returns the cluster.
func Connect(ctx context.Context, opts Options) (*KubeCluster, error) {
	cfg := opts.Rest
	info := Info{Context: opts.Context, Namespace: opts.Namespace, ReadOnly: opts.ReadOnly}
	if cfg == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if opts.Kubeconfig != "" {
			rules.ExplicitPath = opts.Kubeconfig
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
		raw, rawErr := cc.RawConfig()
		if rawErr == nil {
			if info.Context == "" {
				info.Context = raw.CurrentContext
			}
			if kctx, ok := raw.Contexts[info.Context]; ok {
				if info.Namespace == "" {
					info.Namespace = kctx.Namespace
				}
				if cl, ok := raw.Clusters[kctx.Cluster]; ok {
					info.Server = cl.Server
				}
			}
		}
		var err error
		cfg, err = cc.ClientConfig()
		if err != nil {
			if clientcmd.IsEmptyConfig(err) {
				err = errors.New("no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a cluster")
			}
			return nil, &ConnectError{Context: info.Context, Server: info.Server, Err: err}
		}
		if info.Context == "" && rawErr == nil && len(raw.Contexts) == 0 {
			info.Context = "in-cluster"
		}
	}
	info.Server = cfg.Host
	if info.Namespace == "" {
		info.Namespace = config.DefaultNamespace
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cfg.UserAgent = "radix"
	c, err := newCluster(cfg, info, opts.Render)
	if err != nil {
		return nil, &ConnectError{Context: info.Context, Server: info.Server, Err: err}
	}
	timeout := opts.ProbeTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if err := c.probe(ctx, timeout); err != nil {
		return nil, &ConnectError{Context: info.Context, Server: info.Server, Err: err}
	}
	return c, nil
}

func newCluster(cfg *rest.Config, info Info, render Renderer) (*KubeCluster, error) {
	health := newConnHealth()
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &healthRoundTripper{next: rt, h: health} })
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building clientset: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building dynamic client: %w", err)
	}
	mc, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building metrics client: %w", err)
	}
	if render == nil {
		render = CatalogRenderer
	}
	return &KubeCluster{
		info: info, config: cfg, cs: cs, dyn: dyn, render: render,
		pods: cs, podsConfig: cfg, metrics: mc, health: health,
		allowCache: map[string]allowEntry{}, getenv: os.Getenv,
	}, nil
}

// probe asks the API server for its version: the cheapest call every user may make.
func (c *KubeCluster) probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := c.cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx)
	if err := res.Error(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("the API server did not answer within %v: %w", timeout, err)
		}
		return fmt.Errorf("the API server did not answer: %w", err)
	}
	return nil
}

// Info names the target.
func (c *KubeCluster) Info() Info { return c.info }

// Clientset is the typed client (for callers that need what the interface does not offer).
func (c *KubeCluster) Clientset() kubernetes.Interface { return c.cs }

// Dynamic is the dynamic client.
func (c *KubeCluster) Dynamic() dynamic.Interface { return c.dyn }

// SetPodClient points the kubelet- and pod-bound paths (logs, pod proxy, port-forward) at another
// server; tests use it because no kubelet runs next to the test API server.
func (c *KubeCluster) SetPodClient(cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building pod client: %w", err)
	}
	c.pods, c.podsConfig = cs, cfg
	return nil
}

// SetMetricsClient replaces the metrics.k8s.io client (tests serve it from an httptest server).
func (c *KubeCluster) SetMetricsClient(cfg *rest.Config) error {
	mc, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building metrics client: %w", err)
	}
	c.metrics = mc
	return nil
}

// SetGetenv replaces the environment lookup (tests supply $HF_TOKEN without touching the process).
func (c *KubeCluster) SetGetenv(f func(string) string) { c.getenv = f }

func (c *KubeCluster) ns(namespace string) string {
	if namespace == "" {
		return c.info.Namespace
	}
	return namespace
}
