package config

import (
	"errors"
	"maps"
)

// Spec is a profile resolved for one deployment: the published blueprint with the overrides applied
// and validated. Render turns it into the object to apply; LocalPlan into local processes.
type Spec struct {
	Profile   string            // the profile asked for (built-in or user)
	Base      string            // the built-in profile it rests on
	Overrides map[string]string // every override applied: the user profile's, then the caller's
	DGD       *DGD              // the blueprint as published, overrides applied, no fixes
}

// Name is the DynamoGraphDeployment's name.
func (s *Spec) Name() string { return s.DGD.Metadata.Name }

// Namespace is the Kubernetes namespace it deploys into.
func (s *Spec) Namespace() string { return s.DGD.Metadata.Namespace }

// Services are the service keys, frontends first.
func (s *Spec) Services() []string { return s.DGD.ServiceKeys() }

// Role is a service's role: frontend, worker, prefill or decode ("" for an unknown key).
func (s *Spec) Role(service string) string {
	svc, ok := s.DGD.Spec.Services[service]
	if !ok {
		return ""
	}
	return serviceRole(svc)
}

// Resolve looks a profile up (built-in or user), applies its overrides and then overrides (which win),
// and validates the result. Errors name the key, the value and what is allowed.
func Resolve(profile string, overrides map[string]string) (*Spec, error) {
	p, err := Lookup(profile)
	if err != nil {
		return nil, err
	}
	return resolveProfile(p, overrides)
}

func resolveProfile(p Profile, extra map[string]string) (*Spec, error) {
	merged := maps.Clone(p.Overrides)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, extra)
	d := p.blueprint.DeepCopy()
	base := p.Name
	if !p.Builtin {
		base = p.Extends
		// A user profile deploys under its own name unless told otherwise.
		if err := applyName(&resolver{d: d}, nil, p.Name); err != nil {
			return nil, err
		}
	}
	if err := applyOverrides(d, merged); err != nil {
		var oe *OverrideError
		if errors.As(err, &oe) && oe.Where == "" {
			if _, fromCaller := extra[oe.Key]; !fromCaller && p.where[oe.Key] != "" {
				c := *oe
				c.Where = p.where[oe.Key]
				return nil, &c
			}
		}
		return nil, err
	}
	return &Spec{Profile: p.Name, Base: base, Overrides: merged, DGD: d}, nil
}
