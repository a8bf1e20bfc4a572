#!/usr/bin/env bash
# Runs the CPU benchmarks and prints their figures (`make bench`; never part of `make test`).
# Benchmarks print numbers; nothing here passes or fails on speed.
#   1. hf_compare.py   ribbon vs Hugging Face transformers: prefill and decode tokens/s at batch
#                      1, 8 and 32, for stories260K and llama-100m (docs/perf/cpu.md)
#   2. packing_bench   packed vs padded offline batches, and align 16 vs 1 (docs/perf/packing.md)
#   3. metrics_bench, tokenizer_bench (bench_tokenizer), when built
# llama-100m (random weights, ~400 MB) is generated once into $RIBBON_BUILD/models/llama-100m.
# Knobs: RIBBON_BENCH_THREADS (default 2), RIBBON_BENCH_SCALE (prompt counts of packing_bench,
# default 1), RIBBON_BENCH_ONLY (space-separated subset of: hf packing metrics tokenizer).
# Takes about 15 minutes on an idle 2-core machine; the load average is printed throughout,
# because other jobs on the same cores change every figure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

threads="${RIBBON_BENCH_THREADS:-2}"
scale="${RIBBON_BENCH_SCALE:-1}"
only="${RIBBON_BENCH_ONLY:-hf packing metrics tokenizer}"
stories="$RIBBON_SHARED_DATA/stories260k"
llama="$RIBBON_BUILD/models/llama-100m"
wanted() { [[ " $only " == *" $1 "* ]]; }
section() { printf '\n==== %s (load average %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

"$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" -j "$RIBBON_JOBS" --target cpu_throughput packing_bench >/dev/null

stamp="$(sha256sum scripts/make_models.py | cut -c1-16)"
if [ "$(cat "$llama/.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "[bench] generating llama-100m in $llama (once)"
  "$RIBBON_VENV/bin/python" scripts/make_models.py llama-100m --out "$llama" --tokenizer-from "$stories"
  echo "$stamp" > "$llama/.stamp"
fi

section "machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ local changes)')"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "threads: $threads"

if wanted hf; then
  section "ribbon vs transformers, CPU prefill / decode tokens/s"
  "$RIBBON_VENV/bin/python" bench/hf/hf_compare.py --cpu-throughput "$RIBBON_BUILD/bench/cpu_throughput" \
    --threads "$threads" --model "stories260k=$stories" --model "llama-100m=$llama"
fi

if wanted packing; then
  section "packed vs padded offline batches"
  "$RIBBON_BUILD/bench/packing/packing_bench" --stories "$stories" --llama-100m "$llama" \
    --threads "$threads" --scale "$scale"
fi

if wanted metrics && [ -x "$RIBBON_BUILD/bench/metrics/metrics_bench" ]; then
  section "metrics recording cost"
  "$RIBBON_BUILD/bench/metrics/metrics_bench"
fi

if wanted tokenizer && "$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" --target help 2>/dev/null | grep -q bench_tokenizer; then
  section "tokenizer"
  "$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" --target bench_tokenizer
fi

section "done"
