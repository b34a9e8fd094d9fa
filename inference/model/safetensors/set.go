package safetensors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of the shard index of a sharded checkpoint.
const IndexFile = "model.safetensors.index.json"

// Set is the tensors of a checkpoint directory: one file, or the shards named by its index.
type Set struct {
	Dir    string
	files  []*File
	byName map[string]*Tensor
	names  []string
}

// OpenDir opens the checkpoint in dir: the shards listed in model.safetensors.index.json when present,
// else model.safetensors, else the single *.safetensors file in dir.
func OpenDir(dir string) (*Set, error) {
	s := &Set{Dir: dir, byName: map[string]*Tensor{}}
	idxPath := filepath.Join(dir, IndexFile)
	if raw, err := os.ReadFile(idxPath); err == nil {
		if err := s.openIndexed(idxPath, raw); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", idxPath, err)
	}
	path := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(path); err != nil {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
		switch len(matches) {
		case 0:
			return nil, fmt.Errorf("no model.safetensors, %s or *.safetensors in %s", IndexFile, dir)
		case 1:
			path = matches[0]
		default:
			return nil, fmt.Errorf("%d *.safetensors files in %s but no %s to say how they fit together", len(matches), dir, IndexFile)
		}
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	s.add(f)
	s.finish()
	return s, nil
}

func (s *Set) openIndexed(idxPath string, raw []byte) error {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("shard index %s: %w", idxPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("shard index %s: empty weight_map", idxPath)
	}
	opened := map[string]*File{}
	shards := make([]string, 0)
	for _, shard := range idx.WeightMap {
		if _, ok := opened[shard]; ok {
			continue
		}
		// Shard names are plain file names beside the index; anything else could escape the directory.
		if shard == "" || shard != filepath.Base(shard) || strings.HasPrefix(shard, ".") {
			return fmt.Errorf("shard index %s: shard name %q is not a file name in the model directory", idxPath, shard)
		}
		opened[shard] = nil
		shards = append(shards, shard)
	}
	sort.Strings(shards)
	for _, shard := range shards {
		f, err := Open(filepath.Join(s.Dir, shard))
		if err != nil {
			return err
		}
		opened[shard] = f
		s.add(f)
	}
	for name, shard := range idx.WeightMap {
		if opened[shard].Tensor(name) == nil {
			return fmt.Errorf("shard index %s: tensor %q is mapped to %s, which does not hold it", idxPath, name, shard)
		}
	}
	s.finish()
	return nil
}

func (s *Set) add(f *File) {
	s.files = append(s.files, f)
	for _, n := range f.Names() {
		if _, dup := s.byName[n]; !dup {
			s.byName[n] = f.Tensor(n)
		}
	}
}

func (s *Set) finish() {
	for n := range s.byName {
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
}

// Names lists every tensor name in sorted order.
func (s *Set) Names() []string { return s.names }

// Tensor returns the named tensor, or nil.
func (s *Set) Tensor(name string) *Tensor { return s.byName[name] }

// Files returns the open files (one per shard).
func (s *Set) Files() []*File { return s.files }

// Close unmaps every file.
func (s *Set) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
