package config

// LocalProcess is one service of a profile as the embedded environment runs it: Replicas processes of
// `radix serve` with Args (the fleet adds ports and the model file it actually loads).
type LocalProcess struct {
	Service  string   `json:"service"`  // the DGD service key, e.g. SGLangWorker
	Role     string   `json:"role"`     // frontend | worker | prefill | decode
	Replicas int      `json:"replicas"` // processes to start
	Model    string   `json:"model"`    // the model the blueprint serves (--model-path); "" for a frontend
	Args     []string `json:"args"`     // arguments for `radix serve`
}

// LocalPlan derives the local processes from the same spec Render uses, so a profile means the same
// topology, page size, router settings and served model name in both places. Flags that only make sense
// on GPUs in a cluster (tp, resources, node pools, images) are left out.
func LocalPlan(spec *Spec) []LocalProcess {
	var out []LocalProcess
	for _, k := range spec.DGD.ServiceKeys() {
		s := spec.DGD.Spec.Services[k]
		role := serviceRole(s)
		p := LocalProcess{Service: k, Role: role, Replicas: 1, Args: []string{"--role", role}}
		if s.Replicas != nil {
			p.Replicas = int(*s.Replicas)
		}
		w, err := splitCommand(s)
		if err != nil {
			// Resolve already split every command line; an unsplittable one carries no flags to pass on.
			w = nil
		}
		copyFlag := func(flag string) {
			if v, ok := flagValue(w, flag); ok && v != "" {
				p.Args = append(p.Args, flag, v)
			}
		}
		if role == RoleFrontend {
			copyFlag("--router-mode")
			copyFlag("--kv-overlap-score-weight")
			copyFlag("--router-temperature")
		} else {
			p.Model, _ = flagValue(w, "--model-path")
			copyFlag("--served-model-name")
			copyFlag("--page-size")
			copyFlag("--max-total-tokens")
		}
		out = append(out, p)
	}
	return out
}
