#include "server/batch/batch_input.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace ribbon::batch {
namespace {

using nlohmann::json;

// Reads the fields of one line, prefixing every error with the line number and field name.
class LineReader {
 public:
  LineReader(const json& object, int64_t line) : object_(object), line_(line) {}

  absl::Status Error(const std::string& field, const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line_, ": field '", field, "': ", what));
  }

  bool Has(const char* field) const { return object_.contains(field); }

  absl::Status Int(const char* field, int64_t lo, int64_t hi, auto& out) const {
    if (!Has(field)) return absl::OkStatus();
    const json& v = object_[field];
    if (!v.is_number_integer())
      return Error(field, absl::StrCat("must be an integer, got ", v.dump()));
    // nlohmann stores every non-negative integer as unsigned; compare it as such before narrowing.
    const bool above = v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(hi)
                                              : v.get<int64_t>() > hi;
    if (above || v.get<int64_t>() < lo) {
      return Error(field, absl::StrCat(v.dump(), " is outside [", lo, ", ", hi, "]"));
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(v.get<int64_t>());
    return absl::OkStatus();
  }

  // lo <= value <= hi, or lo < value when `open_low`.
  absl::Status Float(const char* field, double lo, double hi, bool open_low, float& out) const {
    if (!Has(field)) return absl::OkStatus();
    const json& v = object_[field];
    if (!v.is_number()) return Error(field, absl::StrCat("must be a number, got ", v.dump()));
    const double x = v.get<double>();
    const bool low_ok = open_low ? x > lo : x >= lo;
    if (!std::isfinite(x) || !low_ok || x > hi) {
      return Error(field,
                   absl::StrCat(v.dump(), " is outside ", open_low ? "(" : "[", lo, ", ", hi, "]"));
    }
    out = static_cast<float>(x);
    return absl::OkStatus();
  }

  absl::Status Bool(const char* field, bool& out) const {
    if (!Has(field)) return absl::OkStatus();
    const json& v = object_[field];
    if (!v.is_boolean()) return Error(field, absl::StrCat("must be true or false, got ", v.dump()));
    out = v.get<bool>();
    return absl::OkStatus();
  }

  // A list of token ids, each in [0, vocab).
  absl::Status Ids(const char* field, int64_t vocab, std::vector<int32_t>& out) const {
    if (!Has(field)) return absl::OkStatus();
    const json& v = object_[field];
    if (!v.is_array())
      return Error(field, absl::StrCat("must be a list of token ids, got ", v.dump()));
    out.clear();
    for (size_t i = 0; i < v.size(); ++i) {
      const json& id = v[i];
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab) {
        return Error(field, absl::StrCat("item ", i, " = ", id.dump(), " is not a token id in [0, ",
                                         vocab, ")"));
      }
      out.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    return absl::OkStatus();
  }

 private:
  const json& object_;
  int64_t line_;
};

const std::vector<std::string>& KnownFields() {
  static const std::vector<std::string> fields = {"id",
                                                  "prompt",
                                                  "prompt_ids",
                                                  "max_new_tokens",
                                                  "min_new_tokens",
                                                  "ignore_eos",
                                                  "stop_token_ids",
                                                  "temperature",
                                                  "top_k",
                                                  "top_p",
                                                  "min_p",
                                                  "repetition_penalty",
                                                  "presence_penalty",
                                                  "frequency_penalty",
                                                  "seed",
                                                  "priority"};
  return fields;
}

absl::StatusOr<std::vector<int32_t>> ReadPrompt(const json& object, const LineReader& reader,
                                                int64_t line, const BatchInputLimits& limits,
                                                const Tokenizer* tokenizer) {
  const bool has_text = reader.Has("prompt");
  if (has_text == reader.Has("prompt_ids")) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line, ": give exactly one of 'prompt' (text) or 'prompt_ids'"));
  }
  std::vector<int32_t> prompt;
  if (has_text) {
    const json& text = object["prompt"];
    if (!text.is_string())
      return reader.Error("prompt", absl::StrCat("must be a string, got ", text.dump()));
    if (tokenizer == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "line ", line,
          ": field 'prompt': the model directory has no tokenizer; give 'prompt_ids' instead"));
    }
    prompt = tokenizer->Encode(text.get<std::string>(), /*add_special_tokens=*/true);
  } else {
    RETURN_IF_ERROR(reader.Ids("prompt_ids", limits.vocab_size, prompt));
  }
  const char* field = has_text ? "prompt" : "prompt_ids";
  if (prompt.empty()) return reader.Error(field, "the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) > limits.context_length) {
    return reader.Error(
        field, absl::StrCat("the prompt has ", prompt.size(), " tokens; the model's context is ",
                            limits.context_length));
  }
  return prompt;
}

