package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/radixops/radix/config"
	"github.com/radixops/radix/inference/fleet/demo"
	"github.com/radixops/radix/inference/telemetry"
	"github.com/radixops/radix/kube"
)

// Options configure the embedded environment.
type Options struct {
	// StateDir holds deployments, logs and the extracted demo model ($XDG_STATE_HOME/radix).
	StateDir string
	// Binary is the radix executable the processes run (default: this executable).
	Binary string
	// Namespace is the default namespace (default dynamo-cloud, as the blueprints).
	Namespace string
	// Refresh is how often Watch re-probes processes (default 1 s).
	Refresh time.Duration
	// Grace is how long Delete waits after SIGTERM before SIGKILL (default 10 s).
	Grace time.Duration
	// ReadOnly disables every mutating action.
	ReadOnly bool
	// Env is added to every process's environment.
	Env []string
}

// Fleet is the embedded environment; it implements kube.Cluster.
type Fleet struct {
	opts  Options
	store store
}

var _ kube.Cluster = (*Fleet)(nil)

// Open prepares the embedded environment under opts.StateDir; it starts nothing.
func Open(opts Options) (*Fleet, error) {
	if opts.StateDir == "" {
		return nil, errors.New("embedded environment: no state directory")
	}
	if opts.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("embedded environment: finding the radix executable: %w", err)
		}
		opts.Binary = exe
	}
	if opts.Namespace == "" {
		opts.Namespace = "dynamo-cloud"
	}
	if opts.Refresh <= 0 {
		opts.Refresh = time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(opts.StateDir, "deployments"), 0o755); err != nil {
		return nil, fmt.Errorf("embedded environment: %w", err)
	}
	return &Fleet{opts: opts, store: store{root: opts.StateDir}}, nil
}

// Info describes the embedded environment.
func (f *Fleet) Info() kube.Info {
	return kube.Info{Context: kube.EmbeddedContext, Server: f.opts.StateDir, Namespace: f.opts.Namespace, Embedded: true, ReadOnly: f.opts.ReadOnly}
}

// Allowed permits everything but in read-only mode, where only reading is.
func (f *Fleet) Allowed(_ context.Context, a kube.Action, _ string) bool {
	return !(f.opts.ReadOnly && kube.Mutating(a))
}

// snapshot probes every deployment in ns once.
func (f *Fleet) snapshot(ctx context.Context, ns string) kube.Snapshot {
	deps, errs := f.store.list(ns)
	snap := kube.Snapshot{At: time.Now(), Deployments: []kube.Deployment{}}
	for _, d := range deps {
		for _, p := range d.Processes {
			_ = rotate(f.store.logPath(d, p)) // a log that can't be rotated keeps growing; nothing else breaks
		}
		kd, _ := view(d, probe(ctx, d), f.store)
		snap.Deployments = append(snap.Deployments, kd)
	}
	if len(errs) > 0 {
		snap.Err = errors.Join(errs...)
	}
	return snap
}

