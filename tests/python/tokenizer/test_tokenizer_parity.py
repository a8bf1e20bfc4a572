"""Parity of ribbon's C++ tokenizer with the Python `tokenizers` library (the reference).

For every tokenizer under ../shared/data and the ones built by tokenizer_corpus.py (a Qwen2-style
tokenizer trained here, and variants covering the other components), on a seeded corpus of more
than 5,000 strings, the C++ side (tests/core/tokenizer/tokenize_tool) must give:
  * the same ids, with and without special tokens;
  * the same decoded text (skipping special tokens or not), also for random id sequences;
  * the same normalized text and pre-tokenized pieces;
  * the same streaming deltas as tokenizers.decoders.DecodeStream, adding up to the decode;
  * decode(encode(s)) == s wherever the tokenizer is lossless.
"""

import json
import os
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from tokenizers.decoders import DecodeStream

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tokenizer_corpus  # noqa: E402

SOURCE = Path(os.environ.get("RIBBON_SOURCE", Path(__file__).resolve().parents[3]))
SHARED = Path(os.environ.get("RIBBON_SHARED_DATA", SOURCE.parent / "shared" / "data"))
BUILD = Path(os.environ.get("RIBBON_BUILD", SOURCE / "build"))
TOOL = BUILD / "tests" / "core" / "tokenizer" / "tokenize_tool"

NAMES = ["gpt2", "llama-spm", "stories260k", "qwen2", "llama3", "metaspace", "words", "mixed"]
STREAM_EVERY = 8  # stream every 8th corpus string (the reference steps one id at a time)


def run_tool(model_dir, mode, items):
    """Runs tokenize_tool over JSON lines; one parsed output per item."""
    lines = "".join(json.dumps(item) + "\n" for item in items)
    done = subprocess.run([str(TOOL), model_dir, mode], input=lines.encode(),
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    # Split on "\n" only: outputs may hold U+2028 and friends, which str.splitlines splits on.
    out = done.stdout.decode().split("\n")[:-1]
    assert len(out) == len(items)
    return [json.loads(line) for line in out]


@pytest.fixture(scope="module")
def corpus():
    return tokenizer_corpus.make_corpus()


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, corpus):
    assert TOOL.exists(), f"build tokenize_tool first ({TOOL})"
    out = tmp_path_factory.mktemp("tokenizers")
    return tokenizer_corpus.build_tokenizers(out, corpus, SHARED)


@pytest.fixture(scope="module")
def reference(model_dirs):
    return {name: Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            for name, d in model_dirs.items()}


@pytest.fixture(scope="module")
def ours(model_dirs, corpus):
    """Our encode output for every tokenizer, computed once."""
    return {name: run_tool(d, "encode", corpus) for name, d in model_dirs.items()}


def report(mismatches, total, what):
    shown = "\n".join(f"  {m}" for m in mismatches[:5])
    assert not mismatches, f"{len(mismatches)} of {total} {what} differ, e.g.\n{shown}"


def test_corpus_is_large_and_varied(corpus):
    assert len(corpus) >= 5000
    joined = "".join(corpus)
    assert corpus == tokenizer_corpus.make_corpus()  # deterministic
    for needle in ["🦙", "\u200d", "\u0301", "\t", "\r\n", "    ", "<|endoftext|>", "</s>",
                   "\u00a0", "\u3000", "def ", "0123"[:2]]:
        assert needle in joined, needle
    categories = {unicodedata.category(c)[0] for c in joined}
    assert {"L", "M", "N", "P", "S", "Z", "C"} <= categories
    scripts = {"CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "THAI", "KHMER", "CJK",
               "HANGUL", "HIRAGANA", "ETHIOPIC"}
    seen = {name.split()[0] for name in (unicodedata.name(c, "") for c in set(joined)) if name}
    assert scripts <= seen


@pytest.mark.parametrize("name", NAMES)
def test_encode_matches_reference(name, corpus, reference, ours):
    tokenizer = reference[name]
    plain = tokenizer.encode_batch(corpus, add_special_tokens=False)
    special = tokenizer.encode_batch(corpus, add_special_tokens=True)
    mismatches = []
    for text, got, want, want_special in zip(corpus, ours[name], plain, special):
        if got["ids"] != want.ids or got["ids_special"] != want_special.ids:
            mismatches.append(f"{text!r}: ours {got['ids'][:12]} reference {want.ids[:12]}")
    report(mismatches, len(corpus), "encodings")


@pytest.mark.parametrize("name", NAMES)
def test_decode_matches_reference(name, corpus, model_dirs, reference, ours):
    tokenizer = reference[name]
    mismatches = []
    for text, got in zip(corpus, ours[name]):
        for key, skip in (("decoded", False), ("decoded_skip", True)):
            want = tokenizer.decode(got["ids"], skip_special_tokens=skip)
            if got[key] != want:
                mismatches.append(f"{text!r} skip={skip}: ours {got[key]!r} reference {want!r}")
    report(mismatches, len(corpus), "decodes")

    # Arbitrary id sequences: byte pieces that do not form UTF-8, special ids, unknown ids.
    rng = random.Random(7)
    size = tokenizer.get_vocab_size()
    specials = [tokenizer.token_to_id(t) for t in tokenizer_corpus.SPECIAL_STRINGS]
    pool = [i for i in specials if i is not None] + list(range(min(size, 300)))
    sequences = [[rng.choice(pool) if rng.random() < 0.5 else rng.randrange(size + 3)
                  for _ in range(rng.randint(1, 24))] for _ in range(1500)]
    decoded = run_tool(model_dirs[name], "decode", sequences)
    mismatches = []
    for ids, got in zip(sequences, decoded):
        for key, skip in (("text", False), ("text_skip", True)):
            want = tokenizer.decode(ids, skip_special_tokens=skip)
            if got[key] != want:
                mismatches.append(f"{ids} skip={skip}: ours {got[key]!r} reference {want!r}")
    report(mismatches, len(sequences), "random-id decodes")


