package kubefake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/radixops/radix/kube"
)

// Cluster is the fake. The zero value is not usable; call New.
type Cluster struct {
	mu       sync.Mutex
	info     kube.Info
	deps     map[key]*entry
	watchers map[int]*watcher
	logSubs  map[int]*logSub
	nextID   int
	gpus     kube.GPUReport
	stats    map[key][]kube.WorkerStats
	denied   map[kube.Action]bool
	checks   []kube.Check
	profiles map[string]Profile
	endpts   map[key]string
	serve    bool
	fronts   map[key]*frontend

	// Now is the clock used for created times and log lines; tests may fix it.
	Now func() time.Time
	// StepDelay separates the progress steps of Deploy and Delete.
	StepDelay time.Duration
	// FailDeploys makes every deploy end failed with this reason when non-empty.
	FailDeploys string
	// MaxHistory bounds the stored log lines per deployment.
	MaxHistory int
}

type key struct{ ns, name string }

type entry struct {
	d          kube.Deployment
	pods       []kube.Pod
	conditions []kube.Condition
	events     []kube.Event
	manifest   string
	logs       []kube.LogLine
}

type watcher struct {
	ns string
	ch chan kube.Snapshot
}

type logSub struct {
	ns, dep, pod string
	ctx          context.Context
	ch           chan kube.LogLine
	// mu is held by whoever sends on ch, and by the closer, so ch is never closed under a sender.
	mu     sync.Mutex
	closed bool
}

// Profile is what the fake knows about a deployable profile: the services it creates.
type Profile struct {
	Name     string
	Backend  string
	Model    string
	PageSize int
	Services []kube.Service
}

// New returns an empty fake cluster described by info.
func New(info kube.Info) *Cluster {
	return &Cluster{
		info:       info,
		deps:       map[key]*entry{},
		watchers:   map[int]*watcher{},
		logSubs:    map[int]*logSub{},
		stats:      map[key][]kube.WorkerStats{},
		denied:     map[kube.Action]bool{},
		profiles:   map[string]Profile{},
		endpts:     map[key]string{},
		fronts:     map[key]*frontend{},
		Now:        time.Now,
		StepDelay:  50 * time.Millisecond,
		MaxHistory: 10000,
	}
}

// Info implements kube.Cluster.
func (c *Cluster) Info() kube.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// SetReadOnly switches read-only mode, which Allowed honours for every mutating action.
func (c *Cluster) SetReadOnly(ro bool) {
	c.mu.Lock()
	c.info.ReadOnly = ro
	c.mu.Unlock()
}

// Deny makes Allowed refuse action in every namespace, as RBAC would.
func (c *Cluster) Deny(a kube.Action) {
	c.mu.Lock()
	c.denied[a] = true
	c.mu.Unlock()
}

// AddProfile registers a profile that Preview and Deploy accept.
func (c *Cluster) AddProfile(p Profile) {
	c.mu.Lock()
	c.profiles[p.Name] = p
	c.mu.Unlock()
}

// SetChecks sets the prerequisite checks Preview and Deploy report.
func (c *Cluster) SetChecks(checks []kube.Check) {
	c.mu.Lock()
	c.checks = slices.Clone(checks)
	c.mu.Unlock()
}

// SetGPUs sets the inventory GPUs returns.
func (c *Cluster) SetGPUs(r kube.GPUReport) {
	c.mu.Lock()
	c.gpus = r
	c.mu.Unlock()
}

// SetStats sets the worker statistics CacheStats returns for a deployment.
func (c *Cluster) SetStats(ns, name string, s []kube.WorkerStats) {
	c.mu.Lock()
	c.stats[key{ns, name}] = slices.Clone(s)
	c.mu.Unlock()
}

// SetEndpoint sets the base URL Endpoint returns for a deployment.
func (c *Cluster) SetEndpoint(ns, name, url string) {
	c.mu.Lock()
	c.endpts[key{ns, name}] = url
	c.mu.Unlock()
}

