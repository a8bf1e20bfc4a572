# Sourced by the other scripts: where the Python environment, ccache and the build live.
# The environment and ccache sit outside the clone, keyed by the lock file's hash.
ribbon_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RIBBON_CACHE="${RIBBON_CACHE:-$HOME/.cache/ribbon}"
lock_hash="$(cat "$ribbon_root/requirements.lock" "$ribbon_root/requirements-nodeps.lock" | sha256sum | cut -c1-12)"
export RIBBON_VENV="${RIBBON_VENV:-$RIBBON_CACHE/venv-$lock_hash}"
export CCACHE_DIR="${CCACHE_DIR:-$RIBBON_CACHE/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
# Paths under the clone are hashed relative to it, so another clone reuses the same cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ribbon_root}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
export RIBBON_BUILD="${RIBBON_BUILD:-$ribbon_root/build}"
export RIBBON_JOBS="${RIBBON_JOBS:-$(nproc)}"
export RIBBON_SHARED_DATA="${RIBBON_SHARED_DATA:-$ribbon_root/../shared/data}"
export PATH="$RIBBON_VENV/bin:$PATH"
