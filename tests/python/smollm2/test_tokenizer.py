"""The converted SmolLM2 tokenizer.json, loaded by ribbon's C++ tokenizer (tokenize_tool), encodes
2,000 mixed strings (tests/python/tokenizer/tokenizer_corpus.py: prose, many scripts, emoji, code,
whitespace runs, digits, special-token text) exactly as transformers' tokenizer built from the
GGUF file does, with and without special tokens, and decodes back the same text.

One deliberate difference, asserted here so that it stays exactly that: the GGUF says
tokenizer.ggml.pre = "smollm", for which llama.cpp isolates every numeric character before the
GPT-2 split (the model's original tokenizer: Digits(individual_digits) then ByteLevel), while
transformers has no entry for "smollm" and splits with the GPT-2 pattern alone. The converter
keeps the model's split, so the reference here is transformers' GGUF tokenizer with that split
restored; against the unmodified one, only strings holding a digit (\\p{N}) may differ.
"""
import json
import subprocess
import sys
import unicodedata

import pytest

import smollm2_model as sm

sys.path.insert(0, str(sm.SOURCE / "tests" / "python" / "tokenizer"))
import tokenizer_corpus  # noqa: E402

TOOL = sm.BUILD / "tests" / "core" / "tokenizer" / "tokenize_tool"
COUNT = 2000


def run_tool(model_dir, mode, items):
    lines = "".join(json.dumps(item) + "\n" for item in items)
    done = subprocess.run([str(TOOL), str(model_dir), mode], input=lines.encode(),
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out = done.stdout.decode().split("\n")[:-1]  # not splitlines: U+2028 may be in the output
    assert len(out) == len(items)
    return [json.loads(line) for line in out]


@pytest.fixture(scope="module")
def corpus():
    strings = tokenizer_corpus.make_corpus(COUNT - 10, seed=135)  # it adds 8 long ones; 2 more below
    strings += ["What is the capital of France?", "<|im_start|>user\nHi 2024!<|im_end|>\n"]
    return strings


@pytest.fixture(scope="module")
def transformers_gguf():
    return sm.transformers_gguf_tokenizer()


@pytest.fixture(scope="module")
def reference(transformers_gguf):
    """transformers' GGUF tokenizer with llama.cpp's "smollm" numeric split restored."""
    from tokenizers import Tokenizer, pre_tokenizers

    backend = Tokenizer.from_str(transformers_gguf.backend_tokenizer.to_str())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    return backend


@pytest.fixture(scope="module")
def ours(corpus):
    assert TOOL.exists(), f"build tokenize_tool first ({TOOL})"
    return run_tool(sm.converted_model(), "encode", corpus)


def mismatch_report(mismatches, total, what):
    shown = "\n".join(f"  {m}" for m in mismatches[:5])
    return f"{len(mismatches)} of {total} {what} differ, e.g.\n{shown}"


def test_corpus_is_mixed(corpus):
    assert len(corpus) == COUNT
    joined = "".join(corpus)
    for needle in ["🦙", "\u200d", "\t", "\r\n", "    ", "<|im_start|>", "<|endoftext|>", "def "]:
        assert needle in joined, needle
    assert {"L", "M", "N", "P", "S", "Z", "C"} <= {unicodedata.category(c)[0] for c in joined}


def test_encode_matches_transformers_gguf_tokenizer(corpus, reference, ours):
    plain = reference.encode_batch(corpus, add_special_tokens=False)
    special = reference.encode_batch(corpus, add_special_tokens=True)
    mismatches = [f"{text!r}: ours {got['ids'][:12]} reference {want.ids[:12]}"
                  for text, got, want, want_special in zip(corpus, ours, plain, special)
                  if got["ids"] != want.ids or got["ids_special"] != want_special.ids]
    assert not mismatches, mismatch_report(mismatches, len(corpus), "encodings")


def test_decode_matches_transformers_gguf_tokenizer(corpus, reference, ours):
    mismatches = []
    for text, got in zip(corpus, ours):
        for key, skip in (("decoded", False), ("decoded_skip", True)):
            want = reference.decode(got["ids"], skip_special_tokens=skip)
            if got[key] != want:
                mismatches.append(f"{text!r} skip={skip}: ours {got[key]!r} reference {want!r}")
    assert not mismatches, mismatch_report(mismatches, len(corpus), "decodes")


def test_only_numeric_text_differs_from_transformers_unmodified(corpus, transformers_gguf, ours):
    def has_numeric(text):
        return any(unicodedata.category(c) in ("Nd", "Nl", "No") for c in text)

    differs = [text for text, got in zip(corpus, ours)
               if got["ids"] != transformers_gguf(text, add_special_tokens=False)["input_ids"]]
    assert differs, "no difference left: is the numeric split still needed?"
    assert all(has_numeric(text) for text in differs), [t for t in differs if not has_numeric(t)]
    assert len(differs) < 0.1 * len(corpus), len(differs)
