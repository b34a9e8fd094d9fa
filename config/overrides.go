package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Sentinel errors an OverrideError wraps, for callers that decide on the kind of failure.
var (
	ErrUnknownKey = errors.New("unknown override key")
	ErrBadValue   = errors.New("bad override value")
)

// OverrideError says which override failed, with what value, and what is allowed.
type OverrideError struct {
	Key        string
	Value      string
	Reason     string // why the value (or key) was refused
	Allowed    string // what is allowed instead
	Suggestion string // a near-miss key, when the key is unknown
	Where      string // file:line:col when the override came from a user profile
	Err        error  // ErrUnknownKey or ErrBadValue
}

func (e *OverrideError) Error() string {
	var b strings.Builder
	if e.Where != "" {
		b.WriteString(e.Where + ": ")
	}
	if errors.Is(e.Err, ErrUnknownKey) {
		fmt.Fprintf(&b, "unknown override key %q (in %s=%s)", e.Key, e.Key, e.Value)
		if e.Reason != "" {
			b.WriteString(": " + e.Reason)
		}
		if e.Suggestion != "" {
			fmt.Fprintf(&b, "; did you mean %q?", e.Suggestion)
		}
		switch {
		case e.Allowed != "" && e.Suggestion != "":
			fmt.Fprintf(&b, " Allowed: %s", e.Allowed)
		case e.Allowed != "":
			fmt.Fprintf(&b, "; allowed: %s", e.Allowed)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "override %s=%q: %s", e.Key, e.Value, e.Reason)
	if e.Allowed != "" {
		fmt.Fprintf(&b, "; %s must be %s", e.Key, e.Allowed)
	}
	return b.String()
}

func (e *OverrideError) Unwrap() error { return e.Err }

// KeyInfo describes one override key for help text and the console.
type KeyInfo struct {
	Key         string `json:"key"`         // e.g. "page-size", or "<service>.cpu"
	Description string `json:"description"` // what it changes
	Allowed     string `json:"allowed"`     // what values are allowed
	Example     string `json:"example"`     // a --set argument that works
	PerService  bool   `json:"perService"`  // written <service>.<field>; see ServiceSelectorHelp
}

// keyDef is one row of the override table: how a key is described, checked and applied.
type keyDef struct {
	KeyInfo
	// check validates the value on its own; the error text is the reason (Allowed says the rest).
	check func(v string) error
	// apply writes the (checked) value into the services it targets.
	apply func(r *resolver, targets []string, v string) error
}

func ki(key, description, allowed, example string) KeyInfo {
	return KeyInfo{Key: key, Description: description, Allowed: allowed, Example: example}
}

// ServiceSelectorHelp says what <service> may be in a per-service key.
const ServiceSelectorHelp = "a service key of the profile (e.g. SGLangWorker) or a role: frontend, worker (every worker), prefill, decode"

// globalKeys, in the order they are applied.
var globalKeys = []keyDef{
	{ki("name", "name of the DynamoGraphDeployment; also every service's dynamoNamespace",
		"an RFC 1123 subdomain of at most 63 characters (lowercase letters, digits, '-', '.')", "name=qwen-test"),
		checkName, applyName},
	{ki("namespace", "Kubernetes namespace of the DynamoGraphDeployment",
		"an RFC 1123 label (lowercase letters, digits, '-'; at most 63)", "namespace=dynamo-cloud"),
		checkLabel, func(r *resolver, _ []string, v string) error { r.d.Metadata.Namespace = v; return nil }},
	{ki("image-tag", "tag of the container image of every service",
		"an OCI image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')", "image-tag=0.5.1"),
		checkImageTag, applyImageTag},
	{ki("node-pool", "Karpenter node pool (karpenter.sh/nodepool) of the services that select one (the GPU workers)",
		"a Kubernetes label value (letters, digits, '-', '_', '.'; at most 63)", "node-pool=g6-gpu-karpenter"),
		checkLabelValue, applyNodePool},
	{ki("model", "model of every SGLang worker (--model-path, and --served-model-name unless served-model-name is set)",
		"a Hugging Face model id org/name, or a path starting with / or ./ (no spaces or shell characters)", "model=Qwen/Qwen3-0.6B"),
		checkModel, applyModel},
	{ki("served-model-name", "model name the frontend serves (--served-model-name of every SGLang worker)",
		"letters, digits and . _ - / : (at most 128, starting with a letter or digit)", "served-model-name=qwen"),
		checkServedName, func(r *resolver, _ []string, v string) error {
			return r.editSGLang(func(w []string) []string { return setFlag(w, "--served-model-name", v) })
		}},
	{ki("page-size", "tokens per KV cache page (--page-size of every SGLang worker)",
		"a power of two from 1 to 256", "page-size=32"),
		checkPageSize, func(r *resolver, _ []string, v string) error {
			return r.editSGLang(func(w []string) []string { return setFlag(w, "--page-size", v) })
		}},
	{ki("tp", "tensor parallel degree (--tp of every SGLang worker); raises a worker's GPUs to tp unless its gpu is set",
		"an integer ≥ 1", "tp=2"),
		checkPositive, applyTP},
	{ki("max-total-tokens", "size of each SGLang worker's KV pool in tokens (adds --max-total-tokens)",
		"an integer ≥ 1", "max-total-tokens=65536"),
		checkPositive, func(r *resolver, _ []string, v string) error {
			return r.editSGLang(func(w []string) []string { return setFlag(w, "--max-total-tokens", v) })
		}},
	{ki("replicas", "replicas of every worker service (<service>.replicas sets one)",
		"an integer ≥ 0", "replicas=2"),
		checkReplicas, func(r *resolver, _ []string, v string) error {
			return applyReplicas(r, r.byRole(ComponentWorker), v)
		}},
}

// serviceFields are the keys written <service>.<field>, in the order they are applied.
var serviceFields = []keyDef{
	{ki("replicas", "replicas of the service", "an integer ≥ 0", "SGLangWorker.replicas=3"), checkReplicas, applyReplicas},
	{ki("cpu", "CPU request and limit of the service", "a positive Kubernetes quantity (e.g. 4, 500m)", "worker.cpu=8"),
		checkCPU, func(r *resolver, t []string, v string) error {
			return r.setResource(t, func(ri *ResourceItem) { ri.CPU = v })
		}},
	{ki("memory", "memory request and limit of the service", "a positive Kubernetes quantity (e.g. 16Gi)", "worker.memory=24Gi"),
		checkMemory, func(r *resolver, t []string, v string) error {
			return r.setResource(t, func(ri *ResourceItem) { ri.Memory = v })
		}},
	{ki("gpu", "GPUs (nvidia.com/gpu) request and limit of the service", "an integer ≥ 0", "decode.gpu=2"),
		checkGPU, applyGPU},
}

var roleSelectors = []string{RoleFrontend, RoleWorker, RolePrefill, RoleDecode}

// OverrideKeys lists every override key, global ones first, for help and completion.
func OverrideKeys() []KeyInfo {
	out := make([]KeyInfo, 0, len(globalKeys)+len(serviceFields))
	for _, k := range globalKeys {
		out = append(out, k.KeyInfo)
	}
	for _, f := range serviceFields {
		ki := f.KeyInfo
		ki.Key = "<service>." + f.Key
		ki.PerService = true
		out = append(out, ki)
	}
	return out
}

// KeysHelp is the override table as text, one key a line: for --help.
func KeysHelp() string {
	var b strings.Builder
	for _, k := range OverrideKeys() {
		fmt.Fprintf(&b, "  %-20s %s\n  %-20s allowed: %s (e.g. --set %s)\n", k.Key, k.Description, "", k.Allowed, k.Example)
	}
	fmt.Fprintf(&b, "\n  <service> is %s.\n  The most specific selector wins: worker < prefill/decode/frontend < a service key.\n", ServiceSelectorHelp)
	return b.String()
}

// ParseSet parses one --set argument, "key=value". The key is trimmed; the value is everything after
// the first '=' with surrounding space trimmed. It does not check the key or value: Validate does.
func ParseSet(s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("--set %q: want key=value (e.g. page-size=32); keys: %s", s, keyNames())
	}
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if k == "" {
		return "", "", fmt.Errorf("--set %q: the key before '=' is empty; keys: %s", s, keyNames())
	}
	return k, v, nil
}

