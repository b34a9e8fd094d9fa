package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/radixops/radix/inference/engine"
	"github.com/radixops/radix/inference/model"
	"github.com/radixops/radix/inference/telemetry"
)

// ServeOptions are `radix serve`'s settings.
type ServeOptions struct {
	Model              string // HF directory or .gguf
	Host               string // default 127.0.0.1
	Port               int    // default 30000 (SGLang's)
	ServedModelName    string // default: the model path's base name
	PageSize           int    // default 16
	MaxTotalTokens     int    // KV pool size in tokens (default: 16 contexts, at most 65536)
	ChunkedPrefillSize int
	MaxRunningRequests int
	SchedulePolicy     string
	DisableRadixCache  bool
	APIKey             string
	DType, KVDType     string
	DrainTimeout       time.Duration // default 60s
	Log                io.Writer
	// Listening, when set, is called with the bound address once the port is open (before the model
	// has loaded: /health answers 503 until it has).
	Listening func(addr string)
}

// Serve runs a worker until ctx ends (SIGTERM in `radix serve`): it opens the port first so /health and
// /live answer while the model loads, then loads it, starts the scheduler and serves. When ctx ends it
// stops accepting, drains in-flight requests, and closes.
func Serve(ctx context.Context, o ServeOptions) error {
	if o.Model == "" {
		return errors.New("serve: --model is required")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.PageSize == 0 {
		o.PageSize = 16
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 60 * time.Second
	}
	if o.ServedModelName == "" {
		o.ServedModelName = strings.TrimSuffix(filepath.Base(filepath.Clean(o.Model)), ".gguf")
	}
	log := telemetry.NewLogger(o.Log, "radix::serve")
	srv := New(Config{ModelName: o.ServedModelName, APIKey: o.APIKey, Logger: log})
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("serve: listening on %s:%d: %w", o.Host, o.Port, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening on http://" + ln.Addr().String())
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}

	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	engDone := make(chan error, 1)
	loadErr := func() error {
		m, err := model.Load(o.Model, model.LoadOptions{DType: o.DType, KVDType: o.KVDType})
		if err != nil {
			return fmt.Errorf("serve: loading %s: %w", o.Model, err)
		}
		tok := m.Tokenizer()
		if tok == nil {
			return fmt.Errorf("serve: %s has no tokenizer", o.Model)
		}
		cfg := m.Config()
		total := o.MaxTotalTokens
		if total == 0 {
			total = min(16*cfg.ContextLen, 65536)
		}
		pool, err := m.NewKVPool(total, o.PageSize)
		if err != nil {
			return fmt.Errorf("serve: allocating the KV pool of %d tokens: %w", total, err)
		}
		e, err := engine.New(engine.NewModelRunner(m), pool, engine.Config{
			ContextLen: cfg.ContextLen, ChunkedPrefillSize: o.ChunkedPrefillSize,
			MaxRunningRequests: o.MaxRunningRequests, Policy: engine.Policy(o.SchedulePolicy),
			DisableRadixCache: o.DisableRadixCache, StopTokenIDs: tok.StopIDs(), Logger: log,
		})
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		go func() { engDone <- e.Run(engCtx) }()
		srv.SetBackend(EngineBackend{E: e}, tok, cfg.ContextLen)
		log.Info(telemetry.AddedModel(o.ServedModelName))
		return nil
	}()
	if loadErr != nil {
		shutdown(hs, 5*time.Second)
		return loadErr
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: http server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	dctx, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	drainErr := srv.Drain(dctx)
	shutdown(hs, 5*time.Second)
	stopEngine()
	<-engDone
	log.Info(telemetry.RemovedModel(o.ServedModelName))
	if drainErr != nil {
		return fmt.Errorf("serve: %w", drainErr)
	}
	return nil
}

func shutdown(hs *http.Server, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}
}
