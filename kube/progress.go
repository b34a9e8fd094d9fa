package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/radixops/radix/config"
)

// progressSender sends events until the consumer's context ends.
type progressSender struct {
	ctx context.Context
	out chan<- Progress
}

func (s progressSender) send(p Progress) bool {
	if p.Time.IsZero() {
		p.Time = time.Now()
	}
	if p.Err != nil {
		p.Error = p.Err.Error()
	}
	select {
	case s.out <- p:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s progressSender) fail(phase string, err error) {
	s.send(Progress{Phase: phase, Message: err.Error(), State: StateFailed, Done: true, Err: err})
}

// Deploy renders, checks and applies a request, then (with Wait) reports progress until the
// deployment is successful, failed, or the timeout passes. Rendering errors return at once; everything
// later arrives as events, the last one with Done set.
func (c *KubeCluster) Deploy(ctx context.Context, req DeployRequest) (<-chan Progress, error) {
	if c.info.ReadOnly && !req.DryRun {
		return nil, errors.New("deploy refused: read-only mode (--readonly)")
	}
	r, namespace, err := c.rendered(req)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{Object: r.Object}
	name := obj.GetName()
	out := make(chan Progress, 16)
	go func() {
		defer close(out)
		s := progressSender{ctx: ctx, out: out}
		pv, err := c.Preview(ctx, req)
		if err != nil {
			s.fail("checks", err)
			return
		}
		hfMissing := false
		for i := range pv.Checks {
			ch := pv.Checks[i]
			if ch.Name == CheckHFSecret && !ch.OK && strings.Contains(ch.Message, "missing") {
				hfMissing = true
			}
			if !s.send(Progress{Phase: "checks", Message: checkLine(ch), Check: &ch}) {
				return
			}
		}
		if b := blocked(pv.Checks); b != nil {
			msg := b.Message
			if b.Fix != "" {
				msg += "; fix: " + b.Fix
			}
			s.fail("failed", fmt.Errorf("deploy of %s/%s stopped by check %s: %s", namespace, name, b.Name, msg))
			return
		}
		if req.DryRun {
			m := "dry run: the API server accepts " + namespace + "/" + name + "; nothing was applied"
			if pv.Diff != "" {
				m += " (it differs from the live object; see the diff)"
			}
			s.send(Progress{Phase: "apply", Message: m, Done: true})
			return
		}
		if hfMissing && req.CreateHFSecret {
			if err := c.createHFSecret(ctx, namespace); err != nil {
				s.fail("checks", err)
				return
			}
			if !s.send(Progress{Phase: "checks", Message: "created secret " + config.HFTokenSecret + " in " + namespace + " from $HF_TOKEN (value not shown)"}) {
				return
			}
		}
		verb := "created"
		if pv.Exists {
			verb = "configured"
			if pv.Diff == "" {
				verb = "unchanged"
			}
		}
		applied, err := c.apply(ctx, obj, namespace, false)
		if err != nil {
			s.fail("apply", fmt.Errorf("applying %s/%s: %w", namespace, name, err))
			return
		}
		if !s.send(Progress{Phase: "apply", Message: fmt.Sprintf("dynamographdeployment %s/%s %s (server-side apply, field manager %s)", namespace, name, verb, FieldManager), State: StatePending, Done: !req.Wait}) {
			return
		}
		if !req.Wait {
			return
		}
		timeout := req.Timeout
		if timeout <= 0 {
			timeout = DefaultDeployTimeout
		}
		operatorMissing := false
		for _, ch := range pv.Checks {
			if ch.Name == CheckOperator && !ch.OK {
				operatorMissing = true
			}
		}
		c.waitReady(ctx, s, namespace, name, applied.GetGeneration(), timeout, operatorMissing)
	}()
	return out, nil
}

func checkLine(ch Check) string {
	mark := "ok"
	switch {
	case !ch.OK && ch.Blocking:
		mark = "FAIL"
	case !ch.OK:
		mark = "warn"
	}
	line := fmt.Sprintf("[%s] %s: %s", mark, ch.Name, ch.Message)
	if !ch.OK && ch.Fix != "" {
		line += " — fix: " + ch.Fix
	}
	return line
}

// waitReady follows the deployment and its pods until it is successful or failed, or time is up.
func (c *KubeCluster) waitReady(ctx context.Context, s progressSender, namespace, name string, generation int64, timeout time.Duration, operatorMissing bool) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := c.newFleetWatch(wctx, namespace, name)
	if err != nil {
		s.fail("waiting", fmt.Errorf("watching %s/%s: %w", namespace, name, err))
		return
	}
	start := time.Now()
	lastKey := ""
	lastMsg := ""
	logsSeen := map[string]string{} // pod → log excerpt already fetched for its current restart count
	for {
		var obj *unstructured.Unstructured
		for _, u := range w.dgdList() {
			if u.GetName() == name {
				obj = u
			}
		}
		pods := w.podList()
		p := Progress{Phase: "waiting", State: StatePending}
		if obj == nil {
			p.Message = "the deployment disappeared while waiting for it"
			p.Phase, p.Done, p.State = "failed", true, StateFailed
			p.Err = fmt.Errorf("%s/%s was deleted while waiting for it", namespace, name)
			s.send(p)
			return
		}
		d := DeploymentFromObject(obj, pods)
		p.State = d.State
		state, _, _ := unstructured.NestedString(obj.Object, "status", "state")
		observed := readyObservedGeneration(obj)
		current := observed < 0 || observed >= generation
		for _, po := range pods {
			mp := PodFromObject(po)
			if podProblem(mp) {
				if mp.Reason == "CrashLoopBackOff" || mp.LastTermination != "" {
					key := fmt.Sprintf("%s/%d", mp.Name, mp.Restarts)
					if _, ok := logsSeen[key]; !ok {
						logsSeen[key] = c.lastLogLines(wctx, namespace, mp.Name, 5)
					}
					if l := logsSeen[key]; l != "" {
						mp.Message = strings.TrimSpace(mp.Message + "\nlast log lines:\n" + l)
					}
				}
				p.Pods = append(p.Pods, mp)
			}
		}
		switch {
		case state == string(StateSuccessful) && current:
			p.Phase, p.Done, p.State = "ready", true, StateSuccessful
			p.Message = fmt.Sprintf("%s/%s is successful after %s", namespace, name, time.Since(start).Round(time.Second))
			s.send(p)
			return
		case state == string(StateFailed) && current:
			p.Phase, p.Done, p.State = "failed", true, StateFailed
			p.Message = fmt.Sprintf("%s/%s failed: %s", namespace, name, firstNonEmpty(d.Message, d.Reason, "the operator reports failed"))
			p.Err = errors.New(p.Message)
			s.send(p)
			return
		case state == "":
			p.Message = "waiting for the Dynamo operator to pick the deployment up (no status yet)"
			if operatorMissing {
				p.Message += ": the operator is not running (see the checks), so it stays pending"
			}
		default:
			p.Message = fmt.Sprintf("state %s", state)
			if !current {
				p.Message += " (from an earlier generation; waiting for the operator to see the change)"
			}
			if d.Message != "" {
				p.Message += ": " + d.Message
			}
		}
		p.Message += podSummary(d)
		if len(p.Pods) > 0 {
			var reasons []string
			for _, mp := range p.Pods {
				reasons = append(reasons, mp.Name+": "+mp.Reason+" "+firstLine(mp.Message))
			}
			sort.Strings(reasons)
			p.Message += "; " + strings.Join(reasons, "; ")
		}
		key := p.Message + fmt.Sprint(p.State)
		if key != lastKey {
			lastKey, lastMsg = key, p.Message
			if !s.send(p) {
				return
			}
		}
		select {
		case <-w.changed:
		case <-wctx.Done():
			if ctx.Err() != nil {
				s.send(Progress{Phase: "failed", Done: true, State: StateUnknown, Message: "stopped waiting", Err: ctx.Err()})
				return
			}
			err := fmt.Errorf("timed out after %v waiting for %s/%s to become successful; last: %s", timeout, namespace, name, lastMsg)
			s.send(Progress{Phase: "timeout", Done: true, State: d.State, Message: err.Error(), Err: err, Pods: p.Pods})
			return
		}
	}
}

