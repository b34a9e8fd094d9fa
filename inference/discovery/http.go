package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/radixops/radix/inference/telemetry"
)

// Paths of the registry's HTTP API, served by the frontend next to the OpenAI API.
const (
	PathRegister   = "/internal/discovery/register"
	PathHeartbeat  = "/internal/discovery/heartbeat"
	PathDeregister = "/internal/discovery/deregister"
	PathWorkers    = "/internal/discovery/workers"
)

// maxBody bounds a registration request; real ones are a few hundred bytes.
const maxBody = 16 << 10

// leaseReply answers register and heartbeat.
type leaseReply struct {
	TTLMillis int64  `json:"ttl_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}

type idRequest struct {
	ID string `json:"id"`
}

// DecodeRegistration reads a registration from a request body, strictly: unknown fields, trailing
// data and invalid values are errors.
func DecodeRegistration(r io.Reader) (Registration, error) {
	var reg Registration
	dec := json.NewDecoder(io.LimitReader(r, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reg); err != nil {
		return reg, fmt.Errorf("decoding registration: %w", err)
	}
	if dec.More() {
		return reg, errors.New("decoding registration: trailing data after the object")
	}
	return reg, reg.Validate()
}

// Handler serves the registry's HTTP API.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathRegister, func(w http.ResponseWriter, req *http.Request) {
		reg, err := DecodeRegistration(http.MaxBytesReader(w, req.Body, maxBody))
		if err != nil {
			reply(w, http.StatusBadRequest, leaseReply{Error: err.Error()})
			return
		}
		ttl, err := r.Register(reg)
		if errors.Is(err, ErrWrongNamespace) {
			reply(w, http.StatusConflict, leaseReply{Error: err.Error()})
			return
		} else if err != nil {
			reply(w, http.StatusBadRequest, leaseReply{Error: err.Error()})
			return
		}
		reply(w, http.StatusOK, leaseReply{TTLMillis: ttl.Milliseconds()})
	})
	mux.HandleFunc("POST "+PathHeartbeat, func(w http.ResponseWriter, req *http.Request) {
		var id idRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBody)).Decode(&id); err != nil {
			reply(w, http.StatusBadRequest, leaseReply{Error: "decoding heartbeat: " + err.Error()})
			return
		}
		if err := r.Heartbeat(id.ID); err != nil {
			reply(w, http.StatusNotFound, leaseReply{Error: err.Error()})
			return
		}
		reply(w, http.StatusOK, leaseReply{TTLMillis: r.TTL().Milliseconds()})
	})
	mux.HandleFunc("POST "+PathDeregister, func(w http.ResponseWriter, req *http.Request) {
		var id idRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxBody)).Decode(&id); err != nil {
			reply(w, http.StatusBadRequest, leaseReply{Error: "decoding deregister: " + err.Error()})
			return
		}
		r.Deregister(id.ID)
		reply(w, http.StatusOK, leaseReply{})
	})
	mux.HandleFunc("GET "+PathWorkers, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Workers()) // the client is gone if this fails
	})
	return mux
}

func reply(w http.ResponseWriter, status int, body leaseReply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client is gone if this fails
}

// KeepOptions configure a worker's side of discovery.
type KeepOptions struct {
	// Interval between heartbeats; default a third of the lease the frontend grants.
	Interval time.Duration
	Client   *http.Client
	Log      *telemetry.Logger
	// OnRegistered is called after every successful registration (first and re-registrations).
	OnRegistered func()
}

// Keep registers reg with the frontend at frontendURL and keeps its lease alive until ctx ends, then
// deregisters. When the frontend is unreachable or has forgotten the lease (it restarted), Keep
// registers again, retrying with backoff up to one interval. It returns ctx's error, or a registration
// error the frontend will never accept (bad request, wrong namespace).
func Keep(ctx context.Context, frontendURL string, reg Registration, opts KeepOptions) error {
	if err := reg.Validate(); err != nil {
		return err
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 5 * time.Second}
	}
	base := strings.TrimRight(frontendURL, "/")
	backoff := 100 * time.Millisecond
	registered := false
	interval := opts.Interval
	for {
		var status int
		var rep leaseReply
		var err error
		if !registered {
			status, rep, err = post(ctx, opts.Client, base+PathRegister, reg)
			switch {
			case err == nil && status == http.StatusOK:
				registered = true
				backoff = 100 * time.Millisecond
				if opts.Interval <= 0 && rep.TTLMillis > 0 {
					interval = time.Duration(rep.TTLMillis) * time.Millisecond / 3
				}
				opts.Log.Info("Successfully registered LLM with runtime config model=" + reg.Model + " role=" + string(reg.Role))
				if opts.OnRegistered != nil {
					opts.OnRegistered()
				}
			case err == nil && (status == http.StatusBadRequest || status == http.StatusConflict):
				return fmt.Errorf("registering with %s: %s", base, rep.Error)
			case err == nil:
				opts.Log.Warn(fmt.Sprintf("registering with %s: status %d %s; retrying", base, status, rep.Error))
			default:
				if ctx.Err() != nil {
					return ctx.Err()
				}
				opts.Log.Warn(fmt.Sprintf("registering with %s: %v; retrying", base, err))
			}
		} else {
			status, rep, err = post(ctx, opts.Client, base+PathHeartbeat, idRequest{ID: reg.ID})
			switch {
			case err == nil && status == http.StatusOK:
			case err == nil && status == http.StatusNotFound:
				opts.Log.Warn("frontend forgot the lease (" + rep.Error + "); registering again")
				registered = false
				continue
			default:
				if ctx.Err() != nil {
					break
				}
				opts.Log.Warn(fmt.Sprintf("heartbeat to %s failed: %v (status %d); registering again", base, err, status))
				registered = false
			}
		}
		if interval <= 0 {
			interval = time.Second
		}
		wait := interval
		if !registered {
			wait = min(backoff, interval)
			backoff *= 2
		}
		select {
		case <-ctx.Done():
			if registered {
				// A fresh context: the worker's own is already cancelled, and leaving without
				// deregistering would keep the frontend routing to it for a whole lease.
				dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, _, _ = post(dctx, opts.Client, base+PathDeregister, idRequest{ID: reg.ID})
				cancel()
			}
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func post(ctx context.Context, c *http.Client, url string, body any) (int, leaseReply, error) {
	var rep leaseReply
	b, err := json.Marshal(body)
	if err != nil {
		return 0, rep, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, rep, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, rep, err
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&rep) // a body-less reply still has its status
	return resp.StatusCode, rep, nil
}
