#!/usr/bin/env python3
"""Trains small tokenizers with the Hugging Face `tokenizers` library and writes golden encodings,
decodings and chat-template renderings for radix's Go tokenizer tests.

Usage: python3 gen_goldens.py OUTDIR
Needs: tokenizers, transformers (with jinja2). Downloads nothing: the corpus is generated here.
Writes into OUTDIR: bytelevel.json, bytelevel_qwen.json, bytelevel_gpt2.json, spm.json,
spm_metaspace.json (tokenizer.json files), goldens.json (encodings/decodings per tokenizer),
chat_goldens.json (templates and their renderings by transformers), versions.txt.
Copy them to inference/tokenizer/testdata/; TestGoldenHF and TestGoldenChatTemplates read them there.
"""
import json
import os
import random
import sys
import traceback

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

OUT = sys.argv[1] if len(sys.argv) > 1 else "out"
os.makedirs(OUT, exist_ok=True)

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]

WORDS = ("the cache tree prefix token model request server page pool radix engine scheduler batch decode "
         "prefill attention layer head value key memory evict lock match insert stream text byte merge "
         "vocabulary Hello World Über naïve café résumé façade Straße Ελληνικά русский язык").split()
CJK = ["你好", "世界", "缓存", "前缀树", "日本語", "テキスト", "ひらがな", "한국어", "안녕하세요", "中文分词"]
EMOJI = ["😀", "👍", "👍🏽", "👩🏿‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "1️⃣", "❤️", "🧑🏻‍🤝‍🧑🏾", "🐍", "🚀", "✨"]
MARKS = ["e\u0301", "a\u0300\u0316", "n\u0303", "Z\u0351\u0352\u0353", "\u0915\u093f", "\u0627\u064e", "o\u0308\u0304"]
SCRIPTS = ["मशीन लर्निंग", "العربية", "עברית", "ภาษาไทย", "Tiếng Việt", "ქართული", "Հայերեն"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2003", " \t \n"]
CODE = [
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if err != nil {\n\treturn fmt.Errorf(\"load: %w\", err)\n}",
    "SELECT * FROM t WHERE id = 42;",
    "{\"role\": \"user\", \"content\": \"hi\"}",
    "x = [1, 2, 3]  # comment\n",
    "fn main() { println!(\"{}\", 1_000_000); }",
]


def digits(rng):
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))


def piece(rng, with_specials):
    k = rng.randint(0, 9)
    if k <= 3:
        return rng.choice(WORDS)
    if k == 4:
        return rng.choice(CJK)
    if k == 5:
        return rng.choice(EMOJI)
    if k == 6:
        return rng.choice(MARKS + SCRIPTS)
    if k == 7:
        return digits(rng)
    if k == 8:
        return rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", ",", ".", "!", "?", "...", "--", "(", ")", "\"", ":"])
    if with_specials and rng.random() < 0.5:
        return rng.choice(SPECIALS)
    return rng.choice(CODE)


def line(rng, with_specials):
    out = []
    for _ in range(rng.randint(1, 14)):
        out.append(piece(rng, with_specials))
        out.append(rng.choice(SPACES) if rng.random() < 0.25 else " ")
    return "".join(out)


def training_corpus():
    rng = random.Random(20261127)
    lines = [line(rng, True) for _ in range(3000)]
    lines += CODE * 20
    return lines


