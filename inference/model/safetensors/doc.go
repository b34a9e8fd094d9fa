// Package safetensors reads and writes Hugging Face safetensors files.
//
// A file is memory-mapped read-only and its tensors are slices into the mapping: weights are never
// copied at load. Every length and offset in the header is checked against the file before use, so a
// truncated, corrupt or hostile file is refused with an error naming the file and the fault. Sharded
// checkpoints (model.safetensors.index.json) open as one Set. A streaming Writer serves `radix model
// random`, which must write multi-gigabyte checkpoints without holding them in memory.
//
// Tensor semantics (which tensor is which weight) live in package model, not here.
package safetensors