// Watch probes the deployments every refresh and sends a snapshot whenever something changed.
// Processes are not the console's children after a restart, so there is nothing to subscribe to:
// probing the pid and /health is the watch.
func (f *Fleet) Watch(ctx context.Context, namespace string) (<-chan kube.Snapshot, error) {
	ch := make(chan kube.Snapshot, 1)
	go func() {
		defer close(ch)
		var last []kube.Deployment
		first := true
		t := time.NewTicker(f.opts.Refresh)
		defer t.Stop()
		for {
			s := f.snapshot(ctx, namespace)
			if first || !reflect.DeepEqual(s.Deployments, last) || s.Err != nil {
				first, last = false, s.Deployments
				select {
				case ch <- s:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch, nil
}

// Describe returns a deployment with its processes, conditions, events and state as YAML.
func (f *Fleet) Describe(ctx context.Context, namespace, name string) (*kube.Detail, error) {
	d, err := f.store.load(f.ns(namespace), name)
	if err != nil {
		return nil, err
	}
	kd, pods := view(d, probe(ctx, d), f.store)
	status := "False"
	if kd.State == kube.StateSuccessful {
		status = "True"
	}
	return &kube.Detail{
		Deployment: kd,
		Pods:       pods,
		Conditions: []kube.Condition{{Type: "Ready", Status: status, Reason: kd.Reason, Message: kd.Message}},
		Events:     slices.Clone(d.Events),
		Manifest:   manifest(d),
	}, nil
}

// manifest is the DynamoGraphDeployment a deployment stands for, as a cluster would hold it: the
// v1beta1 render of its request through the same renderer the cluster layer uses. The local processes
// (ports, pids, the model file actually loaded) are state, not manifest, and stay out of it.
func manifest(d *Deployment) string {
	r, err := kube.CatalogRenderer(kube.DeployRequest{Profile: d.Profile, Name: d.Name, Namespace: d.Namespace,
		Overrides: d.Overrides, AsPublished: d.AsPublished, APIVersion: config.VersionV1Beta1}, d.Namespace)
	if err != nil {
		// A user profile deleted or broken since the deploy: say so where the manifest would be.
		return fmt.Sprintf("# DynamoGraphDeployment %s: profile %s no longer renders: %v\n", d.Name, d.Profile, err)
	}
	return r.Manifest
}

func (f *Fleet) ns(namespace string) string {
	if namespace == "" {
		return f.opts.Namespace
	}
	return namespace
}

// plan resolves a deploy request into a deployment to start (ports chosen, nothing started).
func (f *Fleet) plan(req kube.DeployRequest) (*Deployment, []kube.Check, error) {
	overrides := maps.Clone(req.Overrides)
	if overrides == nil {
		overrides = map[string]string{}
	}
	if req.Name != "" {
		overrides["name"] = req.Name
	}
	overrides["namespace"] = f.ns(req.Namespace)
	if req.Namespace == "" {
		if ns, ok := req.Overrides["namespace"]; ok {
			overrides["namespace"] = ns
		}
	}
	spec, err := config.Resolve(req.Profile, overrides)
	if err != nil {
		return nil, nil, err
	}
	plan := config.LocalPlan(spec)
	d := &Deployment{
		Name: spec.Name(), Namespace: spec.Namespace(), Profile: req.Profile, Overrides: req.Overrides,
		AsPublished: req.AsPublished, Binary: f.opts.Binary, Created: time.Now(),
	}
	var checks []kube.Check

	// The model: a path the user gave, else the demo model in place of the blueprint's hub model.
	blueprintModel := ""
	for _, p := range plan {
		if p.Model != "" {
			blueprintModel = p.Model
			break
		}
	}
	if st, err := os.Stat(blueprintModel); blueprintModel != "" && err == nil && (st.IsDir() || st.Mode().IsRegular()) {
		abs, _ := filepath.Abs(blueprintModel)
		d.Model = abs
		checks = append(checks, kube.Check{Name: "model", OK: true, Message: "serving " + abs})
	} else {
		d.ModelNote = fmt.Sprintf("%s is not on this machine, so the embedded environment serves radix's demo model; --set model=PATH serves a model directory or GGUF file you have", blueprintModel)
		checks = append(checks, kube.Check{Name: "model", OK: true, Message: d.ModelNote})
	}
	if _, err := os.Stat(f.opts.Binary); err != nil {
		checks = append(checks, kube.Check{Name: "runtime", Blocking: true, Message: "radix executable " + f.opts.Binary + " not found", Fix: "rebuild radix"})
	} else {
		checks = append(checks, kube.Check{Name: "runtime", OK: true, Message: f.opts.Binary})
	}
	if _, err := f.store.load(d.Namespace, d.Name); err == nil {
		checks = append(checks, kube.Check{Name: "name", Blocking: true, Message: fmt.Sprintf("deployment %s already exists in namespace %s", d.Name, d.Namespace), Fix: "delete it first, or choose another --name"})
	} else {
		checks = append(checks, kube.Check{Name: "name", OK: true, Message: d.Name + " is free"})
	}

	taken := f.portsInUse()
	var frontendURL string
	for _, p := range plan {
		for r := range p.Replicas {
			port, err := freePort(taken)
			if err != nil {
				return nil, nil, err
			}
			args := append([]string{"serve"}, p.Args...)
			args = append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--namespace", d.Name)
			proc := Process{
				Pod:     fmt.Sprintf("%s-%s-%d", d.Name, strings.ToLower(p.Service), r),
				Service: p.Service, Role: p.Role, Replica: r, Port: port,
			}
			proc.LogFile = filepath.Join("logs", proc.Pod+".log")
			if p.Role == config.RoleFrontend {
				frontendURL = proc.URL()
			} else {
				served := flagOf(p.Args, "--served-model-name")
				if d.ModelNote != "" {
					served = demo.Name
					args = setFlag(args, "--served-model-name", served)
				}
				d.ServedModel = served
				if ps, err := strconv.Atoi(flagOf(p.Args, "--page-size")); err == nil {
					d.PageSize = ps
				}
				if p.Role == "prefill" || p.Role == "decode" {
					tp, err := freePort(taken)
					if err != nil {
						return nil, nil, err
					}
					proc.TransferPort = tp
					args = append(args, "--transfer-port", strconv.Itoa(tp))
				}
			}
			proc.Args = args
			d.Processes = append(d.Processes, proc)
		}
	}
	// Workers learn the frontend and the model only once every port is known.
	for i := range d.Processes {
		if d.Processes[i].Role != config.RoleFrontend {
			d.Processes[i].Args = append(d.Processes[i].Args, "--frontend", frontendURL)
		}
	}
	return d, checks, nil
}

// modelArgs are added when the process starts: the demo model is extracted only for a real deploy.
func (f *Fleet) resolveModel(d *Deployment) error {
	if d.Model == "" {
		dir, err := demo.Extract(filepath.Join(f.opts.StateDir, "models"))
		if err != nil {
			return err
		}
		d.Model = dir
	}
	for i := range d.Processes {
		if d.Processes[i].Role != config.RoleFrontend {
			d.Processes[i].Args = append(d.Processes[i].Args, "--model", d.Model)
		}
	}
	return nil
}

func (f *Fleet) portsInUse() map[int]bool {
	taken := map[int]bool{}
	deps, _ := f.store.list("")
	for _, d := range deps {
		for _, p := range d.Processes {
			taken[p.Port] = true
			if p.TransferPort != 0 {
				taken[p.TransferPort] = true
			}
		}
	}
	return taken
}

func flagOf(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func setFlag(args []string, flag, value string) []string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			args[i+1] = value
			return args
		}
	}
	return append(args, flag, value)
}

// Preview shows the local plan, the checks, and a diff against a deployment of the same name.
func (f *Fleet) Preview(_ context.Context, req kube.DeployRequest) (*kube.Preview, error) {
	d, checks, err := f.plan(req)
	if err != nil {
		return nil, err
	}
	b := manifest(d)
	pv := &kube.Preview{Manifest: b, Checks: checks}
	if live, err := f.store.load(d.Namespace, d.Name); err == nil {
		pv.Exists = true
		if pv.Diff, err = kube.TextDiff(manifest(live), b, "live", "plan"); err != nil {
			return nil, err
		}
	}
	return pv, nil
}

// Deploy starts a profile's processes and reports progress until every one is healthy, one dies, or
// the timeout passes.
func (f *Fleet) Deploy(ctx context.Context, req kube.DeployRequest) (<-chan kube.Progress, error) {
	if f.opts.ReadOnly {
		return nil, errors.New("read-only mode: deploy is disabled")
	}
	d, checks, err := f.plan(req)
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		if c.Blocking && !c.OK {
			return nil, fmt.Errorf("%s: %s (%s)", c.Name, c.Message, c.Fix)
		}
	}
	if req.DryRun {
		ch := make(chan kube.Progress, 1)
		ch <- kube.Progress{Time: time.Now(), Phase: "checks", Message: "dry run: nothing started", Done: true}
		close(ch)
		return ch, nil
	}
	if err := f.store.create(d.Namespace, d.Name); err != nil {
		return nil, err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ch := make(chan kube.Progress, 16)
	go func() {
		defer close(ch)
		send := sender(ctx, ch)
		for _, c := range checks {
			send(kube.Progress{Phase: "checks", Message: fmt.Sprintf("%s: %s", c.Name, c.Message)})
		}
		fail := func(err error) {
			d.event("Warning", "Failed", "deployment/"+d.Name, err.Error())
			_ = f.store.save(d) // the state shows the failure even if this save fails to
			send(kube.Progress{Phase: "failed", State: kube.StateFailed, Message: err.Error(), Err: err, Done: true})
		}
		if err := f.resolveModel(d); err != nil {
			fail(err)
			return
		}
		d.event("Normal", "Created", "deployment/"+d.Name, "profile "+d.Profile)
		if err := f.store.save(d); err != nil {
			fail(err)
			return
		}
		env := append(slices.Clone(f.opts.Env), "DYNAMO_NAMESPACE="+d.Name)
		for i := range d.Processes {
			p := &d.Processes[i]
			s, err := startProcess(d.Binary, p.Args, env, f.store.logPath(d, *p))
			if err != nil {
				fail(fmt.Errorf("starting %s: %w", p.Pod, err))
				return
			}
			p.PID, p.StartTicks, p.Started = s.PID, s.Ticks, time.Now()
			d.event("Normal", "Started", "process/"+p.Pod, fmt.Sprintf("pid %d on port %d", p.PID, p.Port))
			if err := f.store.save(d); err != nil {
				fail(err)
				return
			}
			send(kube.Progress{Phase: "apply", Message: fmt.Sprintf("started %s (pid %d, %s)", p.Pod, p.PID, p.URL())})
		}
		deadline := time.Now().Add(timeout)
		lastMsg := ""
		for {
			kd, pods := view(d, probe(ctx, d), f.store)
			switch kd.State {
			case kube.StateSuccessful:
				d.event("Normal", "Ready", "deployment/"+d.Name, "all processes healthy")
				_ = f.store.save(d)
				send(kube.Progress{Phase: "ready", State: kd.State, Message: fmt.Sprintf("%s is ready: %s", d.Name, d.Processes[0].URL()), Pods: pods, Done: true})
				return
			case kube.StateFailed:
				var why []string
				for _, p := range pods {
					if p.Phase == "Failed" {
						why = append(why, p.Name+": "+p.Message)
					}
				}
				fail(errors.New(strings.Join(why, "\n")))
				return
			}
			if kd.Message != lastMsg {
				lastMsg = kd.Message
				send(kube.Progress{Phase: "waiting", State: kd.State, Message: kd.Message, Pods: pods})
			}
			if time.Now().After(deadline) {
				err := fmt.Errorf("not ready after %s: %s", timeout, kd.Message)
				d.event("Warning", "Timeout", "deployment/"+d.Name, err.Error())
				_ = f.store.save(d)
				send(kube.Progress{Phase: "timeout", State: kd.State, Message: err.Error(), Err: err, Pods: pods, Done: true})
				return
			}
			select {
			case <-ctx.Done():
				send(kube.Progress{Phase: "waiting", Message: "stopped watching; the deployment keeps starting", Err: ctx.Err(), Done: true})
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return ch, nil
}

// sender stamps progress events and sends them until ctx ends (a caller that stopped listening must not
// leave the deploy or delete blocked).
func sender(ctx context.Context, ch chan<- kube.Progress) func(kube.Progress) {
	return func(p kube.Progress) {
		p.Time = time.Now()
		select {
		case ch <- p:
		case <-ctx.Done():
		}
	}
}

// Delete stops the processes (workers first, then the frontend) and removes the state.
func (f *Fleet) Delete(ctx context.Context, namespace, name string, wait bool) (<-chan kube.Progress, error) {
	if f.opts.ReadOnly {
		return nil, errors.New("read-only mode: delete is disabled")
	}
	d, err := f.store.load(f.ns(namespace), name)
	if err != nil {
		return nil, err
	}
	d.Deleting = true
	if err := f.store.save(d); err != nil {
		return nil, err
	}
	ch := make(chan kube.Progress, len(d.Processes)+2)
	go func() {
		defer close(ch)
		send := sender(ctx, ch)
		for i := len(d.Processes) - 1; i >= 0; i-- {
			p := d.Processes[i]
			killed := stopProcess(p.PID, p.StartTicks, f.opts.Grace)
			msg := "stopped " + p.Pod
			if killed {
				msg += fmt.Sprintf(" (killed after %s)", f.opts.Grace)
			}
			send(kube.Progress{Phase: "deleting", State: kube.StateDeleting, Message: msg})
		}
		var left []string
		for _, p := range d.Processes {
			if alive(p.PID, p.StartTicks) {
				left = append(left, fmt.Sprintf("%s (pid %d)", p.Pod, p.PID))
			}
		}
		if len(left) > 0 {
			err := fmt.Errorf("still running: %s", strings.Join(left, ", "))
			send(kube.Progress{Phase: "failed", Message: err.Error(), Err: err, Done: true})
			return
		}
		if err := f.store.remove(d.Namespace, d.Name); err != nil {
			send(kube.Progress{Phase: "failed", Message: err.Error(), Err: err, Done: true})
			return
		}
		send(kube.Progress{Phase: "gone", Message: fmt.Sprintf("%s deleted", d.Name), Done: true})
	}()
	return ch, nil
}

// Logs reads, and with Follow keeps reading, the logs of a deployment's processes.
func (f *Fleet) Logs(ctx context.Context, req kube.LogRequest) (<-chan kube.LogLine, error) {
	d, err := f.store.load(f.ns(req.Namespace), req.Deployment)
	if err != nil {
		return nil, err
	}
	var srcs []logSource
	for _, p := range d.Processes {
		if req.Pod == "" || req.Pod == p.Pod {
			srcs = append(srcs, logSource{pod: p.Pod, path: f.store.logPath(d, p)})
		}
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("pod %s of %s: %w", req.Pod, req.Deployment, kube.ErrNotFound)
	}
	var since time.Time
	if req.Since > 0 {
		since = time.Now().Add(-req.Since)
	}
	tail := req.Tail
	if tail == 0 {
		tail = -1
	}
	var first []kube.LogLine
	offsets := make([]int64, len(srcs))
	for i, s := range srcs {
		lines, off := readLog(s, tail, since)
		first = append(first, lines...)
		offsets[i] = off
	}
	mergeLogs(first)
	ch := make(chan kube.LogLine, 256)
	go func() {
		defer close(ch)
		for _, l := range first {
			select {
			case ch <- l:
			case <-ctx.Done():
				return
			}
		}
		if !req.Follow {
			return
		}
		done := make(chan struct{})
		for i, s := range srcs {
			go func() {
				followLog(ctx, s, offsets[i], ch)
				done <- struct{}{}
			}()
		}
		for range srcs {
			<-done
		}
	}()
	return ch, nil
}

func countWorkers(d *Deployment) int {
	n := 0
	for _, p := range d.Processes {
		if p.Role != config.RoleFrontend {
			n++
		}
	}
	return n
}

// stats parses each worker's log into cache figures.
func (f *Fleet) stats(d *Deployment) map[string]telemetry.CacheStats {
	out := map[string]telemetry.CacheStats{}
	for _, p := range d.Processes {
		if p.Role == config.RoleFrontend {
			continue
		}
		var cs telemetry.CacheStats
		lines, _ := readLog(logSource{pod: p.Pod, path: f.store.logPath(d, p)}, -1, time.Time{})
		for _, l := range lines {
			cs.AddLine(l.Text)
		}
		out[p.Pod] = cs
	}
	return out
}

// CacheStats reports each worker's prefix-cache figures, parsed from its SGLang-format log lines.
func (f *Fleet) CacheStats(ctx context.Context, namespace, name string) ([]kube.WorkerStats, error) {
	d, err := f.store.load(f.ns(namespace), name)
	if err != nil {
		return nil, err
	}
	st := f.stats(d)
	var out []kube.WorkerStats
	for _, p := range d.Processes {
		cs, ok := st[p.Pod]
		if !ok {
			continue
		}
		out = append(out, kube.WorkerStats{
			Pod: p.Pod, Role: p.Role, Source: "logs", CacheSource: "logs", At: cs.Last,
			CacheHitRate: cs.HitRate(), TokenUsage: cs.TokenUsage, Running: cs.Running, Queued: cs.Queued,
			GenThroughput: cs.GenThroughput, CachedTokens: float64(cs.CachedTokens),
			PromptTokens: float64(cs.CachedTokens + cs.NewTokens),
		})
	}
	return out, nil
}

// Endpoint is the frontend's loopback URL; nothing to release.
func (f *Fleet) Endpoint(ctx context.Context, namespace, name string) (string, func(), error) {
	d, err := f.store.load(f.ns(namespace), name)
	if err != nil {
		return "", nil, err
	}
	for _, p := range d.Processes {
		if p.Role == config.RoleFrontend {
			return p.URL(), func() {}, nil
		}
	}
	return "", nil, fmt.Errorf("deployment %s has no frontend", name)
}
