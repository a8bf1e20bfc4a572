// OpenAI request parsing: the JSON body of POST /v1/chat/completions or /v1/completions becomes
// ribbon.v1.GenerateRequest protos (one per prompt; `n` inside each), which then go through the
// same preparation and validation as a gRPC request (server/prepare_request.h).
//
// Errors are INVALID_ARGUMENT naming the OpenAI parameter (also attached as the status payload
// kParamPayload, for the error's "param"); NOT_FOUND for another model's name. Parameters ribbon
// knows but does not implement (tools that need tool-call parsing, response_format, reasoning
// options, echo, suffix, best_of > n) are refused naming the feature. Unknown fields are
// returned in `ignored_fields` for the caller to log (newer clients keep working).
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ribbon/v1/generation.pb.h"

namespace ribbon::server::openai {

inline constexpr char kParamPayload[] = "ribbon.openai.param";

enum class Endpoint { kChat, kCompletions };

struct OpenAiRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::string model;  // as sent ("" when absent)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Completions: logprobs = N alternatives (the legacy format); -1 = off.
  int completion_logprobs = -1;
  bool chat_logprobs = false;  // chat: logprobs true (top_logprobs inside the proto)
  std::vector<ribbon::v1::GenerateRequest> prompts;  // one per prompt; n set in each
  std::vector<std::string> ignored_fields;
};

// `served_model` is the name this server answers to; `max_top_logprobs` bounds logprobs.
absl::StatusOr<OpenAiRequest> ParseOpenAiRequest(Endpoint endpoint, std::string_view body,
                                                 const std::string& served_model);

// A validation error from the shared validator, reworded with the OpenAI parameter names
// (max_new_tokens -> max_tokens, token_ids/text -> prompt, ...), `param` payload attached.
absl::Status ToOpenAiError(const absl::Status& status, Endpoint endpoint);

// INVALID_ARGUMENT naming `param`, with the payload set.
absl::Status ParamError(const std::string& param, const std::string& message);

}  // namespace ribbon::server::openai