def test_corpus():
    fixed = [
        "", " ", "  ", "   ", "\t", "\n", "\n\n\n", "\r\n", " \n", "\n ", "a", "A", "hello", " hello", "  hello",
        "hello ", "hello  ", "hello world", "Hello, World!", "hello\nworld", "hello\n\nworld", "hello \n world",
        "hello\t\tworld", "x  \n\n  y", "trailing spaces   ", "   leading spaces", "\u00a0nbsp\u00a0", "ideo\u3000space",
        "em\u2003space", "nel\u0085line", "v\u000bf\u000c", "1", "12", "123", "1234", "12345", "1234567890",
        " 42", "3.14159", "1,000,000", "٣٤٥٦", "x² + y²", "ⅫⅣ", "½ and ¾", "I'm", "you're", "they've", "she'll",
        "he'd", "it's", "don't", "I'M", "YOU'RE", "SHE'LL", "'s", "'ſ", "x'ſ", "'S", "''s", "'", "''", "'x",
        "café", "cafe\u0301", "naïve résumé", "Straße", "ΕΛΛΗΝΙΚΆ", "русский язык", "你好世界", "你好 世界",
        "日本語のテキスト", "한국어 텍스트", "Z\u0351\u0352\u0353algo", "\u0915\u093f\u0924\u093e\u092c",
        "العربية لغة", "עברית", "ภาษาไทย", "Tiếng Việt", "😀", "👍🏽", "👩🏿‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵",
        "1️⃣2️⃣", "❤️🔥", "emoji 😀 in text", "  😀  ", "<|begin_of_text|>", "<|eot_id|>", "a<|eot_id|>b",
        " <|eot_id|> ", "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", "<|eot_id|><|eot_id|>",
        "<|eot_id", "<|begin_of_text|>hello", "<tool_call>", "x <tool_call> y", "a  <tool_call>  b",
        "radix_cache", "a radix_cache b", "radix_cacheX", "Xradix_cache", "_radix_cache", "(radix_cache)",
        "ÄÖÜ", "xÄÖÜy", "[[x]]", "a [[x]] b", "<0x41>", "<0x0A>", "<s>", "</s>", "<unk>", "a<s>b</s>",
        "def f(x):\n    return x * 2\n", "if err != nil {\n\treturn err\n}", "    indented\n        more",
        "\t\tcode();\n", "a\r\nb\r\n", "!!!", "...", "?!", " ?!", "a.b.c", "path/to/file.go", "http://example.com/a?b=c",
        "@user #tag $100 %50 ^ & * ~ `", "x==y&&z!=w", "{}[]()<>", "\\n", "\"quoted\"", "tab\tsep\tvalues",
        "word" * 30, "ab" * 200, " " * 50 + "x", "\n" * 20, "9" * 40, "😀" * 20, "你" * 30,
    ]
    rng = random.Random(7)
    gen = [line(rng, True) for _ in range(200 - len(fixed))]
    return fixed + gen


def finish_bytelevel(tok, pattern, gpt2=False, nfc=False):
    d = json.loads(tok.to_str())
    d["model"]["ignore_merges"] = True
    if gpt2:
        d["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    else:
        d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    d["normalizer"] = {"type": "NFC"} if nfc else None
    bos = tok.token_to_id(SPECIALS[0])
    d["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": SPECIALS[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": SPECIALS[0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": SPECIALS[0], "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {SPECIALS[0]: {"id": SPECIALS[0], "ids": [bos], "tokens": [SPECIALS[0]]}}}]}
    d["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    return Tokenizer.from_str(json.dumps(d))


def train_bytelevel(corpus):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, show_progress=False, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens([
        AddedToken("<tool_call>", lstrip=True, rstrip=True, normalized=False, special=False),
        AddedToken("radix_cache", single_word=True, normalized=False, special=False),
        AddedToken("ÄÖÜ", normalized=True, special=False),
    ])
    return tok


def train_spm(corpus):
    byte_toks = ["<0x%02X>" % b for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=500, show_progress=False, special_tokens=["<unk>", "<s>", "</s>"] + byte_toks,
                                  limit_alphabet=80)
    tok.train_from_iterator(corpus, trainer)
    d = json.loads(tok.to_str())
    # As in Llama 2's tokenizer.json, byte tokens live in the vocabulary only, not among added tokens.
    d["added_tokens"] = [a for a in d["added_tokens"] if a["content"] not in byte_toks]
    d["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    tok = Tokenizer.from_str(json.dumps(d))
    tok.add_tokens([
        AddedToken("<tool_call>", lstrip=True, rstrip=False, normalized=False, special=False),
        AddedToken("[[x]]", normalized=True, special=False),
    ])
    return tok


DEEPSEEK_LIKE = [
    r"\p{N}{1,3}",
    r"[一-龥぀-ゟ゠-ヿ]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]


def pretok_variant(tok, pre):
    d = json.loads(tok.to_str())
    d["pre_tokenizer"] = pre
    return Tokenizer.from_str(json.dumps(d))


def extra_variants(bl, spm):
    bl_plain = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    return {
        # Several Split pre-tokenizers in sequence, the last one with a lookahead (DeepSeek V3 style).
        "bytelevel_deepseek": pretok_variant(bl, {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False} for p in DEEPSEEK_LIKE] + [bl_plain]}),
        "bytelevel_prefix": pretok_variant(bl, {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}),
        # Every Split behaviour, invert, string patterns and Digits.
        "bytelevel_behaviors": pretok_variant(bl, {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\p{P}+"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[a-m]+"}, "behavior": "Contiguous", "invert": True},
            {"type": "Split", "pattern": {"String": "\n"}, "behavior": "Removed", "invert": False},
            {"type": "Digits", "individual_digits": True},
            bl_plain]}),
        "spm_metaspace_split": pretok_variant(spm, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}),
    }


