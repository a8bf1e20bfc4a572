// The input and output lines of `ribbon-batch` (JSON Lines): one request per input line, one
// result per output line, in input order.
//
//   in:  {"id": "a1", "prompt": "Once upon a time", "max_new_tokens": 32, "temperature": 0.8,
//   "seed": 7}
//        {"id": 2, "prompt_ids": [1, 403, 9], "ignore_eos": true}
//   out: {"id": "a1", "token_ids": [...], "text": "...", "finish_reason": "length",
//         "prompt_tokens": 5, "generated_tokens": 32}
//        and, for a request that failed, "error": "message" (token_ids and text are then empty).
//
// Input fields: exactly one of `prompt` (text, encoded with the model's tokenizer and its
// special tokens, e.g. BOS) or `prompt_ids` (token ids); optional `id` (any JSON value, echoed
// back; the 1-based line number when absent), `max_new_tokens`, `min_new_tokens`, `ignore_eos`,
// `stop_token_ids`, `temperature`, `top_k`, `top_p`, `min_p`, `repetition_penalty`,
// `presence_penalty`, `frequency_penalty`, `seed`, `priority`. An unknown field is an error (a
// misspelt `temprature` would otherwise be silently ignored). Blank lines are skipped.
//
// Pure functions over their arguments; any thread (the Tokenizer is const and thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/engine/request.h"
#include "core/offline/offline_batch.h"
#include "core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace ribbon::batch {

struct BatchInputLimits {
  int64_t vocab_size = 0;
  int64_t context_length = 0;           // the prompt must fit
  int32_t default_max_new_tokens = 16;  // for lines without max_new_tokens
};

struct BatchItem {
  int64_t line = 0;   // 1-based line number in the input file
  nlohmann::json id;  // echoed back verbatim
  GenerationRequest request;
};

// Parses one input line. INVALID_ARGUMENT messages read "line N: field 'F': what is wrong", or
// "line N: ..." for the line as a whole. `tokenizer` may be null when every prompt is given as
// ids; a text prompt then fails with FAILED_PRECONDITION naming the line.
absl::StatusOr<BatchItem> ParseBatchLine(std::string_view text, int64_t line,
                                         const BatchInputLimits& limits,
                                         const Tokenizer* tokenizer);

// True for a line holding only whitespace (skipped, not an error).
bool IsBlankLine(std::string_view text);

// One output line (no trailing newline). `tokenizer` may be null: "text" is then omitted.
std::string FormatResultLine(const BatchItem& item, const offline::OfflineResult& result,
                             const std::shared_ptr<const Tokenizer>& tokenizer);

}  // namespace ribbon::batch
