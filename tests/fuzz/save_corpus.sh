#!/usr/bin/env bash
# Keeps a small part of a fuzzing run's corpus in the repository, for the replay tests
# (ctest -L fuzz_replay): the working corpus build-fuzz/corpus/TARGET is merged (libFuzzer
# -merge=1: the inputs that keep its coverage), and the smallest of those, up to MAX_FILES of at
# most MAX_BYTES each, are copied to tests/fuzz/corpus/TARGET/ under their SHA-1 names. Seeds
# (seed_*) and regression inputs (regress_*) there are left alone.
#
#   tests/fuzz/save_corpus.sh TARGET [MAX_FILES=100] [MAX_BYTES=2048]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${1:?usage: save_corpus.sh TARGET [max files] [max bytes]}"
max_files="${2:-100}"
max_bytes="${3:-2048}"
out="${RIBBON_FUZZ_BUILD:-$root/build-fuzz}"
export RIBBON_SHARED_DATA="${RIBBON_SHARED_DATA:-$root/../shared/data}"
merged="$(mktemp -d)"
trap 'rm -rf "$merged"' EXIT
"$out/${target}_fuzz" -merge=1 -max_len="$max_bytes" -rss_limit_mb=4096 "$merged" \
  "$out/corpus/$target" > "$out/save_corpus_$target.log" 2>&1
mkdir -p "$root/tests/fuzz/corpus/$target"
find "$merged" -type f -size -"$((max_bytes + 1))"c -printf '%s %p\n' | sort -n |
  awk -v n="$max_files" 'NR <= n' | while read -r _ path; do
    cp "$path" "$root/tests/fuzz/corpus/$target/$(basename "$path")"
  done
echo "$target: $(ls "$root/tests/fuzz/corpus/$target" | wc -l) files in tests/fuzz/corpus/$target"
