package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/radixops/radix/inference/telemetry"
)

// Role is what a worker does for the frontend.
type Role string

const (
	RoleWorker  Role = "worker"  // aggregated: prefill and decode
	RolePrefill Role = "prefill" // disaggregated prefill
	RoleDecode  Role = "decode"  // disaggregated decode
)

// Registration is what a worker tells its frontend about itself.
type Registration struct {
	ID        string `json:"id"`        // unique per worker process
	Namespace string `json:"namespace"` // the deployment's Dynamo namespace
	Model     string `json:"model"`     // served model name
	Role      Role   `json:"role"`
	Endpoint  string `json:"endpoint"` // base URL of the worker's HTTP API
	// Transfer is the host:port of the worker's KV transfer listener (disaggregated roles).
	Transfer string `json:"transfer,omitempty"`
	KVTokens int    `json:"kv_tokens"`
	PageSize int    `json:"page_size"`
}

// Validate checks a registration from the wire.
func (r Registration) Validate() error {
	switch {
	case r.ID == "" || len(r.ID) > 253:
		return fmt.Errorf("registration id %q: want 1 to 253 characters", r.ID)
	case r.Model == "":
		return errors.New("registration: model is empty")
	case r.Role != RoleWorker && r.Role != RolePrefill && r.Role != RoleDecode:
		return fmt.Errorf("registration role %q: want worker, prefill or decode", r.Role)
	case r.KVTokens <= 0:
		return fmt.Errorf("registration kv_tokens %d: want > 0", r.KVTokens)
	case r.PageSize <= 0 || r.PageSize&(r.PageSize-1) != 0 || r.PageSize > 256:
		return fmt.Errorf("registration page_size %d: want a power of two from 1 to 256", r.PageSize)
	}
	u, err := url.Parse(r.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("registration endpoint %q: want an http(s) URL", r.Endpoint)
	}
	if r.Role != RoleWorker && r.Transfer == "" {
		return fmt.Errorf("registration of a %s worker: transfer address is empty", r.Role)
	}
	return nil
}

// ChangeKind says whether a worker came or went.
type ChangeKind uint8

const (
	Added ChangeKind = iota + 1
	Removed
)

// Change is one worker added to or removed from the registry.
type Change struct {
	Kind   ChangeKind
	Worker Registration
	Reason string // removed: "lease expired", "deregistered", "replaced"
}

// ErrUnknownLease answers a heartbeat for a lease the registry does not hold (it lapsed, or the
// frontend restarted): the worker must register again.
var ErrUnknownLease = errors.New("unknown lease")

// ErrWrongNamespace refuses a worker of another deployment.
var ErrWrongNamespace = errors.New("wrong namespace")

// RegistryOptions configure a Registry.
type RegistryOptions struct {
	Namespace string        // only workers of this namespace are accepted
	TTL       time.Duration // lease length (default 10 s, as Dynamo's etcd lease)
	Log       *telemetry.Logger
	Now       func() time.Time
}

// Registry is the frontend's list of live workers.
type Registry struct {
	opts RegistryOptions

	mu      sync.Mutex
	entries map[string]*entry
	subs    []func(Change)
	// notify is held for the whole of every change, from the state update to the last subscriber call,
	// so subscribers see changes in the order they happened; mu alone guards the state, so readers
	// never wait for a subscriber. Subscribers must not change the registry.
	notify sync.Mutex
}

type entry struct {
	reg     Registration
	expires time.Time
}

// NewRegistry returns an empty registry. Starting empty is the frontend's "clear the namespace's stale
// registrations" of Dynamo, and it logs the same line.
func NewRegistry(opts RegistryOptions) *Registry {
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Log.Info(fmt.Sprintf("clear_namespace: cleared stale registrations namespace=%s", opts.Namespace))
	return &Registry{opts: opts, entries: map[string]*entry{}}
}

// TTL is the lease length.
func (r *Registry) TTL() time.Duration { return r.opts.TTL }

