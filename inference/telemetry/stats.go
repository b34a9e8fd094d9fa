package telemetry

import "time"

// CacheStats aggregates parsed records of one worker into what the console's cache panel shows.
// The hit rate comes from cumulative cached and new prefill tokens, not from any one batch, because a
// per-batch rate swings wildly and resets (the same reason SGLang's counters beat its gauge).
type CacheStats struct {
	PrefillBatches int
	DecodeBatches  int
	Retractions    int   // retract lines seen
	Retracted      int   // requests retracted in total
	NewTokens      int64 // prefill tokens computed
	CachedTokens   int64 // prefill tokens served from the radix cache

	// TokenUsage is from the latest prefill or decode line; on a hybrid SWA model the fuller of its
	// two pools, as SGLang's own sglang:token_usage gauge reports it.
	TokenUsage      float64
	Running, Queued int     // from the latest prefill or decode line
	GenThroughput   float64 // token/s, latest decode line
	InputThroughput float64 // token/s, latest prefill line of the newer form
	MaxTotalTokens  int     // from the startup line
	Registered      bool    // a registration or readiness line was seen
	Last            time.Time
}

// Add folds one record in.
func (s *CacheStats) Add(r Record) {
	if !r.Time.IsZero() && r.Time.After(s.Last) {
		s.Last = r.Time
	}
	switch r.Kind {
	case KindPrefill:
		p := r.Prefill
		s.PrefillBatches++
		s.NewTokens += int64(p.NewToken)
		s.CachedTokens += int64(p.CachedToken)
		s.TokenUsage, s.Running, s.Queued = max(p.TokenUsage, p.SWATokenUsage), p.Running, p.Queued
		if p.InputThroughput > 0 {
			s.InputThroughput = p.InputThroughput
		}
	case KindDecode:
		d := r.Decode
		s.DecodeBatches++
		s.TokenUsage, s.Running, s.Queued = max(d.TokenUsage, d.SWATokenUsage), d.Running, d.Queued
		s.GenThroughput = d.GenThroughput
	case KindRetract:
		s.Retractions++
		s.Retracted += r.Retract.Retracted
	case KindStartup:
		s.MaxTotalTokens = r.Startup.MaxTotalNumTokens
	case KindRegistered, KindRegistrationSucceed, KindModelReady:
		s.Registered = true
	}
}

// AddLine parses line and folds it in when it is recognised; it reports whether it was.
func (s *CacheStats) AddLine(line string) bool {
	r, ok := ParseLine(line)
	if ok {
		s.Add(r)
	}
	return ok
}

// HitRate is cached / (cached + new) prefill tokens so far, 0 before any prefill.
func (s CacheStats) HitRate() float64 {
	total := s.NewTokens + s.CachedTokens
	if total == 0 {
		return 0
	}
	return float64(s.CachedTokens) / float64(total)
}
