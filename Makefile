# The two commands a newcomer needs (see README.md):
#   make serve   set everything up, build, start ribbond on the default model, SmolLM2-135M-Instruct
#                (MODEL=demo for the random-weight demo model, MODEL=<dir> for another)
#   make test    set everything up, build, run the whole test suite
SHELL := /bin/bash
MODEL ?=
ARGS ?=
SECONDS ?= 300

.PHONY: serve test setup build test-asan test-tsan fuzz bench soak clean

setup:
	@scripts/setup.sh

build: setup

serve: setup
	@scripts/serve.sh "$(MODEL)" $(ARGS)

test:
	@scripts/test.sh

test-asan:
	@RIBBON_BUILD="$(CURDIR)/build-asan" RIBBON_BUILD_TYPE=RelWithDebInfo \
	  RIBBON_CMAKE_ARGS="-DRIBBON_SANITIZE=ON -DRIBBON_ENABLE_CUDA=OFF" scripts/test.sh --asan

# ThreadSanitizer: engine and server tests, black-box daemon tests against an instrumented
# ribbond, and the planted-race check (scripts/test_tsan.sh; build-tsan/).
test-tsan:
	@scripts/test_tsan.sh

# Every libFuzzer target (tests/fuzz/fuzz_targets.sh), SECONDS each, one after another; not
# part of `make test`, which replays every corpus once instead (ctest -L fuzz_replay).
fuzz:
	@for target in $$(tests/fuzz/run_fuzz.sh --list); do echo "== fuzz $$target ($(SECONDS) s)"; \
	  tests/fuzz/run_fuzz.sh "$$target" "$(SECONDS)" || exit 1; done

bench: setup
	@scripts/bench.sh

# The soak (tests/soak/soak.py): a real ribbond (stories260K, CPU) under a mixed, seeded load of
# 256 streams for DURATION seconds, every answer checked against a reference run alone, then a
# kill -9 crash drill; report in $RIBBON_BUILD/soak/report.json (exit 1 on any failed check).
DURATION ?= 600
soak: setup
	@source scripts/env.sh && nice -n 10 "$$RIBBON_VENV/bin/python" tests/soak/soak.py \
	  --seconds "$(DURATION)" --out "$$RIBBON_BUILD/soak"

clean:
	rm -rf build build-asan build-tsan
