#!/usr/bin/env bash
# Configures the CMake + Ninja build in $RIBBON_BUILD (run by scripts/setup.sh). It reconfigures
# whenever what it passes to CMake changes (RIBBON_BUILD_TYPE, RIBBON_CMAKE_ARGS, the Python
# environment), not only when the build folder is new: a stamp in the build folder holds the
# arguments of the last configure. Prints "configured" when it ran CMake, "up to date" when not.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
configure_args=(-G Ninja -DCMAKE_BUILD_TYPE="${RIBBON_BUILD_TYPE:-Release}"
  -DRIBBON_PYTHON="$RIBBON_VENV/bin/python" ${RIBBON_CMAKE_ARGS:-})
stamp="$RIBBON_BUILD/.ribbon-configure-args"
if [ -f "$RIBBON_BUILD/build.ninja" ] && [ "$(cat "$stamp" 2>/dev/null)" == "${configure_args[*]}" ]; then
  echo "[configure] $RIBBON_BUILD up to date"
  exit 0
fi
echo "[configure] configuring $RIBBON_BUILD (${configure_args[*]})"
"$RIBBON_VENV/bin/cmake" -S . -B "$RIBBON_BUILD" "${configure_args[@]}" >"${RIBBON_CONFIGURE_LOG:-/dev/stdout}"
printf '%s' "${configure_args[*]}" > "$stamp"
echo "[configure] configured"
