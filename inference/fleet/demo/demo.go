// Package demo ships radix's own demo model inside the binary, so the embedded environment can serve a
// chat model on a fresh machine with nothing downloaded. model/ holds the Hugging Face directory that
// train/train.py produced from the corpus that corpus/ generates; README.md records how.
package demo

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed model/config.json model/generation_config.json model/model.safetensors model/tokenizer.json model/tokenizer_config.json
var files embed.FS

// Name is how the console and logs refer to the demo model.
const Name = "radix-demo"

// Files returns the model directory as a file system (config.json, model.safetensors, tokenizer.json…).
func Files() fs.FS {
	sub, err := fs.Sub(files, "model")
	if err != nil {
		panic(err) // the embedded path is fixed at build time
	}
	return sub
}

// version is a digest of the embedded files, so a newer binary's model never mixes with an older one's.
func version() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Extract writes the demo model under dir (once per model version) and returns its directory, which
// any radix process can load like any Hugging Face model directory.
func Extract(dir string) (string, error) {
	v, err := version()
	if err != nil {
		return "", fmt.Errorf("hashing the embedded demo model: %w", err)
	}
	dst := filepath.Join(dir, Name+"-"+v)
	if _, err := os.Stat(filepath.Join(dst, ".complete")); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("extracting the demo model: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".extract-")
	if err != nil {
		return "", fmt.Errorf("extracting the demo model: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left to remove
	err = fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, p), b, 0o644)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, ".complete"), []byte(v+"\n"), 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("extracting the demo model to %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		// Another process extracted the same version first: theirs is as good as ours.
		if _, serr := os.Stat(filepath.Join(dst, ".complete")); serr == nil {
			return dst, nil
		}
		return "", fmt.Errorf("installing the demo model at %s: %w", dst, err)
	}
	return dst, nil
}
