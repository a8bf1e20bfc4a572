#!/usr/bin/env bash
# The chat-template libFuzzer target (tests/fuzz/chat_template_fuzz.cpp); kept for the docs'
# command. Same as: tests/fuzz/run_fuzz.sh chat_template [seconds=300] [libFuzzer flags...]
exec "$(dirname "${BASH_SOURCE[0]}")/run_fuzz.sh" chat_template "$@"
