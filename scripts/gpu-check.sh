#!/usr/bin/env bash
# One-call GPU check, run ON the GPU machine from the repository root with the bundle built by
# scripts/gpu-bundle.sh carried as .bundle (device tool: carry [".bundle"]; see docs/gpu.md).
# Needs only what that machine has: bash, coreutils, nvidia-smi, python3 with torch 2.11.
#
# Stages, each under its own timeout, each writing its JSON under $OUT as soon as it finishes:
#   smoke        (<= 30 s) nvidia-smi, torch sees the GPU, libraries resolve, a kernel test runs,
#                a libtorch-linked test runs (LoadCudaModel's error answers on this GPU)
#   kernels      CUDA kernel tests (reference attention vs the CPU kernel, layer ops; FlashInfer's
#                paged attention and the flashinfer backend vs the reference kernel; the device
#                sampler vs the host sampler on 1,000 seeded draws)
#   model_tests  stories260K fp32 golden, packing invariance (fp32 + bf16 flash/reference), the
#                runner's device sampling vs the host sampler on its own logits
#   hf           bf16 agreement with transformers on this GPU (pytest)
#   serving      ribbond on the GPU (scripts/gpu_serving_stage.py): capacity probe on a
#                Llama-3.2-1B-shaped checkpoint, 64 concurrent stories260K goldens, OOM recovery
#   bench        HBM roofline, Llama-3.2-1B decode, Qwen2.5-7B packed vs padded prefill
# A short table is printed last. The stages' limits add up to under 8 minutes.
# Exit status: 0 when every stage passed.
#
# Options: --only STAGE  run smoke's set-up, then that one stage (smoke kernels model_tests hf
#                        serving bench_stage)
#          --dry-run     no device needed (CPU): checks that every file each stage uses is in the
#                        bundle, that every binary resolves its libraries with only the bundle's
#                        and torch's (ldd), that the bundle is under its size limit; each stage
#                        writes its JSON with status "dry-run" and the table is printed. Seconds.
set -uo pipefail
dry_run=0
only=""
while (( $# )); do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --only) only="${2:?--only needs a stage}"; shift ;;
    *) echo "usage: $0 [--dry-run] [--only STAGE]" >&2; exit 2 ;;
  esac
  shift
done
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bundle="${RIBBON_BUNDLE:-$here/.bundle}"
out="${OUT:-/tmp/ribbon-gpu-check}"
py="${RIBBON_GPU_PYTHON:-python3}"
mkdir -p "$out"
work="$(mktemp -d)"
log="$out/gpu_check.log"
: >"$log"
deadline=$(( $(date +%s) + 500 ))
export PYTHONUNBUFFERED=1

note() { echo "[gpu-check] $*" | tee -a "$log"; }

# Seconds a stage may use: its own cap, or what is left before the deadline if less.
limit() { local left=$(( deadline - $(date +%s) )); (( left < $1 )) && echo $(( left > 1 ? left : 1 )) || echo "$1"; }

# run_test STAGE NAME LIMIT CMD...: runs one test command under `timeout`, records the result.
run_test() {
  local stage=$1 name=$2 cap=$3; shift 3
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout --kill-after=5 "$cap" "$@" >"$work/$name.out" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  { echo "===== $name (rc $rc)"; cat "$work/$name.out"; } >>"$log"
  "$py" - "$work/$stage.jsonl" "$name" "$rc" "$t0" "$t1" "$work/$name.out" <<'PY'
import json, sys
path, name, rc, t0, t1, output = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
text = open(output, errors="replace").read()
status = "pass" if rc == 0 else ("timeout" if rc in (124, 137) else "fail")
if rc == 0 and "SKIPPED: no CUDA device" in text:
    status = "skipped"
open(path, "a").write(json.dumps({"name": name, "status": status, "rc": rc, "seconds": round(t1 - t0, 2),
                                  "tail": text[-3000:]}) + "\n")
print(f"[gpu-check] {name}: {status} ({t1 - t0:.1f} s)")
PY
}

# finish_stage STAGE: writes $out/STAGE.json from the stage's recorded tests (plus extra JSON files).
finish_stage() {
  local stage=$1; shift
  "$py" - "$work/$stage.jsonl" "$out/$stage.json" "$stage" "$@" <<'PY'
import json, os, sys
lines, target, stage, extras = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
tests = [json.loads(l) for l in open(lines)] if os.path.exists(lines) else []
status = "pass" if tests and all(t["status"] == "pass" for t in tests) else "fail"
result = {"stage": stage, "status": status, "seconds": round(sum(t["seconds"] for t in tests), 1), "tests": tests}
for extra in extras:
    if os.path.exists(extra):
        result[os.path.splitext(os.path.basename(extra))[0]] = json.load(open(extra))
json.dump(result, open(target, "w"), indent=1)
print(f"[gpu-check] stage {stage}: {status} -> {target}")
PY
}

print_table() {
  "$py" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None
rows = []
for stage in ("smoke", "kernels", "model_tests", "hf", "serving"):
    s = load(stage + ".json")
    rows.append((stage, s["status"] if s else "not run", s.get("error", f'{s["seconds"]:.0f} s') if s else ""))
    for t in (s or {}).get("tests", []):
        rows.append(("  " + t["name"], t["status"], f'{t["seconds"]:.1f} s'))
for name, part in ((load("serving.json") or {}).get("serving", {}).get("parts") or {}).items():
    rows.append((f"  serving {name}", part["status"], json.dumps({k: v for k, v in part.items()
                 if k in ("serve_probe_seconds", "serve_load_seconds", "device_bytes_held", "exact", "streams",
                          "completed", "oom_recoveries", "identical_to_reference", "error")})[:90]))
    for line in part.get("probe_table", []):  # the capacity table, as ribbond probe printed it
        if not line.startswith("["):
            rows.append(("", "  " + line.strip(), ""))
hf = (load("hf.json") or {}).get("hf_agreement", {})
for backend, r in hf.items():
    a = r["agreement"]
    rows.append((f"  hf agreement {backend}", f'prefill {a["prefill"]:.4f} packed {a["packed"]:.4f} decode {a["decode"]:.4f}',
                 f'control {r["negative_control_off_by_one_mask"]:.2f}'))
bench = load("bench.json")
s = load("bench_stage.json")
rows.append(("bench", s["status"] if s else "not run", f'{s["seconds"]:.0f} s' if s else ""))
if bench:
    if "bandwidth" in bench:
        rows.append(("  HBM copy bandwidth", f'{bench["bandwidth"].get("GBps", 0):.0f} GB/s', bench.get("device", "")))
    for d in bench.get("decode", []):
        rows.append((f'  1B decode {d["backend"]}', d.get("error", f'{d.get("tokens_per_s", 0):.1f} tok/s'),
                     f'{100 * d.get("roofline_fraction", 0):.1f}% of roofline'))
    for p in bench.get("prefill", []):
        rows.append((f'  7B prefill {p["backend"]} ({p.get("layers")} layers)',
                     p.get("error", f'{p.get("packed_tokens_per_s", 0):.0f} tok/s packed'),
                     f'padded/packed {p.get("measured_ratio", 0):.3f} (ideal {p.get("ideal_ratio", 0):.3f})'))
width = max(len(r[0]) for r in rows)
print("\n" + "=" * 78)
for name, status, detail in rows:
    print(f"{name:<{width}}  {status:<44}  {detail}")
print("=" * 78)
PY
}

# stage_passed FILE: true when the stage's own status (not just one test's) is "pass".
stage_passed() { "$py" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["status"] != "pass")' "$1" 2>/dev/null; }

fail_smoke() {
  note "SMOKE FAILED: $*"
  "$py" - "$out/smoke.json" "$*" <<'PY'
import json, os, sys
path = sys.argv[1]
result = json.load(open(path)) if os.path.exists(path) else {"stage": "smoke", "seconds": 0, "tests": []}
result.update({"status": "fail", "error": sys.argv[2]})
json.dump(result, open(path, "w"), indent=1)
PY
  print_table
  exit 1
}

# Files each stage uses, relative to the bundle (checked by --dry-run and before each stage).
declare -A stage_files=(
  [smoke]="MANIFEST.json bin/kernels_cuda_layer_ops_test bin/cuda_load_errors_test"
  [kernels]="bin/kernels_cuda_attention_test bin/flashinfer_attention_test bin/kernels_cuda_sampling_test"
  [model_tests]="bin/gpu_golden_test bin/gpu_packing_test bin/gpu_device_sampling_test data/stories260k/model.safetensors data/stories260k/config.json data/stories260k/golden.json"
  [hf]="bin/ribbon_teacher_force tests/test_hf_agreement.py scripts/make_models.py"
  [serving]="bin/ribbond scripts/gpu_serving_stage.py scripts/make_models.py data/stories260k/model.safetensors data/stories260k/config.json data/stories260k/generation_config.json data/stories260k/golden.json"
  [bench_stage]="bin/ribbon_gpu_bench"
)
stages=(smoke kernels model_tests hf serving bench_stage)
max_bundle_bytes=$((56 * 1024 * 1024))

# dry_stage STAGE: the stage's JSON with status dry-run (fail when one of its files is missing).
dry_stage() {
  local stage=$1 missing="" f
  for f in ${stage_files[$stage]}; do [[ -f "$bundle/$f" ]] || missing="$missing $f"; done
  "$py" - "$out/$stage.json" "$stage" "${stage_files[$stage]}" "$missing" <<'PY'
import json, sys
path, stage, files, missing = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
json.dump({"stage": stage, "status": "fail" if missing else "dry-run", "seconds": 0, "tests": [],
           "files": files, "missing": missing, **({"error": "missing: " + " ".join(missing)} if missing else {})},
          open(path, "w"), indent=1)
PY
  [[ -z "$missing" ]] || { note "$stage: missing from the bundle:$missing"; return 1; }
  note "$stage: dry-run ($(wc -w <<<"${stage_files[$stage]}") files, all in the bundle)"
}

# check_libraries TORCH_DIR: every bundled binary resolves each library from the bundle, torch's
# directories, or the system's C/C++ runtime (glibc, libstdc++, libgcc_s), nothing else.
check_libraries() {
  local torch_dir=$1 bin bad=0 lib path
  for bin in "$bundle"/bin/*; do
    while read -r lib path; do
      case "$path" in
        "$bundle"/*|"$torch_dir"/*|"$(dirname "$torch_dir")"/nvidia/*) continue ;;
      esac
      case "$lib" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) continue ;;
      esac
      note "FAIL: $(basename "$bin") resolves $lib from $path (neither bundled nor torch's)"
      bad=1
    done < <(ldd "$bin" 2>&1 | awk '$2 == "=>" {print $1, $3}')
  done
  return $bad
}

if (( dry_run )); then
  t_start=$(date +%s.%N)
  note "dry run: bundle $bundle; results $out"
  status=0
  [[ -f "$bundle/MANIFEST.json" ]] || { note "FAIL: no bundle at $bundle (scripts/gpu-bundle.sh)"; exit 1; }
  torch_dir="$("$py" -c 'import os, torch; print(os.path.realpath(os.path.dirname(torch.__file__)))')" ||
    { note "FAIL: $py cannot import torch"; exit 1; }
  lib_path="$bundle/lib:$torch_dir/lib"
  for dir in "$torch_dir"/../nvidia/*/lib; do [[ -d "$dir" ]] && lib_path="$lib_path:$(cd "$dir" && pwd)"; done
  LD_LIBRARY_PATH="$lib_path" check_libraries "$torch_dir" || status=1
  bytes=$(du -sb "$bundle" | cut -f1)
  note "bundle: $((bytes / 1024)) KiB (limit $((max_bundle_bytes / 1048576)) MiB)"
  (( bytes <= max_bundle_bytes )) || { note "FAIL: bundle over its size limit"; status=1; }
  for stage in "${stages[@]}"; do
    [[ -z "$only" || "$only" == "$stage" ]] || continue
    dry_stage "$stage" || status=1
  done
  if [[ -z "$only" || "$only" == serving ]]; then
    "$py" "$bundle/scripts/gpu_serving_stage.py" --dry-run --ribbond "$bundle/bin/ribbond" \
      --stories "$bundle/data/stories260k" --make-models "$bundle/scripts/make_models.py" \
      --json "$work/serving_stage.json" >>"$log" 2>&1 || { note "FAIL: serving stage dry-run"; status=1; }
  fi
  print_table
  note "dry run: $("$py" -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$t_start") s; exit $status"
  rm -rf "$work"
  exit $status
fi

# ---- smoke (30 s in all: 5 + 12 + 5 + 8): always, it sets up the environment for the others ----
note "bundle: $bundle; results: $out"
[[ -f "$bundle/MANIFEST.json" ]] || fail_smoke "no bundle at $bundle: run scripts/gpu-bundle.sh on the CPU machine and carry .bundle"
command -v "$py" >/dev/null || fail_smoke "$py not found"
gpu="$(timeout 5 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1)" ||
  fail_smoke "nvidia-smi failed or is missing: $gpu"
note "GPU: $gpu"
torch_info="$(timeout 12 "$py" -c 'import os, torch
assert torch.cuda.is_available(), "torch.cuda.is_available() is False"
print(os.path.dirname(torch.__file__)); print(torch.__version__); print(torch.cuda.get_device_name(0))' 2>"$work/torch.err")"
rc=$?
(( rc == 124 )) && fail_smoke "importing torch in $py took over 12 s"
(( rc == 0 )) || fail_smoke "torch does not see the GPU: $(tail -1 "$work/torch.err")"
torch_dir="$(echo "$torch_info" | sed -n 1p)"
note "torch $(echo "$torch_info" | sed -n 2p) at $torch_dir sees $(echo "$torch_info" | sed -n 3p)"
lib_path="$bundle/lib:$torch_dir/lib"
for dir in "$torch_dir"/../nvidia/*/lib; do [[ -d "$dir" ]] && lib_path="$lib_path:$(cd "$dir" && pwd)"; done
export LD_LIBRARY_PATH="$lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ldd "$bundle/bin/gpu_golden_test" 2>&1 | grep -q "GLIBCXX\|CXXABI\|GCC_[0-9]"; then
  note "this machine's libstdc++ is older than the build machine's: using the bundled one"
  export LD_LIBRARY_PATH="$bundle/lib/fallback:$LD_LIBRARY_PATH"
fi
missing="$(for b in "$bundle"/bin/*; do ldd "$b" | awk '/not found/ {print $1}'; done | sort -u | tr '\n' ' ')"
[[ -z "$missing" ]] || fail_smoke "unresolved libraries: $missing"
export RIBBON_SHARED_DATA="$bundle/data"
export RIBBON_COMMIT="$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["commit"])' "$bundle/MANIFEST.json")"
"$py" - "$work/machine.json" "$gpu" "$torch_info" "$RIBBON_COMMIT" <<'PY'
import json, sys
torch_lines = sys.argv[3].splitlines()
json.dump({"nvidia_smi": sys.argv[2], "torch_dir": torch_lines[0], "torch": torch_lines[1], "device": torch_lines[2],
           "bundle_commit": sys.argv[4]}, open(sys.argv[1], "w"), indent=1)
PY
# One kernel-only binary (our CUDA code runs) and one that loads libtorch_cuda (ABI matches).
wanted() { [[ -z "$only" || "$only" == "$1" ]]; }
run_test smoke kernels_cuda_layer_ops_test 5 "$bundle/bin/kernels_cuda_layer_ops_test"
run_test smoke cuda_load_errors_test 8 "$bundle/bin/cuda_load_errors_test"
finish_stage smoke "$work/machine.json"
stage_passed "$out/smoke.json" || fail_smoke "a smoke-test binary did not pass (see gpu_check.log)"

# ---- kernels ----
if wanted kernels; then
  run_test kernels kernels_cuda_attention_test "$(limit 40)" "$bundle/bin/kernels_cuda_attention_test"
  run_test kernels flashinfer_attention_test "$(limit 30)" "$bundle/bin/flashinfer_attention_test"
  run_test kernels kernels_cuda_sampling_test "$(limit 20)" "$bundle/bin/kernels_cuda_sampling_test"
  finish_stage kernels
fi

# ---- model tests ----
if wanted model_tests; then
  run_test model_tests gpu_golden_test "$(limit 40)" "$bundle/bin/gpu_golden_test"
  run_test model_tests gpu_packing_test "$(limit 60)" "$bundle/bin/gpu_packing_test"
  run_test model_tests gpu_device_sampling_test "$(limit 30)" "$bundle/bin/gpu_device_sampling_test"
  finish_stage model_tests
fi

# ---- transformers agreement ----
mkdir -p "$work/hf"
export RIBBON_TEACHER_FORCE="$bundle/bin/ribbon_teacher_force" RIBBON_MAKE_MODELS_DIR="$bundle/scripts" RIBBON_GPU_OUT="$work/hf"
if wanted hf; then
  run_test hf test_hf_agreement "$(limit 120)" "$py" -m pytest -q -rs -p no:cacheprovider "$bundle/tests/test_hf_agreement.py"
  finish_stage hf "$work/hf/hf_agreement.json"
fi

# ---- serving: ribbond on the GPU (capacity probe, 64 golden streams, OOM recovery) ----
if wanted serving; then
  run_test serving gpu_serving_stage "$(limit 200)" "$py" "$bundle/scripts/gpu_serving_stage.py" \
    --ribbond "$bundle/bin/ribbond" --stories "$bundle/data/stories260k" --make-models "$bundle/scripts/make_models.py" \
    --json "$work/serving.json" --work "$work/serving_work" ${RIBBON_SERVING_ARGS:-}
  finish_stage serving "$work/serving.json"
fi

# ---- bench ----
if wanted bench_stage; then
  run_test bench_stage ribbon_gpu_bench "$(limit 160)" "$bundle/bin/ribbon_gpu_bench" --json "$out/bench.json" \
    --prefill-backends flash,cudnn
  finish_stage bench_stage
fi

print_table
status=0
for stage in smoke kernels model_tests hf serving bench_stage; do
  [[ -z "$only" || "$only" == "$stage" || "$stage" == smoke ]] || continue
  stage_passed "$out/$stage.json" || status=1
done
note "total $(( $(date +%s) - deadline + 500 )) s; exit $status"
rm -rf "$work"
exit $status
