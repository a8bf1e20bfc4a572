#!/usr/bin/env bash
# Builds the chat-template libFuzzer target with clang-14 (libFuzzer + AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs it. Not part of `make test` (`make fuzz` runs it).
#
#   tests/fuzz/run_chat_template_fuzz.sh [seconds=300] [extra libFuzzer flags...]
#
# Output: build-fuzz/chat_template_fuzz, corpus in build-fuzz/chat_template_corpus (seeded from
# the shared chat templates), crash inputs in build-fuzz/ (crash-*). Exit status 0: no crash.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-300}"
shift || true
out="$root/build-fuzz"
shared="${RIBBON_SHARED_DATA:-$root/../shared/data}"
mkdir -p "$out/chat_template_corpus"

sources=("$root/tests/fuzz/chat_template_fuzz.cpp" "$root"/core/chat/*.cpp "$root"/core/chat/*.h)
stale=1
if [[ -x "$out/chat_template_fuzz" ]]; then
  stale=0
  for source in "${sources[@]}"; do
    [[ "$source" -nt "$out/chat_template_fuzz" ]] && stale=1
  done
fi
[[ "$stale" == 1 ]] && clang++-14 -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" $(pkg-config --cflags spdlog) \
  "$root/tests/fuzz/chat_template_fuzz.cpp" "$root"/core/chat/*.cpp \
  -o "$out/chat_template_fuzz" \
  $(pkg-config --libs absl_status absl_statusor absl_strings)

# Seeds: every shared template.
for template in "$shared"/chat_templates/*.jinja; do
  name="$(basename "$template" .jinja)"
  cp "$template" "$out/chat_template_corpus/seed_$name"
done

# Dictionary: the template syntax, so mutations form tags and keywords.
printf '%s\n' '"{%"' '"%}"' '"{{"' '"}}"' '"{#"' '"#}"' '"{%-"' '"-%}"' '"endif"' '"endfor"' \
  '"endmacro"' '"namespace("' '"|tojson"' '"loop.index"' '"is defined"' '"messages"' \
  '"raise_exception("' > "$out/chat_template.dict"

cd "$out"
./chat_template_fuzz -max_total_time="$seconds" -max_len=16384 -timeout=10 \
  -rss_limit_mb=4096 -print_final_stats=1 -dict=chat_template.dict "$@" chat_template_corpus
