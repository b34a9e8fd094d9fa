package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/radixops/radix/kube"
)

// Process is one local process of a deployment: the embedded environment's pod.
type Process struct {
	Pod          string    `json:"pod"`     // <deployment>-<service>-<replica>, like the operator's pods
	Service      string    `json:"service"` // DGD service key
	Role         string    `json:"role"`    // frontend | worker | prefill | decode
	Replica      int       `json:"replica"`
	Args         []string  `json:"args"` // after the binary
	Port         int       `json:"port"`
	TransferPort int       `json:"transferPort,omitempty"`
	PID          int       `json:"pid"`
	StartTicks   uint64    `json:"startTicks"`
	Started      time.Time `json:"started"`
	LogFile      string    `json:"logFile"` // relative to the deployment's directory
}

// URL is the process's HTTP base URL.
func (p Process) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.Port) }

// Deployment is the persisted state of one embedded deployment.
type Deployment struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Profile     string            `json:"profile"`
	Overrides   map[string]string `json:"overrides,omitempty"`
	AsPublished bool              `json:"asPublished,omitempty"` // deployed with --as-published: its manifest keeps the defects
	Model       string            `json:"model"`                 // the model directory or file the workers load
	ServedModel string            `json:"servedModel"`           // the name clients ask for
	ModelNote   string            `json:"modelNote,omitempty"`
	PageSize    int               `json:"pageSize"`
	Binary      string            `json:"binary"`
	Created     time.Time         `json:"created"`
	Processes   []Process         `json:"processes"`
	Events      []kube.Event      `json:"events,omitempty"`
	Deleting    bool              `json:"deleting,omitempty"`
}

// maxEvents bounds the events kept per deployment.
const maxEvents = 100

func (d *Deployment) event(typ, reason, object, msg string) {
	now := time.Now()
	if n := len(d.Events); n > 0 {
		last := &d.Events[n-1]
		if last.Reason == reason && last.Object == object && last.Message == msg {
			last.Count++
			last.Time = now
			return
		}
	}
	d.Events = append(d.Events, kube.Event{Time: now, Type: typ, Reason: reason, Object: object, Message: msg, Count: 1})
	if len(d.Events) > maxEvents {
		d.Events = d.Events[len(d.Events)-maxEvents:]
	}
}

// store reads and writes deployment state under root.
type store struct{ root string }

func (s store) dir(ns, name string) string { return filepath.Join(s.root, "deployments", ns, name) }

func (s store) file(ns, name string) string { return filepath.Join(s.dir(ns, name), "deployment.json") }

// create makes a new deployment's directory; it fails if one of that name exists.
func (s store) create(ns, name string) error {
	if err := os.MkdirAll(filepath.Join(s.root, "deployments", ns), 0o755); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	if err := os.Mkdir(s.dir(ns, name), 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("deployment %s already exists in namespace %s (delete it first)", name, ns)
		}
		return fmt.Errorf("creating the state of %s/%s: %w", ns, name, err)
	}
	return os.Mkdir(filepath.Join(s.dir(ns, name), "logs"), 0o755)
}

// save writes d atomically: a reader sees the old state or the new one, never half.
func (s store) save(d *Deployment) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	path := s.file(d.Namespace, d.Name)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".deployment-*.json")
	if err != nil {
		return fmt.Errorf("saving %s/%s: %w", d.Namespace, d.Name, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("saving %s/%s: %w", d.Namespace, d.Name, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (s store) load(ns, name string) (*Deployment, error) {
	b, err := os.ReadFile(s.file(ns, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("deployment %s/%s: %w", ns, name, kube.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var d Deployment
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("reading the state of %s/%s (%s): %w", ns, name, s.file(ns, name), err)
	}
	return &d, nil
}

// list loads every deployment in ns ("" for all), sorted by namespace and name. A state file that
// can't be read is reported as a failed deployment rather than hidden.
func (s store) list(ns string) ([]*Deployment, []error) {
	var out []*Deployment
	var errs []error
	nss := []string{ns}
	if ns == "" {
		entries, _ := os.ReadDir(filepath.Join(s.root, "deployments")) // none yet is an empty list
		nss = nss[:0]
		for _, e := range entries {
			if e.IsDir() {
				nss = append(nss, e.Name())
			}
		}
	}
	for _, n := range nss {
		entries, _ := os.ReadDir(filepath.Join(s.root, "deployments", n))
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			d, err := s.load(n, e.Name())
			if err != nil {
				if !errors.Is(err, kube.ErrNotFound) { // a directory mid-create has no file yet
					errs = append(errs, err)
				}
				continue
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, errs
}

func (s store) remove(ns, name string) error {
	return os.RemoveAll(s.dir(ns, name))
}
