"""Encode throughput of ribbon's tokenizer against the Python `tokenizers` library, both on one
thread, on the same inputs in the same run. Prints a table of MB/s and the ratio.

    cmake --build <build> --target bench_tokenizer
    # or: RIBBON_BUILD=<build> $RIBBON_VENV/bin/python bench/tokenizer/run_tokenizer_bench.py

Corpora: "varied" is the parity-test corpus (tests/python/tokenizer/tokenizer_corpus.py: many
scripts, emoji, code, whitespace runs, special-token text); "prose" is ~1 MB of English-like
sentences. Tokenizers: GPT-2 and Llama-2 from ../shared/data, and the Qwen2-style one the parity
test trains. The reference is timed both with encode_batch and string by string under
RAYON_NUM_THREADS=1, and its faster figure is kept; ribbon encodes string by string, as the
server does. Each side reports its best of 5 rounds after a warm-up round.

The scaling part encodes one long string (1/8 to all of 1 MB; English-like prose, and one
unbroken 1 MB word, the worst case for the merge loop) to show that time grows (near-)linearly
with input size. ribbon's figure is the best of 3 runs, the reference's a single run.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer  # noqa: E402  (after the thread settings)

SOURCE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests" / "python" / "tokenizer"))
import tokenizer_corpus  # noqa: E402

SHARED = Path(os.environ.get("RIBBON_SHARED_DATA", SOURCE.parent / "shared" / "data"))
BUILD = Path(os.environ.get("RIBBON_BUILD", SOURCE / "build"))
BENCH = BUILD / "bench" / "tokenizer" / "tokenizer_bench"


def prose(target_bytes, seed=5):
    rng = random.Random(seed)
    sentences, size = [], 0
    while size < target_bytes:
        words = [rng.choice(tokenizer_corpus.WORDS) for _ in range(rng.randint(4, 30))]
        sentence = " ".join(words).capitalize() + rng.choice([".", ".", "!", "?", ",\n"])
        sentences.append(sentence)
        size += len(sentence.encode())
    return sentences


def reference_seconds(tokenizer, texts):
    """Best of 5 rounds of encode_batch and of 5 rounds of encode string by string (on one
    thread either can be the faster), after a warm-up."""
    tokenizer.encode_batch(texts, add_special_tokens=False)  # warm-up (fills its cache)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        tokenizer.encode_batch(texts, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts:
            tokenizer.encode(text, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
    return best


def ours(model_dir, mode, path):
    done = subprocess.run([str(BENCH), model_dir, mode, path], capture_output=True, text=True,
                          check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def main():
    if not BENCH.exists():
        sys.exit(f"build tokenizer_bench first ({BENCH})")
    with tempfile.TemporaryDirectory() as work:
        corpus = tokenizer_corpus.make_corpus()
        dirs = tokenizer_corpus.build_tokenizers(work, corpus, SHARED)
        corpora = {"varied": corpus, "prose": prose(1_000_000)}
        print(f"{'tokenizer':<12} {'corpus':<7} {'MB':>6} {'ribbon MB/s':>12} "
              f"{'tokenizers MB/s':>16} {'ratio':>6}")
        for name in ("gpt2", "llama-spm", "qwen2"):
            reference = Tokenizer.from_file(os.path.join(dirs[name], "tokenizer.json"))
            for corpus_name, texts in corpora.items():
                path = os.path.join(work, f"{corpus_name}.jsonl")
                with open(path, "w") as out:
                    out.writelines(json.dumps(t) + "\n" for t in texts)
                mine = ours(dirs[name], "corpus", path)[0]
                ref_mb_s = mine["bytes"] / reference_seconds(reference, texts) / 1e6
                print(f"{name:<12} {corpus_name:<7} {mine['bytes'] / 1e6:>6.2f} "
                      f"{mine['mb_per_s']:>12.2f} {ref_mb_s:>16.2f} "
                      f"{mine['mb_per_s'] / ref_mb_s:>6.2f}")
        print("\nscaling: one long string (seconds; ribbon | tokenizers)")
        rng = random.Random(11)
        long_texts = {
            "prose": "".join(corpora["prose"])[:1_000_000],
            # One 1 MB word: every merge happens inside a single word (the worst case).
            "unbroken": "".join(rng.choice("etaoinshrdlucmfwyp") for _ in range(1_000_000)),
        }
        for text_name, long_text in long_texts.items():
            path = os.path.join(work, f"long_{text_name}.json")
            Path(path).write_text(json.dumps(long_text))
            for name in ("gpt2", "llama-spm"):
                reference = Tokenizer.from_file(os.path.join(dirs[name], "tokenizer.json"))
                for point in ours(dirs[name], "scaling", path):
                    prefix = long_text.encode()[: point["bytes"]].decode(errors="ignore")
                    start = time.perf_counter()
                    reference.encode(prefix, add_special_tokens=False)
                    ref_seconds = time.perf_counter() - start
                    print(f"{name:<12} {text_name:<9} {point['bytes'] / 1e6:>6.3f} MB "
                          f"{point['seconds']:>8.4f} s "
                          f"({point['seconds'] / point['bytes'] * 1e6:.3f} s/MB) | "
                          f"{ref_seconds:>8.4f} s")


if __name__ == "__main__":
    main()
