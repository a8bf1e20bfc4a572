#!/usr/bin/env bash
# Builds the tokenizer libFuzzer target with clang-14 (libFuzzer + AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs it. Not part of `make test`.
#
#   tests/fuzz/run_tokenizer_fuzz.sh [seconds=300] [extra libFuzzer flags...]
#
# Output: build-fuzz/tokenizer_fuzz, corpus in build-fuzz/tokenizer_corpus (seeded from the
# shared test vectors), crash inputs in build-fuzz/ (crash-*). Exit status 0 means no crash.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-300}"
shift || true
out="$root/build-fuzz"
shared="${RIBBON_SHARED_DATA:-$root/../shared/data}"
mkdir -p "$out/tokenizer_corpus"

sources=("$root/tests/fuzz/tokenizer_fuzz.cpp" "$root"/core/tokenizer/*.cpp "$root"/core/tokenizer/*.h)
stale=1
if [[ -x "$out/tokenizer_fuzz" ]]; then
  stale=0
  for source in "${sources[@]}"; do
    [[ "$source" -nt "$out/tokenizer_fuzz" ]] && stale=1
  done
fi
[[ "$stale" == 1 ]] && clang++-14 -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" $(pkg-config --cflags spdlog) \
  "$root/tests/fuzz/tokenizer_fuzz.cpp" "$root"/core/tokenizer/*.cpp \
  -o "$out/tokenizer_fuzz" \
  -lpcre2-8 -lutf8proc -lsentencepiece $(pkg-config --libs spdlog fmt) \
  $(pkg-config --libs absl_status absl_statusor absl_strings absl_flat_hash_map \
                      absl_flat_hash_set absl_hash)

# Seeds: the texts of the shared encode vectors, one file each.
python3 - "$shared" "$out/tokenizer_corpus" <<'PY'
import json, sys, pathlib
shared, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
texts = []
for path in [shared / "tokenizers/gpt2/cases.json", shared / "stories260k/tokenizer_cases.json"]:
    texts += [c["text"] for c in json.loads(path.read_text())["cases"]]
llama = json.loads((shared / "tokenizers/llama-spm/cases.json").read_text())
for group in ("llama_cpp_vectors", "llama2c_test_c"):
    texts += [c["text"] for c in llama[group]["cases"]]
for i, text in enumerate(texts):
    (out / f"seed_{i:04d}").write_bytes(text.encode())
PY

cd "$out"
RIBBON_SHARED_DATA="$shared" ./tokenizer_fuzz -max_total_time="$seconds" -max_len=4096 \
  -rss_limit_mb=4096 -print_final_stats=1 "$@" tokenizer_corpus
