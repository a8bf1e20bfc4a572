// Per-request sampling parameters (validated by the server before they reach the engine).
// Plain value type; any thread.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace ribbon {

struct SamplingParams {
  float temperature = 0.0f;         // 0 = greedy (argmax)
  int32_t top_k = 0;                // 0 = off
  float top_p = 1.0f;               // (0, 1]; 1 = off
  float min_p = 0.0f;               // [0, 1]; 0 = off
  float repetition_penalty = 1.0f;  // > 0; 1 = off (applies to prompt and output tokens)
  float presence_penalty = 0.0f;    // applies to output tokens
  float frequency_penalty = 0.0f;   // applies to output tokens
  uint64_t seed = 0;                // randomness is keyed by (seed, output index)
  int32_t top_logprobs = 0;         // alternatives reported per token
  bool logprobs = false;            // report the sampled token's logprob
  // Added to the logits of these tokens before anything else (OpenAI's logit_bias); ids are
  // inside the vocabulary, biases in [-100, 100].
  std::vector<std::pair<int32_t, float>> logit_bias;

  bool greedy() const { return temperature <= 0.0f; }
  // A penalty needs the request's token history (prompt and output).
  bool uses_penalties() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

}  // namespace ribbon
