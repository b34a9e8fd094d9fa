// Command democorpus writes the demo model's training and held-out corpora as JSONL.
//
//	go run ./inference/fleet/demo/corpus/cmd/democorpus -out DIR
//
// The training script (inference/fleet/demo/train/train.py) reads DIR/train.jsonl and DIR/heldout.jsonl.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/radixops/radix/inference/fleet/demo/corpus"
)

func main() {
	out := flag.String("out", ".", "directory to write train.jsonl and heldout.jsonl into")
	n := flag.Int("n", 60000, "training dialogues")
	held := flag.Int("heldout", 2000, "held-out dialogues")
	seed := flag.Uint64("seed", 1, "seed of the training set; the held-out set uses seed+1000")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	write := func(name string, seed uint64, n int) {
		f, err := os.Create(filepath.Join(*out, name))
		if err != nil {
			fail(err)
		}
		w := bufio.NewWriter(f)
		if err := corpus.WriteJSONL(w, corpus.Generate(seed, n)); err != nil {
			fail(err)
		}
		if err := w.Flush(); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
	}
	write("train.jsonl", *seed, *n)
	write("heldout.jsonl", *seed+1000, *held)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "democorpus:", err)
	os.Exit(1)
}
