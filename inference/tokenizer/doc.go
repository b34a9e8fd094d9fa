// Package tokenizer turns text into token ids and back for the Llama-family models radix runs, and renders
// their chat templates.
//
// What lives here:
//   - a loader for Hugging Face tokenizer.json files (BPE model; byte-level vocabularies as in Llama 3,
//     DeepSeek-R1-Distill and Qwen, and SentencePiece-style vocabularies with byte fallback as in Llama 2
//     and TinyLlama), with normalizers, pre-tokenizers, added and special tokens, post-processors and
//     decoders matching the Hugging Face tokenizers library exactly for the supported components;
//   - FromGGUF, which builds the same Tokenizer from the tokenizer.ggml.* metadata of a GGUF file;
//   - Decode and a streaming detokeniser (Stream) that never emits broken UTF-8;
//   - chat templates from tokenizer_config.json rendered with a Jinja engine, and a built-in fallback;
//   - SyntheticByteLevel, a deterministic small byte-level BPE for seeded random test models.
//
// What does not: reading GGUF files (the model package does that and hands over a GGUFVocab), sampling,
// and anything about model weights.
//
// The Llama 3 / GPT-2 / Qwen2 pre-tokenizer regular expressions use a lookahead that Go's regexp lacks;
// they are recognised by their exact pattern strings and matched by hand-written code (pretok.go) that
// follows the backtracking semantics of the original expressions. Other patterns whose only lookaround is
// a top-level \s+(?!\S) alternative (DeepSeek V3's, for one) are matched alternative by alternative with
// anchored Go regexps; patterns without lookaround go to Go's regexp (with \s widened to Unicode
// White_Space as in Oniguruma); anything else is refused with an error naming the pattern.
//
// Exactness is checked against the Hugging Face libraries: testdata/gen/gen_goldens.py trains byte-level
// and SentencePiece-style tokenizers with `tokenizers`, and records encodings, decodings and
// transformers' chat-template renderings that the tests compare byte for byte.
package tokenizer
