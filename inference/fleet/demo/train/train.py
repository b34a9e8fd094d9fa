#!/usr/bin/env python3
"""Train radix's demo model: a small Llama with a byte-level BPE tokenizer, on the generated corpus.

Inputs are the JSONL files written by `go run ./inference/fleet/demo/corpus/cmd/democorpus -out DIR`
(plain or gzipped). Outputs, in --out, form a Hugging Face model directory that radix serves:
config.json, generation_config.json, model.safetensors (bf16), tokenizer.json, tokenizer_config.json
(with the chat template), plus train_log.json (settings, losses, sample answers) and goldens.json
(greedy continuations computed by transformers, for radix's own tests).

Run on a GPU machine with torch, transformers and tokenizers:
    python3 train.py --data DIR --out OUTDIR
"""
import argparse
import gzip
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

BOS, EOS, START, END, EOT = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
)
SPECIALS = [BOS, EOS, START, END, EOT]

# Llama 3's pre-tokenizer split, so the runtime's byte-level path for Llama 3 models serves this one too.
SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# The chat template shipped in tokenizer_config.json; render() below is the same format in Python.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

PROMPTS = [
    "What is machine learning?",
    "If a train travels 120 miles in 2 hours, what is its average speed?",
    "What is RadixAttention?",
    "How do I check the cache hit rate?",
]


def render(messages, add_generation_prompt=False):
    s = BOS
    for m in messages:
        s += START + m["role"] + END + "\n\n" + m["content"].strip() + EOT
    if add_generation_prompt:
        s += START + "assistant" + END + "\n\n"
    return s


def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def find(data_dir, name):
    for candidate in (name, name + ".gz"):
        p = os.path.join(data_dir, candidate)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{name} not found in {data_dir}")


def train_tokenizer(dialogues, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )

    def texts():
        for d in dialogues:
            for m in d["messages"]:
                yield m["role"] + "\n\n" + m["content"].strip()

    tok.train_from_iterator(texts(), trainer)
    return tok


def encode_all(tok, dialogues):
    rendered = [render(d["messages"]) for d in dialogues]
    ids = []
    for enc in tok.encode_batch(rendered, add_special_tokens=False):
        ids.extend(enc.ids)
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def evaluate(model, data, seq, batches, bsz, device):
    model.eval()
    n = (len(data) - 1) // seq
    idx = list(range(n))[: batches * bsz]
    total, count = 0.0, 0
    for i in range(0, len(idx), bsz):
        chunk = idx[i : i + bsz]
        x = torch.stack([data[j * seq : j * seq + seq] for j in chunk]).to(device)
        y = torch.stack([data[j * seq + 1 : j * seq + seq + 1] for j in chunk]).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1), reduction="sum")
        total += loss.item()
        count += y.numel()
    model.train()
    return total / max(count, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=640)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = "cuda"
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    train_d = read_jsonl(find(args.data, "train.jsonl"))
    held_d = read_jsonl(find(args.data, "heldout.jsonl"))
    tok = train_tokenizer(train_d, args.vocab)
    ids = {s: tok.token_to_id(s) for s in SPECIALS}
    for s in SPECIALS:
        assert tok.encode(s, add_special_tokens=False).ids == [ids[s]], s

    # The Jinja template and render() must agree, or the model learns a format it is never shown.
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOT, chat_template=CHAT_TEMPLATE)
    for d in train_d[:50]:
        a = fast.apply_chat_template(d["messages"], tokenize=False)
        assert a == render(d["messages"]), (a, render(d["messages"]))
    a = fast.apply_chat_template(held_d[0]["messages"][:-1], tokenize=False, add_generation_prompt=True)
    assert a == render(held_d[0]["messages"][:-1], True)

    train_ids = encode_all(tok, train_d)
    held_ids = encode_all(tok, held_d)
    print(f"tokens: train {len(train_ids)}, held-out {len(held_ids)}; tokenizer {time.time()-t0:.1f}s", flush=True)

    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=args.hidden,
        intermediate_size=args.ffn,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.hidden // args.heads,
        max_position_embeddings=2048,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOT],
        attention_bias=False,
        mlp_bias=False,
    )
    model = LlamaForCausalLM(cfg).to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    warmup = max(1, args.steps // 25)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        p = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    data = train_ids.to(device)
    g = torch.Generator(device="cpu").manual_seed(args.seed)
    losses = []
    model.train()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        starts = torch.randint(0, len(data) - args.seq - 1, (args.batch,), generator=g)
        x = torch.stack([data[s : s + args.seq] for s in starts.tolist()])
        y = torch.stack([data[s + 1 : s + args.seq + 1] for s in starts.tolist()])
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 250 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f} lr {lr_at(step):.2e} {time.time()-t0:.0f}s", flush=True)

    train_loss = evaluate(model, train_ids, args.seq, 8, args.batch, device)
    held_loss = evaluate(model, held_ids, args.seq, 8, args.batch, device)
    print(f"final: train loss {train_loss:.4f}, held-out loss {held_loss:.4f}", flush=True)

    # Ship bf16 weights; goldens and samples are computed from exactly those weights, in float32.
    model = model.to(torch.bfloat16)
    model.generation_config.eos_token_id = [ids[EOT], ids[EOS]]
    model.generation_config.bos_token_id = ids[BOS]
    model.generation_config.do_sample = False
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(
            {
                "bos_token": BOS,
                "eos_token": EOT,
                "add_bos_token": False,
                "chat_template": CHAT_TEMPLATE,
                "model_max_length": 2048,
                "tokenizer_class": "PreTrainedTokenizerFast",
                "clean_up_tokenization_spaces": False,
            },
            f,
            indent=2,
        )

    model = model.float().eval()
    samples, goldens = [], []
    for q in PROMPTS:
        prompt_ids = tok.encode(render([{"role": "user", "content": q}], True), add_special_tokens=False).ids
        with torch.no_grad():
            out = model.generate(
                torch.tensor([prompt_ids], device=device),
                max_new_tokens=96,
                do_sample=False,
                eos_token_id=[ids[EOT], ids[EOS]],
                pad_token_id=ids[EOS],
            )[0].tolist()[len(prompt_ids) :]
            logits = model(torch.tensor([prompt_ids], device=device)).logits[0, -1].float().cpu()
        text = tok.decode(out, skip_special_tokens=True)
        print(f"Q: {q}\nA: {text}\n", flush=True)
        samples.append({"prompt": q, "answer": text})
        goldens.append(
            {
                "prompt": q,
                "prompt_ids": prompt_ids,
                "greedy_ids": out,
                "last_logits_top": torch.topk(logits, 10).indices.tolist(),
                "last_logits_top_values": [round(v, 5) for v in torch.topk(logits, 10).values.tolist()],
            }
        )

    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(
            {
                "args": vars(args),
                "parameters": params,
                "train_tokens": len(train_ids),
                "heldout_tokens": len(held_ids),
                "final_train_loss": train_loss,
                "final_heldout_loss": held_loss,
                "loss_every_100_steps": [round(l, 4) for l in losses[::100]],
                "model_safetensors_bytes": size,
                "seconds": round(time.time() - t0, 1),
                "torch": torch.__version__,
                "samples": samples,
            },
            f,
            indent=2,
        )
    with open(os.path.join(args.out, "goldens.json"), "w") as f:
        json.dump(goldens, f)
    print(f"model.safetensors {size} bytes; done in {time.time()-t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
