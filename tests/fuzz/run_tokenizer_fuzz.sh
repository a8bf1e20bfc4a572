#!/usr/bin/env bash
# The tokenizer libFuzzer target (tests/fuzz/tokenizer_fuzz.cpp); kept for the docs' command.
# Same as: tests/fuzz/run_fuzz.sh tokenizer [seconds=300] [libFuzzer flags...]
# RIBBON_FUZZ_TOKENIZERS=dir1:dir2 fuzzes other tokenizers than the shared ones.
exec "$(dirname "${BASH_SOURCE[0]}")/run_fuzz.sh" tokenizer "$@"
