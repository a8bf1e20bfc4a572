#!/usr/bin/env bash
# Builds the GPU bundle on a CPU machine: everything scripts/gpu-check.sh needs on a bare H100/H200
# machine that has torch 2.11 in its python3 but no package registry. Output: .bundle/ at the
# repository root (git-ignored; carry it with the device tool: carry [".bundle"]).
#
#   .bundle/bin/      ribbond, the GPU test executables, ribbon_teacher_force, ribbon_gpu_bench
#                     (sm_90a machine code + compute_90 PTX), stripped, RUNPATH $ORIGIN/../lib
#   .bundle/lib/      every non-torch shared library they need (gRPC, protobuf, re2, c-ares,
#                     OpenSSL, utf8proc, PCRE2, sentencepiece, cpp-httplib, brotli, zlib,
#                     abseil, spdlog, fmt, ...: whatever ldd resolves outside the list below);
#                     lib/fallback/ holds libstdc++ and libgcc_s, used only if the machine's are older
#   .bundle/data/     stories260k (model, golden outputs)
#   .bundle/tests/, .bundle/scripts/   the Python test, the model generator, the serving stage
#   .bundle/MANIFEST.json              commit, date, torch version, files
# Not bundled: libtorch*, libc10*, the CUDA libraries (libcudart, libcublas, ...) and glibc; the
# machine's own torch provides them at run time (gpu-check.sh sets LD_LIBRARY_PATH).
#
# The bundle must travel with the working tree in 64 MiB: it is held to 56 MiB (max_bytes), and
# the tree's tracked files plus the bundle to 64 MiB.
#
# Usage: scripts/gpu-bundle.sh [--from-build DIR]
#   --from-build DIR  copy from an existing CUDA build (Release, sm_90a) instead of configuring
#                     and building build-gpu-bundle/; DIR is only read
#   env: RIBBON_BUNDLE_BUILD build dir, default build-gpu-bundle; RIBBON_JOBS parallel jobs;
#        RIBBON_BUNDLE_DIR output directory, default .bundle
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh
build="${RIBBON_BUNDLE_BUILD:-$here/build-gpu-bundle}"
bundle="${RIBBON_BUNDLE_DIR:-$here/.bundle}"  # another directory: the dry-run test
max_bytes=$((56 * 1024 * 1024))
from_build=""
if [[ "${1:-}" == "--from-build" ]]; then
  from_build="$(cd "${2:?--from-build needs a directory}" && pwd)"
  build="$from_build"
fi
binaries=(ribbond kernels_cuda_attention_test kernels_cuda_layer_ops_test gpu_golden_test gpu_packing_test
          cuda_load_errors_test ribbon_teacher_force ribbon_gpu_bench flashinfer_attention_test
          kernels_cuda_sampling_test gpu_device_sampling_test)
py="$RIBBON_VENV/bin/python"

if [[ -n "$from_build" ]]; then
  # Only read: its cache must say Release and sm_90a, and the CUDA runner must be linked in.
  grep -q "^CMAKE_BUILD_TYPE:STRING=Release" "$build/CMakeCache.txt" ||
    { echo "[bundle] $build is not a Release build"; exit 1; }
  [[ -x "$build/bench/gpu/ribbon_gpu_bench" ]] || { echo "[bundle] $build has no CUDA (no ribbon_gpu_bench)"; exit 1; }
  echo "[bundle] copying from $build (not rebuilt: build it first if sources changed)"
else
  echo "[bundle] configuring $build (sm_90a + compute_90 PTX)"
  mkdir -p "$build"
  "$RIBBON_VENV/bin/cmake" -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIBBON_PYTHON="$py" \
    -DCMAKE_CUDA_ARCHITECTURES="90a-real;90-virtual" >"$build/configure.log" 2>&1 ||
    { tail -30 "$build/configure.log"; exit 1; }
  grep -q "ribbon CUDA kernels: ON" "$build/configure.log" || { echo "[bundle] CUDA is off in this build (no nvcc?)"; exit 1; }
  echo "[bundle] building ${binaries[*]}"
  "$RIBBON_VENV/bin/cmake" --build "$build" -j "${RIBBON_JOBS:-2}" --target "${binaries[@]}"
fi

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib/fallback" "$bundle/data/stories260k" "$bundle/tests" "$bundle/scripts"
for name in "${binaries[@]}"; do
  path="$build/server/$name"
  [[ -x "$path" ]] || path="$(find "$build" -type f -name "$name" -perm -u+x | head -1)"
  [[ -n "$path" ]] || { echo "[bundle] $name was not built"; exit 1; }
  cp "$path" "$bundle/bin/$name"
  strip --strip-unneeded "$bundle/bin/$name"
done

