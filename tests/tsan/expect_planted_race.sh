#!/usr/bin/env bash
# Runs the engine workload built with the planted race (tests/tsan/CMakeLists.txt) and passes
# only if ThreadSanitizer reports a data race in PlantedRaceTouch, the unlocked counter that
# Engine::Impl::Submit (caller's thread) and Engine::Impl::Loop (engine thread) both bump. A run
# without that report means `make test-tsan` could not see a race in the engine.
# Usage: expect_planted_race.sh <tsan_planted_race_test binary>
set -uo pipefail
binary="$1"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Keep going after the first report (the workload must still finish), report to stderr (not to
# the report files `make test-tsan` collects), and run with its suppressions: they must not hide
# the race. These come after any TSAN_OPTIONS inherited, so they win.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TSAN_OPTIONS="${TSAN_OPTIONS:-} halt_on_error=0 exitcode=66 log_path=stderr suppressions=$here/suppressions.txt" \
  "$binary" >"$log" 2>&1
rc=$?
if ! grep -q "WARNING: ThreadSanitizer: data race" "$log"; then
  cat "$log"
  echo "FAIL: no ThreadSanitizer data race reported (exit $rc); is the binary built with TSan?"
  exit 1
fi
if ! grep -q "PlantedRaceTouch" "$log"; then
  cat "$log"
  echo "FAIL: ThreadSanitizer reported races, but none in the planted PlantedRaceTouch"
  exit 1
fi
if [[ $rc -ne 66 ]]; then
  cat "$log"
  echo "FAIL: expected ThreadSanitizer's exit code 66, got $rc"
  exit 1
fi
reports=$(grep -c "WARNING: ThreadSanitizer: data race" "$log")
echo "OK: ThreadSanitizer reported the planted race ($reports report(s), exit $rc):"
grep -m1 -A12 "WARNING: ThreadSanitizer: data race" "$log"
