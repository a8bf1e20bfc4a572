#include "server/request_validation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "server/utf8.h"

namespace ribbon::server {
namespace {

using ribbon::v1::GenerateRequest;

absl::Status Outside(const std::string& field, double value, const std::string& range) {
  return absl::InvalidArgumentError(absl::StrCat(field, " = ", value, " is outside ", range));
}

// Checks lo <= value <= hi (lo < value when `open_low`); NaN is always outside.
absl::Status CheckRange(const std::string& field, float value, double lo, double hi,
                        bool open_low = false) {
  const bool low_ok = open_low ? value > lo : value >= lo;
  if (std::isfinite(value) && low_ok && value <= hi) return absl::OkStatus();
  return Outside(field, value, absl::StrCat(open_low ? "(" : "[", lo, ", ", hi, "]"));
}

absl::StatusOr<std::vector<int32_t>> ResolvePrompt(const GenerateRequest& proto,
                                                   const ModelLimits& model,
                                                   const Tokenizer* tokenizer) {
  switch (proto.prompt_case()) {
    case GenerateRequest::kText: {
      if (proto.text().empty()) return absl::InvalidArgumentError("text: the prompt is empty");
      RETURN_IF_ERROR(ValidateUtf8Field(proto.text(), "text"));
      if (tokenizer == nullptr) {
        return absl::FailedPreconditionError("text: this server has no tokenizer; send token_ids");
      }
      return tokenizer->Encode(proto.text(), /*add_special_tokens=*/true);
    }
    case GenerateRequest::kTokenIds: {
      const auto& ids = proto.token_ids().ids();
      if (ids.empty()) return absl::InvalidArgumentError("token_ids: the prompt is empty");
      RETURN_IF_ERROR(ValidateTokenIds(ids, "token_ids", model));
      return std::vector<int32_t>(ids.begin(), ids.end());
    }
    case GenerateRequest::kChat:
      return absl::InvalidArgumentError("chat: render it first (PrepareRequest)");
    case GenerateRequest::PROMPT_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("prompt: set either text or token_ids");
}

absl::StatusOr<SamplingParams> ValidateSampling(const GenerateRequest& proto,
                                                const LimitsSection& limits) {
  SamplingParams params;
  if (proto.has_temperature()) {
    RETURN_IF_ERROR(CheckRange("temperature", proto.temperature(), 0, 100));
    params.temperature = proto.temperature();
  }
  if (proto.has_top_k()) {
    if (proto.top_k() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("top_k = ", proto.top_k(), " is outside [0, 2147483647] (0 = off)"));
    }
    params.top_k = proto.top_k();
  }
  if (proto.has_top_p()) {
    RETURN_IF_ERROR(CheckRange("top_p", proto.top_p(), 0, 1, /*open_low=*/true));
    params.top_p = proto.top_p();
  }
  if (proto.has_min_p()) {
    RETURN_IF_ERROR(CheckRange("min_p", proto.min_p(), 0, 1));
    params.min_p = proto.min_p();
  }
  if (proto.has_repetition_penalty()) {
    RETURN_IF_ERROR(CheckRange("repetition_penalty", proto.repetition_penalty(), 0, 100, true));
    params.repetition_penalty = proto.repetition_penalty();
  }
  if (proto.has_presence_penalty()) {
    RETURN_IF_ERROR(CheckRange("presence_penalty", proto.presence_penalty(), -2, 2));
    params.presence_penalty = proto.presence_penalty();
  }
  if (proto.has_frequency_penalty()) {
    RETURN_IF_ERROR(CheckRange("frequency_penalty", proto.frequency_penalty(), -2, 2));
    params.frequency_penalty = proto.frequency_penalty();
  }
  if (proto.top_logprobs() > static_cast<uint64_t>(limits.max_top_logprobs)) {
    return Outside("top_logprobs", proto.top_logprobs(),
                   absl::StrCat("[0, ", limits.max_top_logprobs, "]"));
  }
  params.top_logprobs = static_cast<int32_t>(proto.top_logprobs());
  params.logprobs = proto.logprobs() || proto.top_logprobs() > 0;
  params.seed = proto.seed();
  return params;
}

absl::Status ValidateStops(const GenerateRequest& proto, const LimitsSection& limits,
                           const ModelLimits& model, ValidatedRequest& out) {
  if (proto.stop_size() > limits.max_stop_strings) {
    return absl::InvalidArgumentError(absl::StrCat("stop: ", proto.stop_size(),
                                                   " stop strings; at most ",
                                                   limits.max_stop_strings, " are allowed"));
  }
  for (int i = 0; i < proto.stop_size(); ++i) {
    const std::string field = absl::StrCat("stop[", i, "]");
    const std::string& stop = proto.stop(i);
    if (stop.empty()) return absl::InvalidArgumentError(field + ": a stop string is empty");
    if (static_cast<int64_t>(stop.size()) > limits.max_stop_string_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", stop.size(), " bytes; at most ",
                                                     limits.max_stop_string_bytes, " allowed"));
    }
    RETURN_IF_ERROR(ValidateUtf8Field(stop, field));
    out.stop_strings.push_back(stop);
  }
  if (proto.stop_token_ids_size() > limits.max_stop_token_ids) {
    return absl::InvalidArgumentError(absl::StrCat("stop_token_ids: ", proto.stop_token_ids_size(),
                                                   " ids; at most ", limits.max_stop_token_ids,
                                                   " are allowed"));
  }
  RETURN_IF_ERROR(ValidateTokenIds(proto.stop_token_ids(), "stop_token_ids", model));
  out.request.stop.stop_token_ids.assign(proto.stop_token_ids().begin(),
                                         proto.stop_token_ids().end());
  out.request.stop.ignore_eos = proto.ignore_eos();
  return absl::OkStatus();
}

