// Turns a ribbon.v1.GenerateRequest into an engine GenerationRequest, checking every field.
// Each error is INVALID_ARGUMENT naming the field and the allowed range (or, for a prompt past
// the context, both lengths), so that a client can fix the request from the message alone.
//
// Pure functions over their arguments; any thread (the Tokenizer is const and thread-safe).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/request.h"
#include "core/model/model_config.h"
#include "core/tokenizer/tokenizer.h"
#include "ribbon/v1/generation.pb.h"
#include "server/config.h"

namespace ribbon::server {

// What the validator needs to know about the model being served.
struct ModelLimits {
  int64_t vocab_size = 0;
  int64_t context_length = 0;  // prompt + generated tokens must fit
};

ModelLimits ModelLimitsFrom(const ModelConfig& config);

struct ValidatedRequest {
  GenerationRequest request;              // request_id and deadline are left for the caller
  std::vector<std::string> stop_strings;  // valid UTF-8, non-empty
  bool prompt_was_text = false;
};

inline constexpr int kMaxLogitBiasEntries = 1024;

// `tokenizer` encodes a text prompt (with the model's special tokens, e.g. BOS); it may be null
// when only token-id prompts are possible.
absl::StatusOr<ValidatedRequest> ValidateGenerateRequest(const ribbon::v1::GenerateRequest& proto,
                                                         const LimitsSection& limits,
                                                         const ModelLimits& model,
                                                         const Tokenizer* tokenizer);

// Token ids given to Detokenize (and stop_token_ids): each in [0, vocab). `field` names them.
absl::Status ValidateTokenIds(const google::protobuf::RepeatedField<int32_t>& ids,
                              const std::string& field, const ModelLimits& model);

// UTF-8 check for a `bytes` text field; INVALID_ARGUMENT naming `field` and the byte offset.
absl::Status ValidateUtf8Field(const std::string& text, const std::string& field);

}  // namespace ribbon::server
