// What a caller hands the engine, and what the engine hands back. Plain data; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/common/time.h"
#include "core/sampling/sampler.h"
#include "core/sampling/sampling_params.h"
#include "core/sampling/stop_rules.h"

namespace ribbon {

struct GenerationRequest {
  std::string request_id;       // for logs; the engine assigns its own numeric id
  std::vector<int32_t> prompt;  // token ids, non-empty, every id < vocab
  SamplingParams sampling;
  StopConditions stop;
  int32_t priority = 0;
  TimeNs deadline = kNoDeadline;
  // Prefix caching: requests share cached KV only with requests of the same salt (a tenant that
  // must not learn others' prompts through timing sets its own).
  std::string cache_salt;
};

enum class FinishReason { kStopToken, kLength, kStopString, kCancelled, kDeadline, kError };

const char* FinishReasonName(FinishReason reason);

struct FinishInfo {
  FinishReason reason = FinishReason::kLength;
  absl::Status status;  // OK unless reason is kError / kDeadline / kCancelled
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  int32_t prompt_tokens_computed = 0;  // prompt tokens that went through the model (0 if never ran)
  int32_t cached_prompt_tokens = 0;    // prompt tokens whose KV came from the prefix cache
  int32_t preemptions = 0;
  TimeNs arrival = 0;
  TimeNs first_scheduled = 0;  // 0 if never scheduled
  TimeNs first_token = 0;      // 0 if no token was produced
  TimeNs finished = 0;
};

// Receives one request's output. The engine calls it from its own thread, never concurrently
// for the same request: OnTokens after each step that sampled tokens for it, then OnFinish
// exactly once, last. Implementations must not block (queue the work and return).
// Stop tokens (core/sampling/stop_rules.h) never reach OnTokens: one that ends the request is
// withheld by the engine (FinishReason::kStopToken), and none can be drawn before
// min_new_tokens. Every token OnTokens receives is output.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void OnTokens(std::span<const SampledToken> tokens) = 0;
  virtual void OnFinish(const FinishInfo& info) = 0;
};

}  // namespace ribbon