def metaspace_variant(tok):
    d = json.loads(tok.to_str())
    d["normalizer"] = None
    d["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    return Tokenizer.from_str(json.dumps(d))


def goldens(name, tok, texts, rng):
    cases = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        ids_sp = tok.encode(t, add_special_tokens=True).ids
        cases.append({"text": t, "ids": ids, "ids_special": ids_sp,
                      "decode": tok.decode(ids_sp, skip_special_tokens=False),
                      "decode_skip": tok.decode(ids_sp, skip_special_tokens=True)})
    n = tok.get_vocab_size(with_added_tokens=True)
    rand_dec = []
    for _ in range(60):
        ids = [rng.randrange(n) for _ in range(rng.randint(1, 10))]
        rand_dec.append({"ids": ids, "decode": tok.decode(ids, skip_special_tokens=False),
                         "decode_skip": tok.decode(ids, skip_special_tokens=True)})
    return {"tokenizer": name + ".json", "cases": cases, "random_decodes": rand_dec}


TEMPLATE_LLAMA3_LIKE = r"""{{- bos_token }}
{%- if not today is defined %}
    {%- set today = "01 Jan 2025" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_text = messages[0]['content']|trim %}
    {%- set rest = messages[1:] %}
{%- else %}
    {%- set system_text = "You are a helpful assistant." %}
    {%- set rest = messages %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Date: " + today + "\n\n" }}
{{- system_text }}
{{- "<|eot_id|>" }}
{%- set counter = namespace(users=0, chars=0) %}
{%- for m in rest %}
    {%- if m.role not in ['user', 'assistant'] %}
        {{- raise_exception("role not supported: " ~ m.role) }}
    {%- endif %}
    {%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('turns must alternate between user and assistant') }}
    {%- endif %}
    {%- if m.role == 'user' %}{% set counter.users = counter.users + 1 %}{% endif %}
    {%- set counter.chars = counter.chars + m['content']|length %}
    {{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{% if add_generation_prompt %}
    {{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{% endif %}
{# a comment #}
{%- if show_stats is defined and show_stats %}
[{{ counter.users }} user turns, {{ counter.chars }} chars, last role {{ rest[-1].role | upper }}]
{%- endif %}"""

TEMPLATE_QWEN3_LIKE = r"""{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- set st = namespace(looking=true, last_user=messages|length - 1) %}
{%- for m in messages[::-1] %}
    {%- set pos = (messages|length - 1) - loop.index0 %}
    {%- if st.looking and m.role == "user" and not (m.content.startswith('<result>') and m.content.endswith('</result>')) %}
        {%- set st.looking = false %}
        {%- set st.last_user = pos %}
    {%- endif %}
{%- endfor %}
{%- for m in messages %}
    {%- set text = m.content if m.content is string else '' %}
    {%- if m.role == "user" or (m.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + m.role + '\n' + text + '<|im_end|>\n' }}
    {%- elif m.role == "assistant" %}
        {%- set thought = '' %}
        {%- if '</think>' in text %}
            {%- set thought = text.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- set text = text.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {%- if loop.index0 > st.last_user and (loop.last or thought) %}
            {{- '<|im_start|>assistant\n<think>\n' + thought.strip('\n') + '\n</think>\n\n' + text.lstrip('\n') }}
        {%- else %}
            {{- '<|im_start|>assistant\n' + text }}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif m.role == "tool" %}
        {%- if loop.first or messages[loop.index0 - 1].role != "tool" %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<result>\n' + text + '\n</result>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != "tool" %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if thinking is defined and thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

CONVS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "  Be brief.  "}, {"role": "user", "content": "What is a radix tree?"}],
    [{"role": "system", "content": "Sys"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
     {"role": "user", "content": " and then? \n"}],
    [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
     {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": "<think>\nagain\n</think>\n6"}],
    [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": "calling"},
     {"role": "tool", "content": "sunny"}, {"role": "tool", "content": "22C"}],
    [{"role": "assistant", "content": "I speak first"}],
    [{"role": "user", "content": "你好 👋"}, {"role": "assistant", "content": "你好！"}],
]


def chat_goldens(tok):
    from transformers import PreTrainedTokenizerFast
    out = {"templates": {"llama3_like": TEMPLATE_LLAMA3_LIKE, "qwen3_like": TEMPLATE_QWEN3_LIKE}, "cases": []}
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    for tname, src in out["templates"].items():
        for ci, conv in enumerate(CONVS):
            for gen in (False, True):
                for extra in ({}, {"today": "27 Nov 2026", "show_stats": True, "thinking": False}):
                    case = {"template": tname, "messages": conv, "add_generation_prompt": gen, "extra": extra,
                            "bos": "<|begin_of_text|>", "eos": "<|eot_id|>"}
                    try:
                        case["output"] = hf.apply_chat_template(conv, chat_template=src, tokenize=False,
                                                                add_generation_prompt=gen, **extra)
                    except Exception as e:  # raise_exception in the template
                        case["error"] = type(e).__name__ + ": " + str(e)
                    out["cases"].append(case)
    return out


def main():
    with open(os.path.join(OUT, "versions.txt"), "w") as f:
        f.write("tokenizers %s\n" % tokenizers.__version__)
        try:
            import transformers
            f.write("transformers %s\n" % transformers.__version__)
        except Exception as e:
            f.write("transformers unavailable: %s\n" % e)
    corpus = training_corpus()
    texts = test_corpus()
    rng = random.Random(99)
    bl = train_bytelevel(corpus)
    toks = {
        "bytelevel": finish_bytelevel(bl, LLAMA3),
        "bytelevel_qwen": finish_bytelevel(bl, QWEN2, nfc=True),
        "bytelevel_gpt2": finish_bytelevel(bl, None, gpt2=True),
    }
    spm = train_spm(corpus)
    toks["spm"] = spm
    toks["spm_metaspace"] = metaspace_variant(spm)
    try:
        toks.update(extra_variants(toks["bytelevel"], metaspace_variant(spm)))
    except Exception:
        traceback.print_exc()
    all_goldens = []
    for name, tok in toks.items():
        tok.save(os.path.join(OUT, name + ".json"), pretty=False)
        all_goldens.append(goldens(name, tok, texts, rng))
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(all_goldens, f, ensure_ascii=False, separators=(",", ":"))
    try:
        cg = chat_goldens(toks["bytelevel"])
        with open(os.path.join(OUT, "chat_goldens.json"), "w") as f:
            json.dump(cg, f, ensure_ascii=False, indent=1)
    except Exception:
        traceback.print_exc()
        with open(os.path.join(OUT, "chat_error.txt"), "w") as f:
            f.write(traceback.format_exc())
    for name in toks:
        print(name, os.path.getsize(os.path.join(OUT, name + ".json")))


if __name__ == "__main__":
    main()
