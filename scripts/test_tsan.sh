#!/usr/bin/env bash
# `make test-tsan`: builds the engine, the server and their tests with ThreadSanitizer (build-tsan/,
# RelWithDebInfo, CUDA off) and runs the C++ engine and server tests, the threaded-engine test and
# its planted-race check (tests/tsan/), and the black-box daemon tests against the instrumented
# ribbond. Passes only when every test passes and no process wrote a ThreadSanitizer report.
#
# libtorch, OpenMP and gRPC are not instrumented: their synchronisation is invisible to TSan, so
# races that go through them are suppressed by library (tests/tsan/suppressions.txt, each entry
# with its reason; docs/perf/reliability-2026-12-04.md lists them). OpenMP runs one thread
# (OMP_THREAD_LIMIT=1 caps it even where a test asks torch for two). Tests labelled compute_bound
# (minutes of model arithmetic on one thread, e.g. the start-up probe on 100M-class shapes) are
# left out: under TSan they outlast their limits and check no concurrency.
# Prints the time of each phase. Environment: RIBBON_TSAN_BUILD (default build-tsan/),
# RIBBON_TEST_JOBS (parallel tests, default 1), RIBBON_TSAN_TESTS (a ctest -R regex to run fewer).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export RIBBON_BUILD="${RIBBON_TSAN_BUILD:-$here/build-tsan}"
export RIBBON_BUILD_TYPE=RelWithDebInfo
export RIBBON_CMAKE_ARGS="-DRIBBON_SANITIZE=thread -DRIBBON_ENABLE_CUDA=OFF"
source scripts/env.sh
t0=$(date +%s)
# A fresh machine first needs the Debian packages and the Python environment: the full setup
# (it builds every target, instrumented). Otherwise only what the TSan run needs is built.
if [[ ! -f "$RIBBON_VENV/.complete" ]]; then
  scripts/setup.sh
fi
scripts/configure.sh
# With RIBBON_TSAN_TESTS only the C++ tests it selects are built (each instrumented test
# executable is minutes of compiling on a small machine); ribbond and the CLI always are.
tests_regex="${RIBBON_TSAN_TESTS:-^(engine_|server_|cli_args_test|tsan_)}"
targets=(ribbond ribbon)
while read -r name; do
  [[ "$name" =~ $tests_regex ]] || continue
  case "$name" in
    tsan_planted_race) targets+=(tsan_planted_race_test) ;;
    *) targets+=("$name") ;;
  esac
done < <(cd "$RIBBON_BUILD" && ctest -N 2>/dev/null | sed -n \
  's/^ *Test *#[0-9]*: \(\(engine\|server\)_[a-z0-9_]*_test\|cli_args_test\|tsan_planted_race\)$/\1/p')
echo "[test-tsan] building ${#targets[@]} targets ($RIBBON_JOBS jobs)"
cmake --build "$RIBBON_BUILD" --target "${targets[@]}" -j "$RIBBON_JOBS"
demo="$RIBBON_BUILD/models/demo"  # for the serve-script test, as scripts/setup.sh makes it
stamp="$(sha256sum scripts/make_models.py | cut -c1-16)"
if [[ "$(cat "$demo/.stamp" 2>/dev/null)" != "$stamp" ]]; then
  "$RIBBON_VENV/bin/python" scripts/make_models.py demo --out "$demo"
  echo "$stamp" >"$demo/.stamp"
fi
t1=$(date +%s)

reports="$RIBBON_BUILD/tsan-reports"
rm -rf "$reports" && mkdir -p "$reports"
# Every instrumented process (test binaries, ribbond, the ribbon CLI) writes its reports to
# $reports/tsan.<exe>.<pid>; the run fails on any of them, whatever the exit code of the test.
export TSAN_OPTIONS="suppressions=$here/tests/tsan/suppressions.txt log_path=$reports/tsan log_exe_name=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1
export RIBBON_TEST_TIME_SCALE=4  # waits in the black-box tests (tests/python/server/ribbond_harness.py)
status=0
(cd "$RIBBON_BUILD" && ctest --output-on-failure --timeout 1200 -j "${RIBBON_TEST_JOBS:-1}" \
  -R "$tests_regex" -LE "gpu|rss|compute_bound") || status=$?
t2=$(date +%s)
found=$(grep -l "ThreadSanitizer" "$reports"/tsan.* 2>/dev/null || true)
if [[ -n "$found" ]]; then
  status=1
  echo "[test-tsan] ThreadSanitizer reports in $(echo "$found" | wc -l) process(es):"
  for f in $found; do
    echo "== $f"
    head -60 "$f"
  done
else
  echo "[test-tsan] no ThreadSanitizer reports ($(ls "$reports" | wc -l) report files)"
fi
echo "[test-tsan] phases: setup+build $((t1 - t0))s, tests $((t2 - t1))s"
exit $status
