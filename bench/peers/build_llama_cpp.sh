#!/usr/bin/env bash
# Builds llama.cpp's llama-server and llama-batched-bench (CPU only) ONCE into the cache outside
# the clone: $RIBBON_CACHE/peers/llama.cpp-<version>/bin. A second run finds the .complete stamp
# and does nothing. The sources come from the pinned PyPI sdist (bench/peers/llama_cpp.pin),
# checked against its sha256. The cold build time is written to build-seconds beside the binaries
# (it is reported separately from the benchmark's own time).
#   build_llama_cpp.sh            prints the bin directory on its last line
# Knobs: RIBBON_PEER_JOBS (default 2).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/scripts/env.sh"
pin="$here/bench/peers/llama_cpp.pin"
pin_value() { grep -E "^$1=" "$pin" | cut -d= -f2; }
package="$(pin_value package)"
version="$(pin_value version)"
sha="$(pin_value sha256)"
prefix="$RIBBON_CACHE/peers/llama.cpp-$package-$version"
if [ -f "$prefix/.complete" ]; then
  echo "$prefix/bin"
  exit 0
fi
jobs="${RIBBON_PEER_JOBS:-2}"
work="$prefix.work"
rm -rf "$work" "$prefix"
mkdir -p "$work"
t0=$(date +%s)
echo "[peers] downloading $package==$version (sdist)" >&2
"$RIBBON_VENV/bin/pip" download -q --no-deps --no-binary "$package" "$package==$version" -d "$work" >&2
sdist="$(ls "$work"/*.tar.gz)"
echo "$sha  $sdist" | sha256sum -c --quiet - >&2 || { echo "[peers] sha256 mismatch for $sdist" >&2; exit 1; }
tar xzf "$sdist" -C "$work"
src="$(ls -d "$work"/*/vendor/llama.cpp)"
echo "[peers] building llama-server and llama-batched-bench from $src ($jobs jobs, CPU only)" >&2
# No GPU back-ends, no downloads at configure time (web UI, curl), native CPU kernels.
"$RIBBON_VENV/bin/cmake" -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF \
  -DCMAKE_MAKE_PROGRAM="$RIBBON_VENV/bin/ninja" >"$work/configure.log" 2>&1 \
  || { tail -30 "$work/configure.log" >&2; exit 1; }
"$RIBBON_VENV/bin/cmake" --build "$work/build" -j "$jobs" --target llama-server llama-batched-bench \
  >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
mkdir -p "$prefix/bin"
cp "$work/build/bin/llama-server" "$work/build/bin/llama-batched-bench" "$prefix/bin/"
t1=$(date +%s)
echo "$((t1 - t0))" > "$prefix/build-seconds"
echo "$package==$version llama.cpp $(pin_value llama_cpp_commit) jobs=$jobs $(nproc) cores" > "$prefix/build-info"
rm -rf "$work"
touch "$prefix/.complete"
echo "[peers] built in $((t1 - t0)) s" >&2
echo "$prefix/bin"