# Rewrites each binary's RUNPATH (the build machine's torch directory) to $ORIGIN/../lib, in
# place: the new string is shorter and is NUL-padded into the old one's bytes.
"$py" - "$bundle"/bin/* <<'PYTHON'
import struct, sys
DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 5, 15, 29
NEW = b"$ORIGIN/../lib"
for path in sys.argv[1:]:
    data = bytearray(open(path, "rb").read())
    assert data[:4] == b"\x7fELF" and data[4] == 2, f"{path}: not a 64-bit ELF"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
    entries = [struct.unpack_from("<qQ", data, dynamic[0] + k) for k in range(0, dynamic[1], 16)]
    strtab_vaddr = next(v for t, v in entries if t == DT_STRTAB)
    strtab = next(off + strtab_vaddr - va for va, off, size in loads if va <= strtab_vaddr < va + size)
    for tag, value in entries:
        if tag in (DT_RPATH, DT_RUNPATH):
            start = strtab + value
            end = data.index(b"\0", start)
            assert len(NEW) <= end - start, f"{path}: RUNPATH too short to rewrite"
            data[start:end] = NEW + b"\0" * (end - start - len(NEW))
    open(path, "wb").write(bytes(data))
PYTHON

# Shared libraries: every resolved dependency that is neither torch's nor CUDA's nor glibc's.
is_provided_there() {  # torch wheel, its nvidia-* wheels, the CUDA runtime/driver, glibc
  case "$(basename "$1")" in
    libtorch*|libc10*|libcuda*|libcudart*|libcublas*|libcudnn*|libnv*|libcupti*|libcufft*|libcurand*|libcusparse*|\
    libcusolver*|libnccl*|libgomp*|libshm*|libcaffe2*) return 0 ;;
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|ld-linux*|linux-vdso*) return 0 ;;
  esac
  [[ "$1" == "$RIBBON_VENV"* ]]
}
for bin in "$bundle"/bin/*; do
  # The build's own shared libraries (kernels/: FlashInfer's attention) too: RUNPATH no longer
  # points at the build.
  LD_LIBRARY_PATH="$(dirname "$("$py" -c 'import torch; print(torch.__file__)')")/lib:$build/kernels" ldd "$bin" |
    awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  is_provided_there "$lib" && continue
  case "$(basename "$lib")" in
    libstdc++*|libgcc_s*) cp -L "$lib" "$bundle/lib/fallback/" ;;
    *) cp -L "$lib" "$bundle/lib/" ;;
  esac
done

cp "$RIBBON_SHARED_DATA"/stories260k/{config.json,generation_config.json,model.safetensors,golden.json} \
   "$bundle/data/stories260k/"
cp tests/gpu/test_hf_agreement.py "$bundle/tests/"
cp scripts/make_models.py scripts/gpu_serving_stage.py "$bundle/scripts/"

commit="$(git rev-parse HEAD)$(git diff --quiet -- kernels core server proto bench tests scripts || echo "-dirty")"
"$py" - "$bundle" "$commit" <<'PYTHON'
import json, os, sys, time, torch
root, commit = sys.argv[1], sys.argv[2]
files = {os.path.relpath(os.path.join(d, f), root): os.path.getsize(os.path.join(d, f))
         for d, _, fs in os.walk(root) for f in fs}
json.dump({"commit": commit, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "torch_built_against": torch.__version__, "cuda_architectures": "sm_90a + compute_90 PTX",
           "bytes": sum(files.values()), "files": files}, open(os.path.join(root, "MANIFEST.json"), "w"), indent=1)
PYTHON

# Checks: size, and that with only the bundle's lib dir, nothing but torch/CUDA/glibc is unresolved.
bytes=$(du -sb "$bundle" | cut -f1)
echo "[bundle] $bundle: $((bytes / 1024)) KiB in $(find "$bundle" -type f | wc -l) files (limit $((max_bytes / 1048576)) MiB)"
(( bytes <= max_bytes )) || { echo "[bundle] FAIL: over the size limit"; exit 1; }
tree_bytes=$(git ls-files -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "[bundle] tracked tree $((tree_bytes / 1024)) KiB + bundle: $(((tree_bytes + bytes) / 1048576)) MiB of the 64 MiB a device call carries"
(( tree_bytes + bytes <= 64 * 1024 * 1024 )) || { echo "[bundle] FAIL: tree + bundle over 64 MiB"; exit 1; }
status=0
for bin in "$bundle"/bin/*; do
  missing="$(LD_LIBRARY_PATH="$bundle/lib" ldd "$bin" | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')"
  for lib in $missing; do
    is_provided_there "$lib" || { echo "[bundle] FAIL: $(basename "$bin") needs $lib, which is not bundled"; status=1; }
  done
  echo "[bundle] $(basename "$bin"): unresolved without torch: ${missing:-none}"
done
exit $status
