package server

import (
	"context"

	"github.com/radixops/radix/inference/engine"
)

// Backend generates token ids for token ids: the local engine, or a router to workers in the frontend
// role. Generation ends when ctx does.
type Backend interface {
	Generate(ctx context.Context, req engine.Request) (TokenStream, error)
}

// TokenStream yields a generation's outputs; the last has Finish set, after which Recv returns io.EOF.
type TokenStream interface {
	Recv(ctx context.Context) (engine.Output, error)
}

// Optional capabilities a Backend may have; the server uses them when present.
type (
	// StatsSource feeds /metrics.
	StatsSource interface{ Stats() engine.Stats }
	// InvariantChecker backs the debug endpoint.
	InvariantChecker interface {
		CheckInvariant(ctx context.Context) error
	}
	// Drainer finishes in-flight work on shutdown.
	Drainer interface {
		Drain(ctx context.Context) error
	}
)

// EngineBackend serves from a local scheduler.
type EngineBackend struct{ E *engine.Engine }

func (b EngineBackend) Generate(ctx context.Context, req engine.Request) (TokenStream, error) {
	return b.E.Submit(ctx, req)
}
func (b EngineBackend) Stats() engine.Stats                      { return b.E.Stats() }
func (b EngineBackend) CheckInvariant(ctx context.Context) error { return b.E.CheckInvariant(ctx) }
func (b EngineBackend) Drain(ctx context.Context) error          { return b.E.Drain(ctx) }
