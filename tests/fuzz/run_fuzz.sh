#!/usr/bin/env bash
# Builds one libFuzzer target (tests/fuzz/build_fuzz.sh) and fuzzes it for a while.
#
#   tests/fuzz/run_fuzz.sh TARGET [seconds=300] [extra libFuzzer flags...]
#   tests/fuzz/run_fuzz.sh --list          the targets, one a line
#
# The working corpus is build-fuzz/corpus/TARGET, seeded from tests/fuzz/corpus/TARGET (and, for
# chat_template and tokenizer, from the shared data); the dictionary tests/fuzz/dict/TARGET.dict
# is used when present. Crash, leak and timeout inputs land in build-fuzz/crashes/TARGET/.
# Exit status 0: no crash, leak or sanitizer report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tests/fuzz/fuzz_targets.sh"
if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${FUZZ_TARGETS[@]}"
  exit 0
fi
target="${1:?usage: run_fuzz.sh TARGET [seconds] [libFuzzer flags...]}"
seconds="${2:-300}"
shift $(($# < 2 ? $# : 2))
out="${RIBBON_FUZZ_BUILD:-$root/build-fuzz}"
shared="${RIBBON_SHARED_DATA:-$root/../shared/data}"
export RIBBON_SHARED_DATA="$shared"

# RIBBON_FUZZ_SKIP_BUILD=1 runs the binary as it is (a build of other targets is under way).
[[ "${RIBBON_FUZZ_SKIP_BUILD:-0}" == 1 ]] || "$root/tests/fuzz/build_fuzz.sh" "$target"
corpus="$out/corpus/$target"
crashes="$out/crashes/$target"
mkdir -p "$corpus" "$crashes"
if [[ -d "$root/tests/fuzz/corpus/$target" ]]; then
  cp -n "$root/tests/fuzz/corpus/$target"/* "$corpus"/ 2>/dev/null || true
fi
case "$target" in
  chat_template)  # every shared template
    for template in "$shared"/chat_templates/*.jinja; do
      cp "$template" "$corpus/seed_$(basename "$template" .jinja)"
    done ;;
  tokenizer)  # the texts of the shared encode vectors
    python3 "$root/tests/fuzz/seed_tokenizer_texts.py" "$shared" "$corpus" ;;
esac
dict=()
[[ -f "$root/tests/fuzz/dict/$target.dict" ]] && dict=("-dict=$root/tests/fuzz/dict/$target.dict")

cd "$out"
# shellcheck disable=SC2086  # FUZZ_FLAGS holds several flags
"./${target}_fuzz" -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$crashes/" ${FUZZ_FLAGS[$target]:-} "${dict[@]}" "$@" "$corpus"