// Upsert adds or replaces a deployment with its pods, and tells every watcher.
func (c *Cluster) Upsert(d kube.Deployment, pods []kube.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{d.Namespace, d.Name}
	e := c.deps[k]
	if e == nil {
		e = &entry{}
		c.deps[k] = e
	}
	if d.Created.IsZero() {
		d.Created = c.Now()
	}
	d.Pods = len(pods)
	e.d = d
	e.pods = slices.Clone(pods)
	e.manifest = renderManifest(d)
	e.conditions = readyConditions(d, c.Now())
	c.notifyLocked()
}

// SetState changes a deployment's state and Ready message, and tells every watcher.
func (c *Cluster) SetState(ns, name string, s kube.State, reason, message string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.deps[key{ns, name}]
	if e == nil {
		return fmt.Errorf("setting state of %s/%s: %w", ns, name, kube.ErrNotFound)
	}
	e.d.State, e.d.Reason, e.d.Message = s, reason, message
	for i := range e.d.Services {
		if s == kube.StateSuccessful {
			e.d.Services[i].Ready = e.d.Services[i].Replicas
		}
	}
	e.conditions = readyConditions(e.d, c.Now())
	c.notifyLocked()
	return nil
}

// Remove deletes a deployment outright, and tells every watcher.
func (c *Cluster) Remove(ns, name string) {
	c.mu.Lock()
	delete(c.deps, key{ns, name})
	c.notifyLocked()
	c.mu.Unlock()
}

// AddEvent records an event about a deployment.
func (c *Cluster) AddEvent(ns, name string, ev kube.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.deps[key{ns, name}]; e != nil {
		e.events = append(e.events, ev)
	}
}

// AppendLog adds a line to a pod's log and delivers it to every follower of it. It blocks while a
// follower's stream is full, as a real log stream pushes back; a cancelled follower never blocks it.
func (c *Cluster) AppendLog(ns, dep, pod, text string) {
	c.AppendLogLine(ns, dep, kube.LogLine{Time: c.Now(), Pod: pod, Text: text})
}

// AppendLogLine is AppendLog with the whole line given.
func (c *Cluster) AppendLogLine(ns, dep string, l kube.LogLine) {
	c.mu.Lock()
	if e := c.deps[key{ns, dep}]; e != nil {
		e.logs = append(e.logs, l)
		if over := len(e.logs) - c.MaxHistory; over > 0 {
			e.logs = slices.Delete(e.logs, 0, over)
		}
	}
	var subs []*logSub
	for _, s := range c.logSubs {
		if s.ns == ns && s.dep == dep && (s.pod == "" || s.pod == l.Pod) {
			subs = append(subs, s)
		}
	}
	c.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		if !s.closed {
			select {
			case s.ch <- l:
			case <-s.ctx.Done():
			}
		}
		s.mu.Unlock()
	}
}

// Deployments returns a copy of the current list, sorted by namespace and name.
func (c *Cluster) Deployments() []kube.Deployment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listLocked("")
}