// ParseSets parses several --set arguments into a map; a key given twice is an error.
func ParseSets(sets []string) (map[string]string, error) {
	out := make(map[string]string, len(sets))
	for _, s := range sets {
		k, v, err := ParseSet(s)
		if err != nil {
			return nil, err
		}
		if old, dup := out[k]; dup && old != v {
			return nil, fmt.Errorf("--set %s given twice (%q and %q): give it once", k, old, v)
		}
		out[k] = v
	}
	return out, nil
}

func keyNames() string {
	names := make([]string, 0, len(globalKeys)+len(serviceFields))
	for _, k := range globalKeys {
		names = append(names, k.Key)
	}
	for _, f := range serviceFields {
		names = append(names, "<service>."+f.Key)
	}
	return strings.Join(names, ", ")
}

// parsedKey is an override key resolved against the table.
type parsedKey struct {
	def      *keyDef
	selector string // "" for a global key
}

// lookupKey finds a key's row; service selectors are checked later, against a profile.
func lookupKey(key, value string) (parsedKey, error) {
	for i := range globalKeys {
		if globalKeys[i].Key == key {
			return parsedKey{def: &globalKeys[i]}, nil
		}
	}
	if sel, field, ok := cutLast(key, "."); ok && sel != "" {
		for i := range serviceFields {
			if serviceFields[i].Key == field {
				return parsedKey{def: &serviceFields[i], selector: sel}, nil
			}
		}
		return parsedKey{}, &OverrideError{Key: key, Value: value, Err: ErrUnknownKey,
			Reason:     fmt.Sprintf("a service has no field %q", field),
			Suggestion: nearest(field, fieldNames(), func(s string) string { return sel + "." + s }),
			Allowed:    "<service>.replicas, <service>.cpu, <service>.memory, <service>.gpu"}
	}
	return parsedKey{}, &OverrideError{Key: key, Value: value, Err: ErrUnknownKey,
		Suggestion: nearest(key, globalNames(), nil), Allowed: keyNames()}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func globalNames() []string {
	var n []string
	for _, k := range globalKeys {
		n = append(n, k.Key)
	}
	return n
}

func fieldNames() []string {
	var n []string
	for _, k := range serviceFields {
		n = append(n, k.Key)
	}
	return n
}

// nearest returns the candidate closest to s when it is a plausible typo, else "".
func nearest(s string, candidates []string, wrap func(string) string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(ls, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	switch {
	case len(s) <= 3:
		limit = 1
	case len(s) > 8:
		limit = 3
	}
	if best == "" || bestD > limit {
		return ""
	}
	if wrap != nil {
		return wrap(best)
	}
	return best
}

// Validate checks one override key and value without a profile (service selectors are checked by
// Resolve, which knows the services).
func Validate(key, value string) error {
	pk, err := lookupKey(key, value)
	if err != nil {
		return err
	}
	return pk.check(key, value)
}

func (pk parsedKey) check(key, value string) error {
	if err := pk.def.check(value); err != nil {
		return &OverrideError{Key: key, Value: value, Reason: err.Error(), Allowed: pk.def.Allowed, Err: ErrBadValue}
	}
	return nil
}

// ---- validators: each returns the reason a value is refused ----

func checkName(v string) error {
	if msgs := validation.IsDNS1123Subdomain(v); len(msgs) > 0 {
		return errors.New(msgs[0])
	}
	if len(v) > 63 {
		return fmt.Errorf("%d characters is more than 63 (the name is a label value on every pod)", len(v))
	}
	return nil
}

func checkLabel(v string) error {
	if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
		return errors.New(msgs[0])
	}
	return nil
}

func checkLabelValue(v string) error {
	if v == "" {
		return errors.New("it is empty")
	}
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return errors.New(msgs[0])
	}
	return nil
}

var imageTagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func checkImageTag(v string) error {
	if !imageTagRE.MatchString(v) {
		return errors.New("not an OCI image tag")
	}
	return nil
}

var (
	hfIDRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	modelPathRE = regexp.MustCompile(`^(/|\./|\.\./)[A-Za-z0-9._/+-]*$`)
	servedRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$`)
)

func checkModel(v string) error {
	switch {
	case v == "":
		return errors.New("it is empty")
	case hfIDRE.MatchString(v) && !strings.Contains(v, "--") && !strings.Contains(v, ".."):
		return nil
	case modelPathRE.MatchString(v) && len(v) <= 4096:
		return nil
	}
	return errors.New("neither a Hugging Face id nor a plain path")
}

func checkServedName(v string) error {
	if !servedRE.MatchString(v) {
		return errors.New("not a plain model name")
	}
	return nil
}

func parseInt(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, errors.New("out of range")
		}
		return 0, errors.New("not an integer")
	}
	return n, nil
}

func checkPageSize(v string) error {
	n, err := parseInt(v)
	if err != nil {
		return err
	}
	if n < 1 || n > 256 {
		return fmt.Errorf("%d is outside 1–256", n)
	}
	if n&(n-1) != 0 {
		return fmt.Errorf("%d is not a power of two", n)
	}
	return nil
}

func checkPositive(v string) error {
	n, err := parseInt(v)
	if err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("%d is less than 1", n)
	}
	return nil
}

func checkReplicas(v string) error {
	n, err := parseInt(v)
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("%d is negative", n)
	}
	return nil
}

func checkGPU(v string) error { return checkReplicas(v) }

func checkQuantity(v string) error {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return errors.New("not a Kubernetes quantity")
	}
	if q.Sign() <= 0 {
		return errors.New("not positive")
	}
	return nil
}

func checkCPU(v string) error { return checkQuantity(v) }

func checkMemory(v string) error { return checkQuantity(v) }

// ---- the resolver: applies checked overrides to a copy of a blueprint ----

type resolver struct {
	d           *DGD
	overrides   map[string]string
	current     string            // the override key being applied
	explicitGPU map[string]string // service → the override key that set its gpu
}

// serviceRole is a service's role: its component type, refined to prefill/decode for
// disaggregated workers (by subComponentType, else by --disaggregation-mode in its args).
func serviceRole(s *Service) string {
	if s.ComponentType == ComponentFrontend {
		return RoleFrontend
	}
	switch s.SubComponentType {
	case RolePrefill, RoleDecode:
		return s.SubComponentType
	}
	if w, err := splitCommand(s); err == nil {
		if m, ok := flagValue(w, "--disaggregation-mode"); ok && (m == RolePrefill || m == RoleDecode) {
			return m
		}
	}
	return RoleWorker
}

// byRole lists the services a role selector names; "worker" means every worker, prefill and decode too.
func (r *resolver) byRole(role string) []string {
	var out []string
	for _, k := range r.d.ServiceKeys() {
		s := r.d.Spec.Services[k]
		sr := serviceRole(s)
		if sr == role || (role == RoleWorker && s.ComponentType == ComponentWorker) {
			out = append(out, k)
		}
	}
	return out
}

// targets resolves a service selector: an exact service key, a case-insensitive one, or a role.
func (r *resolver) targets(key, value, sel string) ([]string, error) {
	if _, ok := r.d.Spec.Services[sel]; ok {
		return []string{sel}, nil
	}
	for k := range r.d.Spec.Services {
		if strings.EqualFold(k, sel) {
			return []string{k}, nil
		}
	}
	for _, role := range roleSelectors {
		if strings.EqualFold(role, sel) {
			t := r.byRole(role)
			if len(t) == 0 {
				return nil, &OverrideError{Key: key, Value: value, Err: ErrUnknownKey,
					Reason:  fmt.Sprintf("profile has no %s service", role),
					Allowed: "a selector among " + strings.Join(r.selectors(), ", ")}
			}
			return t, nil
		}
	}
	_, field, _ := cutLast(key, ".")
	return nil, &OverrideError{Key: key, Value: value, Err: ErrUnknownKey,
		Reason:     fmt.Sprintf("%q is neither a service of this profile nor a role", sel),
		Suggestion: nearest(sel, r.selectors(), func(s string) string { return s + "." + field }),
		Allowed:    "<service>." + field + " with <service> one of " + strings.Join(r.selectors(), ", ")}
}

func (r *resolver) selectors() []string {
	out := r.d.ServiceKeys()
	for _, role := range roleSelectors {
		if len(r.byRole(role)) > 0 {
			out = append(out, role)
		}
	}
	return out
}

// editSGLang rewrites the command line of every SGLang worker.
func (r *resolver) editSGLang(f func([]string) []string) error {
	for _, k := range r.d.ServiceKeys() {
		s := r.d.Spec.Services[k]
		w, suffix, err := s.words()
		if err != nil {
			return fmt.Errorf("service %s: %w", k, err)
		}
		if pythonModule(w) != moduleSGLang {
			continue
		}
		s.setWords(f(w), suffix)
	}
	return nil
}

func (r *resolver) setResource(targets []string, f func(*ResourceItem)) error {
	for _, k := range targets {
		s := r.d.Spec.Services[k]
		if s.Resources == nil {
			s.Resources = &Resources{}
		}
		if s.Resources.Requests == nil {
			s.Resources.Requests = &ResourceItem{}
		}
		if s.Resources.Limits == nil {
			s.Resources.Limits = &ResourceItem{}
		}
		// requests = limits, as in every published blueprint: the pods get the Guaranteed QoS class.
		f(s.Resources.Requests)
		f(s.Resources.Limits)
	}
	return nil
}

func applyName(r *resolver, _ []string, v string) error {
	r.d.Metadata.Name = v
	for _, s := range r.d.Spec.Services {
		s.DynamoNamespace = v
	}
	return nil
}

func applyImageTag(r *resolver, _ []string, v string) error {
	for _, s := range r.d.Spec.Services {
		if s.ExtraPodSpec == nil || s.ExtraPodSpec.MainContainer == nil || s.ExtraPodSpec.MainContainer.Image == "" {
			continue
		}
		img := s.ExtraPodSpec.MainContainer.Image
		if i := strings.Index(img, "@"); i >= 0 { // a digest pins the image; the tag replaces it
			img = img[:i]
		}
		if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
			img = img[:i]
		}
		s.ExtraPodSpec.MainContainer.Image = img + ":" + v
	}
	return nil
}

func applyNodePool(r *resolver, _ []string, v string) error {
	for _, s := range r.d.Spec.Services {
		if s.ExtraPodSpec == nil || s.ExtraPodSpec.NodeSelector[NodePoolLabel] == "" {
			continue
		}
		s.ExtraPodSpec.NodeSelector[NodePoolLabel] = v
	}
	return nil
}

func applyModel(r *resolver, _ []string, v string) error {
	_, servedSet := r.overrides["served-model-name"]
	return r.editSGLang(func(w []string) []string {
		w = setFlag(w, "--model-path", v)
		if !servedSet {
			w = setFlag(w, "--served-model-name", v)
		}
		return w
	})
}

func applyTP(r *resolver, _ []string, v string) error {
	return r.editSGLang(func(w []string) []string { return setFlag(w, "--tp", v) })
}

func applyReplicas(r *resolver, targets []string, v string) error {
	n, err := parseInt(v)
	if err != nil {
		return err
	}
	for _, k := range targets {
		n32 := int32(n)
		r.d.Spec.Services[k].Replicas = &n32
	}
	return nil
}

func applyGPU(r *resolver, targets []string, v string) error {
	for _, k := range targets {
		r.explicitGPU[k] = r.current
	}
	return r.setResource(targets, func(ri *ResourceItem) { ri.GPU = v })
}

// finish checks what only the whole object can tell: GPUs against tp, and name lengths.
func (r *resolver) finish() error {
	for _, k := range r.d.ServiceKeys() {
		s := r.d.Spec.Services[k]
		w, err := splitCommand(s)
		if err != nil || pythonModule(w) != moduleSGLang {
			continue
		}
		tpStr, ok := flagValue(w, "--tp")
		if !ok {
			continue
		}
		tp, err := strconv.Atoi(tpStr)
		if err != nil || tp <= s.gpus() {
			continue
		}
		if via := r.explicitGPU[k]; via != "" {
			return &OverrideError{Key: via, Value: s.Resources.Limits.GPU, Err: ErrBadValue,
				Reason:  fmt.Sprintf("service %s runs --tp %d, which needs %d GPUs", k, tp, tp),
				Allowed: fmt.Sprintf("at least the tp (%d) for %s", tp, k)}
		}
		if err := r.setResource([]string{k}, func(ri *ResourceItem) { ri.GPU = strconv.Itoa(tp) }); err != nil {
			return err
		}
	}
	// The operator names each component <dgd>-<service> (workers, on current operators,
	// <dgd>-<service>-<8-character hash>) and puts that name in a label value (≤ 63).
	name := r.d.Metadata.Name
	worst, worstLen, worstSuffix := "", 0, 0
	for _, k := range r.d.ServiceKeys() {
		suffix := 0
		if r.d.Spec.Services[k].ComponentType != ComponentFrontend {
			suffix = len("-") + workerHashLen
		}
		if n := len(DCDName(name, k)) + suffix; n > worstLen {
			worst, worstLen, worstSuffix = k, n, suffix
		}
	}
	if worstLen > 63 {
		shown := DCDName(name, worst)
		if worstSuffix > 0 {
			shown += "-" + strings.Repeat("x", workerHashLen)
		}
		return &OverrideError{Key: "name", Value: name, Err: ErrBadValue,
			Reason:  fmt.Sprintf("the component %s would be named %s, %d characters, over the 63 a label value allows", worst, shown, worstLen),
			Allowed: fmt.Sprintf("at most %d characters for this profile", 63-1-len(worst)-worstSuffix)}
	}
	return nil
}

// workerHashLen is the length of the hash current operators append to worker component names.
const workerHashLen = 8

// applyOverrides checks and applies overrides to d in table order: global keys, then service
// fields from the broadest selector (worker) to the narrowest (a service key), so the most specific wins.
func applyOverrides(d *DGD, overrides map[string]string) error {
	r := &resolver{d: d, overrides: overrides, explicitGPU: map[string]string{}}
	type item struct {
		key, value string
		pk         parsedKey
		rank       int
	}
	var items []item
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := overrides[k]
		pk, err := lookupKey(k, v)
		if err != nil {
			return err
		}
		if err := pk.check(k, v); err != nil {
			return err
		}
		rank := 0
		if pk.selector == "" {
			for i := range globalKeys {
				if &globalKeys[i] == pk.def {
					rank = i
				}
			}
		} else {
			fi := 0
			for i := range serviceFields {
				if &serviceFields[i] == pk.def {
					fi = i
				}
			}
			spec := 2
			switch strings.ToLower(pk.selector) {
			case RoleWorker:
				spec = 0
			case RoleFrontend, RolePrefill, RoleDecode:
				spec = 1
			}
			rank = 1000 + spec*100 + fi
		}
		items = append(items, item{k, v, pk, rank})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].rank < items[j].rank })
	for _, it := range items {
		var targets []string
		if it.pk.selector != "" {
			t, err := r.targets(it.key, it.value, it.pk.selector)
			if err != nil {
				return err
			}
			targets = t
		}
		r.current = it.key
		if err := it.pk.def.apply(r, targets, it.value); err != nil {
			return fmt.Errorf("applying %s=%s: %w", it.key, it.value, err)
		}
	}
	return r.finish()
}
