#!/usr/bin/env python3
"""Reference logits and greedy continuations for radix's random test models, from Hugging Face
transformers (float32, eager attention, CPU: deterministic and free of TF32).

    python3 goldens.py TESTDATA_DIR OUT_DIR

reads TESTDATA_DIR/golden/prompts.json and each model directory it names, and writes OUT_DIR/<name>.json:
    {"model", "torch", "transformers", "cases": [{"prompt", "greedy", "prompt_logits", "step_logits",
     "min_margin"}]}
prompt_logits[i] are the logits at prompt position i; step_logits[s] the logits that choose greedy[s]
(position len(prompt)-1+s); greedy comes from full recomputation at every step (no KV cache).
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def load(path):
    kw = dict(attn_implementation="eager")
    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kw)
    except TypeError:
        return AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32, **kw)


def rows(t):
    return [[round(float(v), 6) for v in r] for r in t.tolist()]


def main():
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.set_grad_enabled(False)
    spec = json.load(open(os.path.join(root, "golden", "prompts.json")))
    steps = spec["steps"]
    failed = []
    for name, prompts in sorted(spec["prompts"].items()):
        try:
            run(root, out, name, prompts, steps)
        except Exception as e:  # keep the other models' goldens
            print("FAILED", name, repr(e), flush=True)
            failed.append(name)
    sys.exit(1 if failed else 0)


def run(root, out, name, prompts, steps):
    path = os.path.join(root, name)
    model = load(path).to("cpu").eval()
    assert next(model.parameters()).dtype == torch.float32
    cfg = AutoConfig.from_pretrained(path)
    print(name, type(model).__name__, "tied:", model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(),
          "rope:", getattr(cfg, "rope_scaling", None), getattr(cfg, "rope_parameters", None), flush=True)
    cases = []
    for prompt in prompts:
        ids = list(prompt)
        for _ in range(steps):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(torch.argmax(logits)))
        full = model(torch.tensor([ids[:-1]])).logits[0]
        n = len(prompt)
        step_logits = full[n - 1:]
        assert step_logits.shape[0] == steps
        greedy = ids[n:]
        if [int(torch.argmax(r)) for r in step_logits] != greedy:
            print("  WARNING: step-by-step greedy disagrees with the one-pass logits (a near-tie)", flush=True)
        top2 = torch.topk(step_logits, 2, dim=-1).values
        cases.append({
            "prompt": prompt,
            "greedy": greedy,
            "prompt_logits": rows(full[:n]),
            "step_logits": rows(step_logits),
            "min_margin": float((top2[:, 0] - top2[:, 1]).min()),
            "max_abs_logit": float(full.abs().max()),
        })
        print(" ", name, "prompt", len(prompt), "greedy", greedy, "min margin %.4f" % cases[-1]["min_margin"], flush=True)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({"model": name, "torch": torch.__version__, "transformers": transformers.__version__, "cases": cases}, f,
                  separators=(",", ":"))


if __name__ == "__main__":
    main()
