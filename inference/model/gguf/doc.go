// Package gguf reads and writes GGUF files (the llama.cpp model format, versions 2 and 3).
//
// A file is memory-mapped read-only; the header (metadata key/values of every GGUF type and the tensor
// infos) is parsed with every length, count and offset checked against the bytes that remain, so a
// truncated, corrupt or hostile file is refused with an error naming the file and the fault, and no count
// read from the file can make the reader allocate more than the file could hold. Tensor data are slices
// of the mapping. A streaming Writer serves `radix model random --gguf`.
//
// What the tensors and keys mean for a model (names, the q/k row permutation of llama.cpp's converter,
// the tokenizer.ggml.* vocabulary) is package model's business, not this one's.
package gguf
