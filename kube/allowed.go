package kube

import (
	"context"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/radixops/radix/config"
)

type allowEntry struct {
	ok bool
	at time.Time
}

// allowTTL bounds how long an answer is reused: the console asks on every redraw, RBAC changes rarely.
const allowTTL = 30 * time.Second

// accessFor is what RBAC must grant for an action: every listed attribute must be allowed.
func accessFor(a Action) []authv1.ResourceAttributes {
	dgd := func(verb string) authv1.ResourceAttributes {
		return authv1.ResourceAttributes{Group: config.Group, Resource: config.ResourceDGD, Verb: verb}
	}
	switch a {
	case ActionDeploy:
		// Server-side apply is a patch, and creates the object when it is new.
		return []authv1.ResourceAttributes{dgd("create"), dgd("patch")}
	case ActionDelete:
		return []authv1.ResourceAttributes{dgd("delete")}
	case ActionLogs:
		return []authv1.ResourceAttributes{{Resource: "pods", Subresource: "log", Verb: "get"}}
	case ActionPortForward:
		return []authv1.ResourceAttributes{{Resource: "pods", Subresource: "portforward", Verb: "create"}}
	case ActionCreateSecret:
		return []authv1.ResourceAttributes{{Resource: "secrets", Verb: "create"}}
	}
	return nil
}

// Mutating reports whether an action changes the cluster (and so is off in read-only mode).
// Logs and port-forward only read.
func Mutating(a Action) bool {
	switch a {
	case ActionDeploy, ActionDelete, ActionCreateSecret:
		return true
	}
	return false
}

// Allowed asks the API server (SelfSubjectAccessReview) whether the user may perform action in
// namespace; read-only mode refuses every mutating action first. Answers are cached briefly; an
// error counts as "no", so the console never offers what would fail.
func (c *KubeCluster) Allowed(ctx context.Context, action Action, namespace string) bool {
	if c.info.ReadOnly && Mutating(action) {
		return false
	}
	attrs := accessFor(action)
	if attrs == nil {
		return false
	}
	namespace = c.ns(namespace)
	key := string(action) + "\x00" + namespace
	c.allowMu.Lock()
	if e, ok := c.allowCache[key]; ok && time.Since(e.at) < allowTTL {
		c.allowMu.Unlock()
		return e.ok
	}
	c.allowMu.Unlock()
	ok := true
	for _, ra := range attrs {
		ra.Namespace = namespace
		r, err := c.cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra}}, metav1.CreateOptions{})
		if err != nil || !r.Status.Allowed {
			ok = false
			break
		}
	}
	if ctx.Err() == nil {
		c.allowMu.Lock()
		c.allowCache[key] = allowEntry{ok: ok, at: time.Now()}
		c.allowMu.Unlock()
	}
	return ok
}