absl::Status ValidateLogitBias(const GenerateRequest& proto, const ModelLimits& model,
                               ValidatedRequest& out) {
  if (proto.logit_bias_size() > kMaxLogitBiasEntries) {
    return absl::InvalidArgumentError(absl::StrCat("logit_bias: ", proto.logit_bias_size(),
                                                   " entries; at most ", kMaxLogitBiasEntries,
                                                   " are allowed"));
  }
  for (const auto& [id, bias] : proto.logit_bias()) {
    if (id < 0 || id >= model.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "logit_bias: token id ", id, " is outside the vocabulary [0, ", model.vocab_size, ")"));
    }
    RETURN_IF_ERROR(CheckRange(absl::StrCat("logit_bias[", id, "]"), bias, -100, 100));
    out.request.sampling.logit_bias.emplace_back(id, bias);
  }
  // Sorted by token id: the proto map's order is unspecified.
  std::sort(out.request.sampling.logit_bias.begin(), out.request.sampling.logit_bias.end());
  return absl::OkStatus();
}

absl::Status ValidateLengths(const GenerateRequest& proto, const LimitsSection& limits,
                             const ModelLimits& model, StopConditions& stop, int64_t prompt_len) {
  if (prompt_len >= model.context_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt: ", prompt_len, " tokens do not fit the model's context of ", model.context_length,
        " tokens (at least one token must be left to generate)"));
  }
  const int64_t room = model.context_length - prompt_len;
  int64_t max_new = std::min<int64_t>(limits.default_max_new_tokens, room);
  if (proto.has_max_new_tokens()) {
    max_new = proto.max_new_tokens();
    if (max_new < 1 || max_new > room) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_new_tokens = ", max_new, " is outside [1, ", room, "] (context ",
                       model.context_length, " tokens - prompt ", prompt_len, " tokens)"));
    }
  }
  if (proto.min_new_tokens() > max_new) {
    return absl::InvalidArgumentError(absl::StrCat("min_new_tokens = ", proto.min_new_tokens(),
                                                   " is outside [0, ", max_new,
                                                   "] (max_new_tokens)"));
  }
  stop.max_new_tokens = static_cast<int32_t>(max_new);
  stop.min_new_tokens = static_cast<int32_t>(proto.min_new_tokens());
  return absl::OkStatus();
}

}  // namespace

ModelLimits ModelLimitsFrom(const ModelConfig& config) {
  return {.vocab_size = config.vocab_size, .context_length = config.max_position_embeddings};
}

absl::Status ValidateUtf8Field(const std::string& text, const std::string& field) {
  if (const auto offset = FindInvalidUtf8(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid UTF-8 at byte ", *offset, " of ", text.size()));
  }
  return absl::OkStatus();
}

absl::Status ValidateTokenIds(const google::protobuf::RepeatedField<int32_t>& ids,
                              const std::string& field, const ModelLimits& model) {
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= model.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "[", i, "] = ", ids[i], " is outside the vocabulary [0, ", model.vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ValidatedRequest> ValidateGenerateRequest(const GenerateRequest& proto,
                                                         const LimitsSection& limits,
                                                         const ModelLimits& model,
                                                         const Tokenizer* tokenizer) {
  ValidatedRequest out;
  if (static_cast<int64_t>(proto.client_request_id().size()) > limits.max_client_request_id_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_request_id: ", proto.client_request_id().size(), " bytes; at most ",
                     limits.max_client_request_id_bytes, " allowed"));
  }
  if (proto.cache_salt().size() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_salt: ", proto.cache_salt().size(), " bytes; at most 256 allowed"));
  }
  ASSIGN_OR_RETURN(out.request.prompt, ResolvePrompt(proto, model, tokenizer));
  out.prompt_was_text = proto.prompt_case() == GenerateRequest::kText;
  ASSIGN_OR_RETURN(out.request.sampling, ValidateSampling(proto, limits));
  RETURN_IF_ERROR(ValidateStops(proto, limits, model, out));
  RETURN_IF_ERROR(ValidateLogitBias(proto, model, out));
  RETURN_IF_ERROR(ValidateLengths(proto, limits, model, out.request.stop,
                                  static_cast<int64_t>(out.request.prompt.size())));
  out.request.priority = proto.priority();
  return out;
}

}  // namespace ribbon::server