func podSummary(d Deployment) string {
	if len(d.Services) == 0 {
		return ""
	}
	var parts []string
	for _, s := range d.Services {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s.Name, s.Ready, s.Replicas))
	}
	return " [" + strings.Join(parts, ", ") + "]"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// lastLogLines returns the last n lines of a crashed container's previous run ("" when unavailable).
func (c *KubeCluster) lastLogLines(ctx context.Context, namespace, pod string, n int64) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, previous := range []bool{true, false} {
		b, err := c.pods.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
			Container: config.MainContainerName, TailLines: &n, Previous: previous}).DoRaw(ctx)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimRight(string(b), "\n")
		}
	}
	return ""
}

// Delete removes a deployment (the operator's owner references take its components and pods with
// it); with wait it reports progress until the pods are gone and, if the context ends first, says
// what is left.
func (c *KubeCluster) Delete(ctx context.Context, namespace, name string, wait bool) (<-chan Progress, error) {
	if c.info.ReadOnly {
		return nil, errors.New("delete refused: read-only mode (--readonly)")
	}
	namespace = c.ns(namespace)
	bg := metav1.DeletePropagationBackground
	err := c.dyn.Resource(DGDResource).Namespace(namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("deleting %s/%s: %w", namespace, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("deleting %s/%s: %w", namespace, name, err)
	}
	out := make(chan Progress, 8)
	go func() {
		defer close(out)
		s := progressSender{ctx: ctx, out: out}
		if !s.send(Progress{Phase: "deleting", State: StateDeleting, Done: !wait,
			Message: fmt.Sprintf("dynamographdeployment %s/%s deleted", namespace, name)}) || !wait {
			return
		}
		w, err := c.newFleetWatch(ctx, namespace, name)
		if err != nil {
			s.fail("deleting", fmt.Errorf("watching %s/%s: %w", namespace, name, err))
			return
		}
		last := ""
		for {
			left := w.leftovers(name)
			if len(left) == 0 {
				s.send(Progress{Phase: "gone", State: StateDeleting, Done: true,
					Message: fmt.Sprintf("%s/%s and all its pods are gone", namespace, name)})
				return
			}
			msg := "waiting for " + strings.Join(left, ", ")
			if msg != last {
				last = msg
				var pods []Pod
				for _, p := range w.podList() {
					pods = append(pods, PodFromObject(p))
				}
				if !s.send(Progress{Phase: "deleting", State: StateDeleting, Message: msg, Pods: pods}) {
					return
				}
			}
			select {
			case <-w.changed:
			case <-ctx.Done():
				err := fmt.Errorf("stopped waiting for %s/%s to go; still present: %s: %w", namespace, name, strings.Join(left, ", "), ctx.Err())
				select { // the consumer may have gone with the context: never block on it
				case out <- Progress{Time: time.Now(), Phase: "deleting", State: StateDeleting, Done: true,
					Message: "stopped waiting; still present: " + strings.Join(left, ", "), Err: err, Error: err.Error()}:
				default:
				}
				return
			}
		}
	}()
	return out, nil
}

// leftovers names what of a deleted deployment still exists.
func (w *fleetWatch) leftovers(name string) []string {
	var left []string
	for _, u := range w.dgdList() {
		if u.GetName() == name {
			left = append(left, "dynamographdeployment/"+name)
		}
	}
	for _, p := range w.podList() {
		left = append(left, "pod/"+p.Name)
	}
	return left
}