@pytest.mark.parametrize("name", NAMES)
def test_normalizer_and_pre_tokenizer_match(name, corpus, model_dirs, reference):
    tokenizer = reference[name]
    # Plus a sweep of code points (those assigned before Unicode 15; see tokenizer_corpus).
    texts = corpus + [chr(c) * 2 + " x" for c in range(0x20, 0x3000, 7)
                      if tokenizer_corpus.assigned_before_unicode_15(chr(c))]
    mismatches = []
    if tokenizer.normalizer is not None:
        for text, got in zip(texts, run_tool(model_dirs[name], "normalize", texts)):
            want = tokenizer.normalizer.normalize_str(text)
            if got["text"] != want:
                mismatches.append(f"normalize {text!r}: ours {got['text']!r} reference {want!r}")
    if tokenizer.pre_tokenizer is not None:
        for text, got in zip(texts, run_tool(model_dirs[name], "pretokenize", texts)):
            want = [piece for piece, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text)]
            if got["pieces"] != want:
                mismatches.append(f"pre_tokenize {text!r}: ours {got['pieces']} reference {want}")
    report(mismatches, len(texts), "normalizer/pre-tokenizer outputs")


def lossless_domain(name, tokenizer, corpus):
    """The strings that `name` must give back exactly. Byte-level BPE keeps everything but
    the whitespace that lstrip/rstrip tokens absorb (and, with NFC, text that is not NFC).
    SentencePiece styles lose "▁" (decoded as a space) and the space after special-token text
    (the dummy prefix is added again after each added token); Metaspace's "first" scheme also
    loses leading spaces (its decoder drops every "▁" of the first token)."""
    added = tokenizer.get_added_tokens_decoder().values()
    stripping = [t.content for t in added if t.lstrip or t.rstrip]
    if name in ("gpt2", "llama3", "qwen2"):
        return [s for s in corpus if not any(a in s for a in stripping)
                and (name != "qwen2" or unicodedata.normalize("NFC", s) == s)]
    if name in ("llama-spm", "stories260k", "metaspace"):
        contents = [t.content for t in added] + ["▁"]
        return [s for s in corpus if not any(a in s for a in contents)
                and (name != "metaspace" or not s.startswith(" "))]
    return []  # "words" drops whitespace, "mixed" lowercases and strips: lossy by design


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_where_lossless(name, corpus, reference, ours):
    domain = set(lossless_domain(name, reference[name], corpus))
    if name in ("words", "mixed"):
        return
    assert len(domain) >= 0.8 * len(set(corpus)), len(domain)
    failures = [f"{text!r} -> {got['decoded']!r}" for text, got in zip(corpus, ours[name])
                if text in domain and got["decoded"] != text]
    report(failures, len(domain), "round trips")


def reference_stream(tokenizer, context, ids, skip):
    stream = DecodeStream(ids=list(context), skip_special_tokens=skip)
    return [stream.step(tokenizer, i) for i in ids]


@pytest.mark.parametrize("name", NAMES)
def test_streaming_matches_decode_stream(name, corpus, model_dirs, reference, ours):
    tokenizer = reference[name]
    prompt = tokenizer.encode("Once upon a time,", add_special_tokens=True).ids
    cases = []
    for index, got in enumerate(ours[name][::STREAM_EVERY]):
        context = prompt if index % 3 else []
        cases.append({"context": context, "ids": got["ids"], "skip": index % 4 != 1})
    streamed = run_tool(model_dirs[name], "stream", cases)
    mismatches = []
    for case, got in zip(cases, streamed):
        want = reference_stream(tokenizer, case["context"], case["ids"], case["skip"])
        if got["deltas"] != want:
            mismatches.append(f"{case}: ours {got['deltas']} reference {want}")
            continue
        full = tokenizer.decode(case["context"] + case["ids"], skip_special_tokens=case["skip"])
        before = tokenizer.decode(case["context"], skip_special_tokens=case["skip"])
        text = "".join(d for d in got["deltas"] if d is not None) + got["flush"]
        if not full.startswith(before) or text != full[len(before):]:
            mismatches.append(f"{case}: streamed {text!r}, decode {full!r} after {before!r}")
    report(mismatches, len(cases), "streams")


def test_sentencepiece_model_matches_tokenizer_json(tmp_path, corpus, reference):
    """A directory with only tokenizer.model (loaded by libsentencepiece) encodes like the
    Llama-2 tokenizer.json on the corpus strings without special-token text."""
    model_dir = tokenizer_corpus.copy_sentencepiece_only(tmp_path, SHARED)
    added = ["<s>", "</s>", "<unk>"]
    texts = [s for s in corpus if not any(a in s for a in added)]
    got = run_tool(model_dir, "encode", texts)
    want = reference["llama-spm"].encode_batch(texts, add_special_tokens=True)
    mismatches = [f"{t!r}: ours {g['ids_special'][:12]} reference {w.ids[:12]}"
                  for t, g, w in zip(texts, got, want) if g["ids_special"] != w.ids]
    report(mismatches, len(texts), "SentencePiece encodings")