absl::Status ReadSampling(const LineReader& reader, SamplingParams& s) {
  RETURN_IF_ERROR(reader.Float("temperature", 0, 100, false, s.temperature));
  RETURN_IF_ERROR(reader.Int("top_k", 0, std::numeric_limits<int32_t>::max(), s.top_k));
  RETURN_IF_ERROR(reader.Float("top_p", 0, 1, true, s.top_p));
  RETURN_IF_ERROR(reader.Float("min_p", 0, 1, false, s.min_p));
  RETURN_IF_ERROR(reader.Float("repetition_penalty", 0, 100, true, s.repetition_penalty));
  RETURN_IF_ERROR(reader.Float("presence_penalty", -2, 2, false, s.presence_penalty));
  RETURN_IF_ERROR(reader.Float("frequency_penalty", -2, 2, false, s.frequency_penalty));
  int64_t seed = 0;
  RETURN_IF_ERROR(reader.Int("seed", 0, std::numeric_limits<int64_t>::max(), seed));
  s.seed = static_cast<uint64_t>(seed);
  return absl::OkStatus();
}

}  // namespace

bool IsBlankLine(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); });
}

absl::StatusOr<BatchItem> ParseBatchLine(std::string_view text, int64_t line,
                                         const BatchInputLimits& limits,
                                         const Tokenizer* tokenizer) {
  json object;
  try {
    object = json::parse(text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line, ": not valid JSON (", e.what(), ")"));
  }
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", line, ": must be a JSON object, got ", object.dump()));
  }
  const LineReader reader(object, line);
  for (const auto& [key, value] : object.items()) {
    if (std::find(KnownFields().begin(), KnownFields().end(), key) == KnownFields().end()) {
      return reader.Error(key, "unknown field");
    }
  }
  BatchItem item;
  item.line = line;
  item.id = object.contains("id") ? object["id"] : json(line);
  GenerationRequest& r = item.request;
  r.request_id = item.id.is_string() ? item.id.get<std::string>() : item.id.dump();
  ASSIGN_OR_RETURN(r.prompt, ReadPrompt(object, reader, line, limits, tokenizer));
  r.stop.max_new_tokens = limits.default_max_new_tokens;
  RETURN_IF_ERROR(reader.Int("max_new_tokens", 1, limits.context_length, r.stop.max_new_tokens));
  RETURN_IF_ERROR(reader.Int("min_new_tokens", 0, r.stop.max_new_tokens, r.stop.min_new_tokens));
  RETURN_IF_ERROR(reader.Bool("ignore_eos", r.stop.ignore_eos));
  RETURN_IF_ERROR(reader.Ids("stop_token_ids", limits.vocab_size, r.stop.stop_token_ids));
  RETURN_IF_ERROR(reader.Int("priority", -1000, 1000, r.priority));
  RETURN_IF_ERROR(ReadSampling(reader, r.sampling));
  return item;
}

std::string FormatResultLine(const BatchItem& item, const offline::OfflineResult& result,
                             const std::shared_ptr<const Tokenizer>& tokenizer) {
  json out = json::object();
  out["id"] = item.id;
  out["token_ids"] = result.tokens;
  if (tokenizer) {
    IncrementalDecoder decoder(tokenizer, item.request.prompt);
    std::string text = decoder.Push(result.tokens);
    text += decoder.Flush();
    out["text"] = std::move(text);
  }
  out["finish_reason"] = FinishReasonName(result.finish.reason);
  out["prompt_tokens"] = item.request.prompt.size();
  out["generated_tokens"] = result.tokens.size();
  if (!result.finish.status.ok()) out["error"] = std::string(result.finish.status.message());
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ribbon::batch