// Subscribe calls fn for every later change, and at once with Added for every worker already there.
func (r *Registry) Subscribe(fn func(Change)) {
	r.notify.Lock()
	defer r.notify.Unlock()
	r.mu.Lock()
	r.subs = append(r.subs, fn)
	now := r.workersLocked()
	r.mu.Unlock()
	for _, w := range now {
		fn(Change{Kind: Added, Worker: w})
	}
}

// Register adds or renews a worker and returns its lease length. A new registration under an existing
// id replaces the old one (a restarted worker may keep its id).
func (r *Registry) Register(reg Registration) (time.Duration, error) {
	if err := reg.Validate(); err != nil {
		return 0, err
	}
	if r.opts.Namespace != "" && reg.Namespace != r.opts.Namespace {
		return 0, fmt.Errorf("%w: worker %s is in namespace %q, this frontend serves %q", ErrWrongNamespace, reg.ID, reg.Namespace, r.opts.Namespace)
	}
	r.notify.Lock()
	defer r.notify.Unlock()
	var changes []Change
	r.mu.Lock()
	old, had := r.entries[reg.ID]
	switch {
	case had && old.reg == reg:
		old.expires = r.opts.Now().Add(r.opts.TTL)
	default:
		if had {
			changes = append(changes, r.removeLocked(reg.ID, "replaced")...)
		}
		if r.countModelLocked(reg.Model) == 0 {
			r.opts.Log.Info(telemetry.AddedModel(reg.Model))
		}
		r.entries[reg.ID] = &entry{reg: reg, expires: r.opts.Now().Add(r.opts.TTL)}
		r.opts.Log.Info(fmt.Sprintf("registered %s worker id=%s endpoint=%s kv_tokens=%d page_size=%d", reg.Role, reg.ID, reg.Endpoint, reg.KVTokens, reg.PageSize))
		changes = append(changes, Change{Kind: Added, Worker: reg})
	}
	r.mu.Unlock()
	r.publish(changes)
	return r.opts.TTL, nil
}

// Heartbeat renews a lease.
func (r *Registry) Heartbeat(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[id]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownLease, id)
	}
	e.expires = r.opts.Now().Add(r.opts.TTL)
	return nil
}

// Deregister removes a worker at its own request (graceful shutdown).
func (r *Registry) Deregister(id string) {
	r.notify.Lock()
	defer r.notify.Unlock()
	r.mu.Lock()
	changes := r.removeLocked(id, "deregistered")
	r.mu.Unlock()
	r.publish(changes)
}

// Sweep removes every worker whose lease has lapsed; Run calls it periodically.
func (r *Registry) Sweep() {
	r.notify.Lock()
	defer r.notify.Unlock()
	now := r.opts.Now()
	var changes []Change
	r.mu.Lock()
	for id, e := range r.entries {
		if !now.Before(e.expires) {
			changes = append(changes, r.removeLocked(id, "lease expired")...)
		}
	}
	r.mu.Unlock()
	r.publish(changes)
}

// Run sweeps every quarter lease until ctx ends.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Sweep()
		}
	}
}

// Workers lists the live workers, sorted by id.
func (r *Registry) Workers() []Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.workersLocked()
}

func (r *Registry) workersLocked() []Registration {
	out := make([]Registration, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.reg)
	}
	slices.SortFunc(out, func(a, b Registration) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

func (r *Registry) removeLocked(id, reason string) []Change {
	e, ok := r.entries[id]
	if !ok {
		return nil
	}
	delete(r.entries, id)
	r.opts.Log.Info(fmt.Sprintf("worker id=%s left: %s", id, reason))
	if r.countModelLocked(e.reg.Model) == 0 {
		r.opts.Log.Info(telemetry.RemovedModel(e.reg.Model))
	}
	return []Change{{Kind: Removed, Worker: e.reg, Reason: reason}}
}

func (r *Registry) countModelLocked(model string) int {
	n := 0
	for _, e := range r.entries {
		if e.reg.Model == model {
			n++
		}
	}
	return n
}

// publish calls the subscribers; the caller holds notify.
func (r *Registry) publish(changes []Change) {
	if len(changes) == 0 {
		return
	}
	r.mu.Lock()
	subs := slices.Clone(r.subs)
	r.mu.Unlock()
	for _, c := range changes {
		for _, fn := range subs {
			fn(c)
		}
	}
}