func (c *Cluster) listLocked(ns string) []kube.Deployment {
	out := make([]kube.Deployment, 0, len(c.deps))
	for _, e := range c.deps {
		if ns == "" || e.d.Namespace == ns {
			d := e.d
			d.Services = slices.Clone(d.Services)
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// notifyLocked sends a fresh snapshot to every watcher. A watcher that has not read the previous one
// gets only the newest: snapshots are whole lists, so skipping one loses nothing.
func (c *Cluster) notifyLocked() {
	now := c.Now()
	for _, w := range c.watchers {
		s := kube.Snapshot{Deployments: c.listLocked(w.ns), At: now}
		select {
		case w.ch <- s:
		default:
			select {
			case <-w.ch:
			default:
			}
			w.ch <- s // only senders hold c.mu, so the slot just freed is ours
		}
	}
}

// Watch implements kube.Cluster.
func (c *Cluster) Watch(ctx context.Context, namespace string) (<-chan kube.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	w := &watcher{ns: namespace, ch: make(chan kube.Snapshot, 1)}
	c.watchers[id] = w
	w.ch <- kube.Snapshot{Deployments: c.listLocked(namespace), At: c.Now()}
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		delete(c.watchers, id)
		close(w.ch)
		c.mu.Unlock()
	}()
	return w.ch, nil
}

// Describe implements kube.Cluster.
func (c *Cluster) Describe(_ context.Context, namespace, name string) (*kube.Detail, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.deps[key{namespace, name}]
	if e == nil {
		return nil, fmt.Errorf("describing %s/%s: %w", namespace, name, kube.ErrNotFound)
	}
	d := e.d
	d.Services = slices.Clone(d.Services)
	var comps []kube.Component
	for _, s := range d.Services {
		comps = append(comps, kube.Component{Service: s.Name, Name: d.Name + "-" + strings.ToLower(s.Name),
			Exists: true, Desired: s.Replicas, Ready: s.Ready})
	}
	return &kube.Detail{
		Deployment: d,
		Pods:       slices.Clone(e.pods),
		Conditions: slices.Clone(e.conditions),
		Events:     slices.Clone(e.events),
		Manifest:   e.manifest,
		Components: comps,
	}, nil
}

func (c *Cluster) validate(req kube.DeployRequest) (Profile, error) {
	if req.Name == "" {
		return Profile{}, errors.New("deploy request has no name")
	}
	if req.Namespace == "" {
		return Profile{}, errors.New("deploy request has no namespace")
	}
	p, ok := c.profiles[req.Profile]
	if !ok {
		return Profile{}, fmt.Errorf("unknown profile %q", req.Profile)
	}
	return p, nil
}

func (c *Cluster) build(p Profile, req kube.DeployRequest) kube.Deployment {
	d := kube.Deployment{
		Name: req.Name, Namespace: req.Namespace, Backend: p.Backend, Profile: p.Name,
		State: kube.StatePending, Model: p.Model, PageSize: p.PageSize,
		Services: slices.Clone(p.Services),
	}
	for k, v := range req.Overrides {
		switch k {
		case "model":
			d.Model = v
		case "pageSize":
			fmt.Sscan(v, &d.PageSize)
		}
	}
	for _, s := range d.Services {
		d.GPUs += s.GPUs * s.Replicas
	}
	return d
}

// Preview implements kube.Cluster.
func (c *Cluster) Preview(_ context.Context, req kube.DeployRequest) (*kube.Preview, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.validate(req)
	if err != nil {
		return nil, fmt.Errorf("previewing %s/%s: %w", req.Namespace, req.Name, err)
	}
	d := c.build(p, req)
	pv := &kube.Preview{Manifest: renderManifest(d), Checks: slices.Clone(c.checks)}
	if e := c.deps[key{req.Namespace, req.Name}]; e != nil {
		pv.Exists = true
		pv.Diff, _ = kube.TextDiff(e.manifest, pv.Manifest, "live", "rendered") // difflib fails only on a broken writer
	}
	return pv, nil
}

// Deploy implements kube.Cluster: checks, apply, then pending → initializing → successful (or failed
// when FailDeploys is set, or a blocking check fails), one step every StepDelay.
func (c *Cluster) Deploy(ctx context.Context, req kube.DeployRequest) (<-chan kube.Progress, error) {
	c.mu.Lock()
	p, err := c.validate(req)
	checks := slices.Clone(c.checks)
	fail := c.FailDeploys
	delay := c.StepDelay
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("deploying %s/%s: %w", req.Namespace, req.Name, err)
	}
	ch := make(chan kube.Progress, 8)
	go func() {
		defer close(ch)
		send := func(pr kube.Progress) bool {
			pr.Time = c.Now()
			select {
			case ch <- pr:
				return true
			case <-ctx.Done():
				return false
			}
		}
		sleep := func() bool {
			select {
			case <-time.After(delay):
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, ch := range checks {
			if !ch.OK && ch.Blocking {
				err := fmt.Errorf("check %s failed: %s (fix: %s)", ch.Name, ch.Message, ch.Fix)
				send(kube.Progress{Phase: "failed", Message: err.Error(), State: kube.StateFailed, Done: true, Err: err})
				return
			}
		}
		if !send(kube.Progress{Phase: "checks", Message: fmt.Sprintf("%d checks passed", len(checks))}) || !sleep() {
			return
		}
		d := c.build(p, req)
		d.Created = c.Now()
		pods := podsFor(d, c.Now())
		for i := range pods {
			pods[i].Phase, pods[i].Ready = "Pending", false
		}
		c.Upsert(d, pods)
		if !send(kube.Progress{Phase: "apply", Message: "applied DynamoGraphDeployment " + d.Name, State: kube.StatePending}) || !sleep() {
			return
		}
		_ = c.SetState(d.Namespace, d.Name, kube.StateInitializing, "some_resources_are_not_ready", "Resources not ready: pods starting")
		if !send(kube.Progress{Phase: "waiting", Message: "waiting for pods", State: kube.StateInitializing, Pods: slices.Clone(pods)}) || !sleep() {
			return
		}
		if fail != "" {
			_ = c.SetState(d.Namespace, d.Name, kube.StateFailed, "some_resources_are_not_ready", fail)
			err := fmt.Errorf("deployment %s failed: %s", d.Name, fail)
			send(kube.Progress{Phase: "failed", Message: fail, State: kube.StateFailed, Done: true, Err: err})
			return
		}
		for i := range pods {
			pods[i].Phase, pods[i].Ready = "Running", true
		}
		d.State, d.Reason, d.Message = kube.StateSuccessful, "all_resources_are_ready", "All resources are ready"
		for i := range d.Services {
			d.Services[i].Ready = d.Services[i].Replicas
		}
		c.Upsert(d, pods)
		send(kube.Progress{Phase: "ready", Message: d.Name + " is ready", State: kube.StateSuccessful, Done: true})
	}()
	return ch, nil
}

// Delete implements kube.Cluster.
func (c *Cluster) Delete(ctx context.Context, namespace, name string, wait bool) (<-chan kube.Progress, error) {
	if err := c.SetState(namespace, name, kube.StateDeleting, "deleting", "deletion requested"); err != nil {
		return nil, fmt.Errorf("deleting: %w", err)
	}
	ch := make(chan kube.Progress, 4)
	go func() {
		defer close(ch)
		ch <- kube.Progress{Time: c.Now(), Phase: "deleting", Message: "deleting " + namespace + "/" + name, State: kube.StateDeleting}
		if wait {
			select {
			case <-time.After(c.StepDelay):
			case <-ctx.Done():
				return
			}
		}
		c.Remove(namespace, name)
		ch <- kube.Progress{Time: c.Now(), Phase: "gone", Message: name + " deleted", Done: true}
	}()
	return ch, nil
}

// Logs implements kube.Cluster: the stored history (after Since, the last Tail lines per pod), then,
// with Follow, every line appended until ctx ends.
func (c *Cluster) Logs(ctx context.Context, req kube.LogRequest) (<-chan kube.LogLine, error) {
	c.mu.Lock()
	e := c.deps[key{req.Namespace, req.Deployment}]
	if e == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("logs of %s/%s: %w", req.Namespace, req.Deployment, kube.ErrNotFound)
	}
	var hist []kube.LogLine
	cut := time.Time{}
	if req.Since > 0 {
		cut = c.Now().Add(-req.Since)
	}
	perPod := map[string]int{}
	for i := len(e.logs) - 1; i >= 0; i-- {
		l := e.logs[i]
		if (req.Pod != "" && l.Pod != req.Pod) || l.Time.Before(cut) {
			continue
		}
		if req.Tail >= 0 && perPod[l.Pod] >= req.Tail && req.Tail != 0 {
			continue
		}
		perPod[l.Pod]++
		hist = append(hist, l)
	}
	slices.Reverse(hist)
	sub := &logSub{ns: req.Namespace, dep: req.Deployment, pod: req.Pod, ctx: ctx, ch: make(chan kube.LogLine, 1024)}
	id := c.nextID
	c.nextID++
	// The history is sent while holding sub.mu and the subscription is registered before c.mu is
	// released, so lines appended meanwhile wait and arrive after the history, in order.
	sub.mu.Lock()
	if req.Follow {
		c.logSubs[id] = sub
	}
	c.mu.Unlock()
	go func() {
		for _, l := range hist {
			select {
			case sub.ch <- l:
			case <-ctx.Done():
			}
		}
		sub.mu.Unlock()
		if req.Follow {
			<-ctx.Done()
			c.mu.Lock()
			delete(c.logSubs, id)
			c.mu.Unlock()
		}
		sub.mu.Lock()
		sub.closed = true
		close(sub.ch)
		sub.mu.Unlock()
	}()
	return sub.ch, nil
}

// GPUs implements kube.Cluster.
func (c *Cluster) GPUs(context.Context) (*kube.GPUReport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.gpus
	r.Nodes = slices.Clone(r.Nodes)
	return &r, nil
}

// CacheStats implements kube.Cluster.
func (c *Cluster) CacheStats(_ context.Context, namespace, name string) ([]kube.WorkerStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deps[key{namespace, name}] == nil {
		return nil, fmt.Errorf("cache stats of %s/%s: %w", namespace, name, kube.ErrNotFound)
	}
	return slices.Clone(c.stats[key{namespace, name}]), nil
}

// Endpoint implements kube.Cluster.
func (c *Cluster) Endpoint(_ context.Context, namespace, name string) (string, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{namespace, name}
	if u, ok := c.endpts[k]; ok {
		return u, func() {}, nil
	}
	e := c.deps[k]
	if !c.serve || e == nil || e.d.State != kube.StateSuccessful {
		return "", nil, fmt.Errorf("endpoint of %s/%s: no frontend is serving", namespace, name)
	}
	f := c.fronts[k]
	if f == nil {
		var err error
		if f, err = c.startFrontend(e.d); err != nil {
			return "", nil, err
		}
		c.fronts[k] = f
	}
	return f.url, func() {}, nil
}

// Allowed implements kube.Cluster.
func (c *Cluster) Allowed(_ context.Context, action kube.Action, _ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.denied[action] {
		return false
	}
	if c.info.ReadOnly {
		switch action {
		case kube.ActionDeploy, kube.ActionDelete, kube.ActionCreateSecret:
			return false
		}
	}
	return true
}

func readyConditions(d kube.Deployment, now time.Time) []kube.Condition {
	st, reason, msg := "False", d.Reason, d.Message
	if d.State == kube.StateSuccessful {
		st = "True"
	}
	if reason == "" {
		reason = string(d.State)
	}
	return []kube.Condition{{Type: "Ready", Status: st, Reason: reason, Message: msg, LastTransition: now}}
}

// renderManifest writes the deployment as a DynamoGraphDeployment-shaped YAML document.
func renderManifest(d kube.Deployment) string {
	services := map[string]any{}
	for _, s := range d.Services {
		svc := map[string]any{
			"componentType":   s.ComponentType,
			"dynamoNamespace": d.Name,
			"replicas":        s.Replicas,
		}
		if s.GPUs > 0 {
			svc["resources"] = map[string]any{"limits": map[string]any{"gpu": fmt.Sprint(s.GPUs)}}
		}
		if s.Args != "" {
			svc["extraPodSpec"] = map[string]any{"mainContainer": map[string]any{"args": []string{s.Args}}}
		}
		services[s.Name] = svc
	}
	obj := map[string]any{
		"apiVersion": "nvidia.com/v1alpha1",
		"kind":       "DynamoGraphDeployment",
		"metadata": map[string]any{
			"name": d.Name, "namespace": d.Namespace,
			"annotations": map[string]any{"radix.dev/profile": d.Profile},
		},
		"spec": map[string]any{"backendFramework": d.Backend, "services": services},
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "# " + err.Error()
	}
	return string(b)
}
