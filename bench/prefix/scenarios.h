// The prefix-cache benchmark's three workloads (docs/perf/prefix-cache-2026-12-04.md). Each one
// returns its figures as a JSON object; the caller prints it.
//
//   shared prefix  one request of a `prefix`-token prompt plus a short suffix runs alone, then
//                  `requests` more (the same prefix, each its own 8-32 new tokens, 16 generated)
//                  go in waves of `concurrency`, each wave after the last has finished. Cache
//                  off, then on, each on a fresh engine; TTFT p50 and total times compared.
//   chat           a conversation replayed by token ids: each turn's prompt is the previous
//                  prompt + what the model generated + 20 new ids; 16 generated per turn.
//   no sharing     random prompts that share nothing, on two engines (cache on, cache off) in
//                  alternating rounds with the same prompts: forward rows counted (must be
//                  equal) and times compared as medians.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "bench/prefix/bench_driver.h"
#include "nlohmann/json.hpp"

namespace ribbon::bench {

struct SharedPrefixSpec {
  int32_t prefix = 1000;
  int32_t requests = 32;
  int32_t min_new = 8;  // new prompt tokens per request, drawn uniformly
  int32_t max_new = 32;
  int32_t generate = 16;
  int32_t concurrency = 4;
  uint32_t seed = 1;
};

struct ChatSpec {
  int32_t first_prompt = 1000;  // the system prompt and first message
  int32_t turns = 10;
  int32_t new_per_turn = 20;
  int32_t generate = 16;
  uint32_t seed = 2;
};

struct NoSharingSpec {
  int32_t rounds = 9;  // each runs cache on and cache off once, alternating which goes first
  int32_t requests = 16;
  int32_t min_prompt = 16;
  int32_t max_prompt = 160;
  int32_t generate = 16;
  uint32_t seed = 3;
};

absl::StatusOr<nlohmann::ordered_json> RunSharedPrefix(const BenchOptions& options,
                                                       const SharedPrefixSpec& spec);
absl::StatusOr<nlohmann::ordered_json> RunChat(const BenchOptions& options, const ChatSpec& spec);
absl::StatusOr<nlohmann::ordered_json> RunNoSharing(const BenchOptions& options,
                                                    const NoSharingSpec& spec);

}  // namespace ribbon::bench
