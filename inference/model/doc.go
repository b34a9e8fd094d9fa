// Package model runs Llama-family decoder models on the CPU: Llama 2 and 3 (grouped-query attention,
// Llama 3 RoPE scaling, tied or untied embeddings) and Qwen3 (per-head q/k RMSNorm).
//
// Load reads a Hugging Face directory (config.json, safetensors single or sharded, tokenizer files) or a
// GGUF file (F32/F16/BF16/Q8_0/Q4_0 tensors, tokenizer in the metadata) and converts the weights once to
// the compute type chosen at load (f32, bf16 or q8_0; quantised formats of a GGUF file stay as they are).
// Weights that need no conversion stay in the file's memory mapping. llama.cpp's converter permutes the
// q/k rows of Llama for its interleaved RoPE; Load undoes that so one RoPE (rotate_half) serves both.
//
// Forward runs one step over a batch of sequences, each with one or more new tokens at the end of its
// known positions, reading and writing K/V through the sequence's KV slots in a kvcache.Pool, so a
// cached prefix is never recomputed. It returns the last token's logits of each sequence.
//
// WriteRandom writes seeded random models (safetensors directory, optionally GGUF) for tests and
// benchmarks. The numeric inner loops live in model/kernels; tokenisation in tokenizer; the cache's
// bookkeeping in kvcache; sampling and scheduling in engine.
package model
