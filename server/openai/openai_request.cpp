#include "server/openai/openai_request.h"

#include <functional>
#include <set>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ribbon::server::openai {
namespace {

using nlohmann::json;
using ribbon::v1::GenerateRequest;

// Fields read below, or accepted and deliberately without effect (user, store, metadata).
const std::set<std::string>& KnownFields() {
  static const auto* known = new std::set<std::string>{"model",
                                                       "messages",
                                                       "prompt",
                                                       "max_tokens",
                                                       "max_completion_tokens",
                                                       "temperature",
                                                       "top_p",
                                                       "n",
                                                       "stop",
                                                       "seed",
                                                       "presence_penalty",
                                                       "frequency_penalty",
                                                       "logprobs",
                                                       "top_logprobs",
                                                       "logit_bias",
                                                       "user",
                                                       "cache_salt",
                                                       "top_k",
                                                       "min_p",
                                                       "repetition_penalty",
                                                       "min_tokens",
                                                       "ignore_eos",
                                                       "stop_token_ids",
                                                       "priority",
                                                       "stream",
                                                       "stream_options",
                                                       "tools",
                                                       "tool_choice",
                                                       "response_format",
                                                       "reasoning_effort",
                                                       "reasoning",
                                                       "include_reasoning",
                                                       "echo",
                                                       "suffix",
                                                       "best_of",
                                                       "functions",
                                                       "function_call",
                                                       "parallel_tool_calls",
                                                       "chat_template_kwargs",
                                                       "add_generation_prompt",
                                                       "store",
                                                       "metadata"};
  return *known;
}

absl::Status WrongType(const std::string& param, const char* wanted, const json& value) {
  return ParamError(param, absl::StrCat(param, ": must be ", wanted, ", got ", value.dump()));
}

// Fetches body[name] when present and not null.
const json* Get(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

absl::Status ReadFloat(const json& body, const char* name, std::function<void(float)> set) {
  if (const json* v = Get(body, name)) {
    if (!v->is_number()) return WrongType(name, "a number", *v);
    set(v->get<float>());
  }
  return absl::OkStatus();
}

absl::Status ReadInt(const json& body, const char* name, std::function<absl::Status(int64_t)> set) {
  if (const json* v = Get(body, name)) {
    if (!v->is_number_integer()) return WrongType(name, "an integer", *v);
    return set(v->get<int64_t>());
  }
  return absl::OkStatus();
}

absl::Status ReadBool(const json& body, const char* name, bool& out) {
  if (const json* v = Get(body, name)) {
    if (!v->is_boolean()) return WrongType(name, "true or false", *v);
    out = v->get<bool>();
  }
  return absl::OkStatus();
}

// Features ribbon knows and does not implement: refused by name, never silently ignored.
absl::Status RefuseUnimplemented(const json& body) {
  if (const json* tools = Get(body, "tools"); tools != nullptr && !tools->empty()) {
    const json* choice = Get(body, "tool_choice");
    if (choice == nullptr || *choice != "none") {
      return ParamError("tools",
                        "tools: tool-call parsing is not implemented; send tool_choice \"none\" "
                        "to give the tools to the chat template only");
    }
  }
  if (const json* format = Get(body, "response_format")) {
    if (!format->is_object() || format->value("type", "") != "text") {
      return ParamError("response_format",
                        "response_format: structured output (json_object, json_schema) is not "
                        "implemented");
    }
  }
  for (const char* name : {"reasoning_effort", "reasoning", "include_reasoning"}) {
    if (Get(body, name) != nullptr) {
      return ParamError(name, absl::StrCat(name, ": reasoning options are not implemented"));
    }
  }
  for (const char* name : {"functions", "function_call", "suffix"}) {
    if (Get(body, name) != nullptr) {
      return ParamError(name, absl::StrCat(name, ": not implemented"));
    }
  }
  if (const json* echo = Get(body, "echo"); echo != nullptr && *echo == true) {
    return ParamError("echo", "echo: echoing the prompt is not implemented");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContentText(const json& content, const std::string& param) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return WrongType(param, "a string or a list of parts", content);
  std::string text;
  for (const json& part : content) {
    // Compared as JSON: value("type", "") would throw for a part whose type is a number.
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
        !part.contains("text") || !part["text"].is_string()) {
      return ParamError(param, absl::StrCat(param, ": only text parts are supported, got ",
                                            part.dump().substr(0, 80)));
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

absl::Status ReadMessages(const json& body, GenerateRequest& proto) {
  const json* messages = Get(body, "messages");
  if (messages == nullptr) return ParamError("messages", "messages: required");
  if (!messages->is_array() || messages->empty()) {
    return ParamError("messages", "messages: must be a non-empty list of messages");
  }
  ribbon::v1::ChatPrompt* chat = proto.mutable_chat();
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    const std::string param = absl::StrCat("messages[", i, "]");
    if (!message.is_object()) return WrongType(param, "an object", message);
    if (!message.contains("role") || !message["role"].is_string()) {
      return ParamError(param + ".role", param + ".role: required, a string");
    }
    ribbon::v1::ChatMessage* out = chat->add_messages();
    out->set_role(message["role"].get<std::string>());
    ASSIGN_OR_RETURN(std::string text, ContentText(message.value("content", json()), param));
    out->set_content(std::move(text));
    json extra = message;
    extra.erase("role");
    extra.erase("content");
    if (!extra.empty()) out->set_extra_json(extra.dump());
  }
  if (const json* tools = Get(body, "tools")) chat->set_tools_json(tools->dump());
  if (const json* kwargs = Get(body, "chat_template_kwargs")) {
    if (!kwargs->is_object()) return WrongType("chat_template_kwargs", "an object", *kwargs);
    chat->set_template_kwargs_json(kwargs->dump());
  }
  bool add_generation_prompt = true;
  RETURN_IF_ERROR(ReadBool(body, "add_generation_prompt", add_generation_prompt));
  chat->set_add_generation_prompt(add_generation_prompt);
  return absl::OkStatus();
}

// prompt: a string, a list of strings, a list of token ids, or a list of such lists.
absl::StatusOr<std::vector<GenerateRequest>> ReadPrompts(const json& body) {
  const json* prompt = Get(body, "prompt");
  if (prompt == nullptr) return ParamError("prompt", "prompt: required");
  std::vector<GenerateRequest> out;
  const auto add_ids = [&](const json& ids) -> absl::Status {
    GenerateRequest request;
    for (const json& id : ids) {
      if (!id.is_number_integer()) return WrongType("prompt", "token ids (integers)", id);
      request.mutable_token_ids()->add_ids(id.get<int32_t>());
    }
    out.push_back(std::move(request));
    return absl::OkStatus();
  };
  if (prompt->is_string()) {
    out.emplace_back().set_text(prompt->get<std::string>());
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number_integer()) {
    RETURN_IF_ERROR(add_ids(*prompt));
  } else if (prompt->is_array() && !prompt->empty()) {
    for (const json& item : *prompt) {
      if (item.is_string()) {
        out.emplace_back().set_text(item.get<std::string>());
      } else if (item.is_array()) {
        RETURN_IF_ERROR(add_ids(item));
      } else {
        return WrongType("prompt", "strings or lists of token ids", item);
      }
    }
  } else {
    return WrongType("prompt", "a string, a list of strings or token ids", *prompt);
  }
  return out;
}

absl::Status ReadStops(const json& body, GenerateRequest& proto) {
  if (const json* stop = Get(body, "stop")) {
    if (stop->is_string()) {
      proto.add_stop(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (!s.is_string()) return WrongType("stop", "a string or a list of strings", s);
        proto.add_stop(s.get<std::string>());
      }
    } else {
      return WrongType("stop", "a string or a list of strings", *stop);
    }
  }
  if (const json* ids = Get(body, "stop_token_ids")) {
    if (!ids->is_array()) return WrongType("stop_token_ids", "a list of integers", *ids);
    for (const json& id : *ids) {
      if (!id.is_number_integer()) return WrongType("stop_token_ids", "a list of integers", id);
      proto.add_stop_token_ids(id.get<int32_t>());
    }
  }
  return absl::OkStatus();
}

absl::Status ReadLogitBias(const json& body, GenerateRequest& proto) {
  const json* bias = Get(body, "logit_bias");
  if (bias == nullptr) return absl::OkStatus();
  if (!bias->is_object()) return WrongType("logit_bias", "an object {token id: bias}", *bias);
  for (const auto& [key, value] : bias->items()) {
    int32_t id = 0;
    if (key.empty() || !absl::SimpleAtoi(key, &id)) {
      return ParamError("logit_bias",
                        absl::StrCat("logit_bias: key \"", key, "\" is not a token id"));
    }
    if (!value.is_number()) return WrongType("logit_bias", "numbers", value);
    (*proto.mutable_logit_bias())[id] = value.get<float>();
  }
  return absl::OkStatus();
}

absl::Status ReadSampling(const json& body, GenerateRequest& p) {
  RETURN_IF_ERROR(ReadFloat(body, "temperature", [&](float v) { p.set_temperature(v); }));
  RETURN_IF_ERROR(ReadFloat(body, "top_p", [&](float v) { p.set_top_p(v); }));
  RETURN_IF_ERROR(ReadFloat(body, "min_p", [&](float v) { p.set_min_p(v); }));
  RETURN_IF_ERROR(ReadFloat(body, "presence_penalty", [&](float v) { p.set_presence_penalty(v); }));
  RETURN_IF_ERROR(
      ReadFloat(body, "frequency_penalty", [&](float v) { p.set_frequency_penalty(v); }));
  RETURN_IF_ERROR(
      ReadFloat(body, "repetition_penalty", [&](float v) { p.set_repetition_penalty(v); }));
  RETURN_IF_ERROR(ReadInt(body, "top_k", [&](int64_t v) {
    if (v < -1 || v > INT32_MAX)
      return ParamError("top_k", absl::StrCat("top_k = ", v, " is outside [-1, 2^31)"));
    p.set_top_k(v == -1 ? 0 : static_cast<int32_t>(v));  // vLLM's -1 = off
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(ReadInt(body, "seed", [&](int64_t v) {
    p.set_seed(static_cast<uint64_t>(v));
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(ReadInt(body, "n", [&](int64_t v) {
    if (v < 1 || v > 64) return ParamError("n", absl::StrCat("n = ", v, " is outside [1, 64]"));
    p.set_n(static_cast<uint32_t>(v));
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(ReadInt(body, "priority", [&](int64_t v) {
    p.set_priority(static_cast<int32_t>(v));
    return absl::OkStatus();
  }));
  bool ignore_eos = false;
  RETURN_IF_ERROR(ReadBool(body, "ignore_eos", ignore_eos));
  p.set_ignore_eos(ignore_eos);
  if (const json* salt = Get(body, "cache_salt")) {
    if (!salt->is_string()) return WrongType("cache_salt", "a string", *salt);
    p.set_cache_salt(salt->get<std::string>());
  }
  return ReadLogitBias(body, p);
}

absl::Status ReadLengths(const json& body, GenerateRequest& p) {
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    RETURN_IF_ERROR(ReadInt(body, name, [&](int64_t v) {
      if (v < 1 || v > INT32_MAX) {
        return ParamError(name, absl::StrCat(name, " = ", v, " is outside [1, context]"));
      }
      p.set_max_new_tokens(static_cast<uint32_t>(v));
      return absl::OkStatus();
    }));
  }
  return ReadInt(body, "min_tokens", [&](int64_t v) {
    if (v < 0 || v > INT32_MAX) return ParamError("min_tokens", "min_tokens: must be >= 0");
    p.set_min_new_tokens(static_cast<uint32_t>(v));
    return absl::OkStatus();
  });
}

absl::Status ReadLogprobs(const json& body, OpenAiRequest& out, GenerateRequest& p) {
  const json* logprobs = Get(body, "logprobs");
  if (out.endpoint == Endpoint::kCompletions) {
    if (logprobs == nullptr) return absl::OkStatus();
    if (!logprobs->is_number_integer() || logprobs->get<int64_t>() < 0 ||
        logprobs->get<int64_t>() > 20) {
      return ParamError("logprobs", "logprobs: must be an integer in [0, 20]");
    }
    out.completion_logprobs = logprobs->get<int>();
    p.set_logprobs(true);
    p.set_top_logprobs(static_cast<uint32_t>(out.completion_logprobs));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ReadBool(body, "logprobs", out.chat_logprobs));
  p.set_logprobs(out.chat_logprobs);
  return ReadInt(body, "top_logprobs", [&](int64_t v) {
    if (v < 0 || v > 20) return ParamError("top_logprobs", "top_logprobs: must be in [0, 20]");
    if (v > 0 && !out.chat_logprobs) {
      return ParamError("top_logprobs", "top_logprobs: needs logprobs true");
    }
    p.set_top_logprobs(static_cast<uint32_t>(v));
    return absl::OkStatus();
  });
}

absl::Status ReadStreaming(const json& body, OpenAiRequest& out) {
  RETURN_IF_ERROR(ReadBool(body, "stream", out.stream));
  if (const json* options = Get(body, "stream_options")) {
    if (!options->is_object()) return WrongType("stream_options", "an object", *options);
    RETURN_IF_ERROR(ReadBool(*options, "include_usage", out.include_usage));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParamError(const std::string& param, const std::string& message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kParamPayload, absl::Cord(param));
  return status;
}

absl::StatusOr<OpenAiRequest> ParseOpenAiRequest(Endpoint endpoint, std::string_view text,
                                                 const std::string& served_model) {
  const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return ParamError("body", "the body is not valid JSON (or not valid UTF-8)");
  }
  if (!body.is_object()) return ParamError("body", "the body must be a JSON object");
  OpenAiRequest out;
  out.endpoint = endpoint;
  for (const auto& [key, value] : body.items()) {
    if (!KnownFields().count(key)) out.ignored_fields.push_back(key);
  }
  if (const json* model = Get(body, "model")) {
    if (!model->is_string()) return WrongType("model", "a string", *model);
    out.model = model->get<std::string>();
    if (out.model != served_model) {
      absl::Status status = absl::NotFoundError(absl::StrCat(
          "The model `", out.model, "` does not exist (this server serves `", served_model, "`)"));
      status.SetPayload(kParamPayload, absl::Cord("model"));
      return status;
    }
  }
  RETURN_IF_ERROR(RefuseUnimplemented(body));
  RETURN_IF_ERROR(ReadStreaming(body, out));
  GenerateRequest common;
  RETURN_IF_ERROR(ReadSampling(body, common));
  RETURN_IF_ERROR(ReadLengths(body, common));
  RETURN_IF_ERROR(ReadStops(body, common));
  RETURN_IF_ERROR(ReadLogprobs(body, out, common));
  if (const json* best_of = Get(body, "best_of")) {
    if (!best_of->is_number_integer() ||
        best_of->get<int64_t>() != std::max<int64_t>(common.n(), 1)) {
      return ParamError("best_of", "best_of: only best_of = n is implemented");
    }
  }
  if (endpoint == Endpoint::kChat) {
    GenerateRequest request = common;
    RETURN_IF_ERROR(ReadMessages(body, request));
    out.prompts.push_back(std::move(request));
    return out;
  }
  ASSIGN_OR_RETURN(std::vector<GenerateRequest> prompts, ReadPrompts(body));
  for (GenerateRequest& prompt : prompts) {
    GenerateRequest request = common;
    if (prompt.has_token_ids()) {
      *request.mutable_token_ids() = prompt.token_ids();
    } else {
      request.set_text(prompt.text());
    }
    out.prompts.push_back(std::move(request));
  }
  return out;
}

absl::Status ToOpenAiError(const absl::Status& status, Endpoint endpoint) {
  if (status.GetPayload(kParamPayload).has_value() || !absl::IsInvalidArgument(status)) {
    return status;
  }
  const std::string message(status.message());
  // The validator's messages start with the proto field's name.
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"max_new_tokens", "max_tokens"},
      {"min_new_tokens", "min_tokens"},
      {"token_ids", "prompt"},
      {"text", "prompt"},
      {"prompt", "prompt"},
      {"chat", "messages"},
      {"messages", "messages"},
      {"stop_token_ids", "stop_token_ids"},
      {"stop", "stop"},
      {"top_logprobs", "top_logprobs"},
      {"logit_bias", "logit_bias"},
      {"temperature", "temperature"},
      {"top_p", "top_p"},
      {"top_k", "top_k"},
      {"min_p", "min_p"},
      {"repetition_penalty", "repetition_penalty"},
      {"presence_penalty", "presence_penalty"},
      {"frequency_penalty", "frequency_penalty"},
      {"n", "n"},
      {"tools", "tools"},
      {"chat_template_kwargs", "chat_template_kwargs"}};
  std::string param;
  for (const auto& [proto_name, openai_name] : kNames) {
    if (message.rfind(proto_name, 0) == 0) {
      param = openai_name;
      break;
    }
  }
  std::string reworded = absl::StrReplaceAll(
      message, {{"max_new_tokens", "max_tokens"}, {"min_new_tokens", "min_tokens"}});
  if (endpoint == Endpoint::kCompletions && message.rfind("token_ids", 0) == 0) {
    reworded = "prompt" + reworded.substr(std::string("token_ids").size());
  }
  // No field named: for chat, a template that raised (its message is kept as it is).
  if (param.empty()) param = endpoint == Endpoint::kChat ? "messages" : "body";
  return ParamError(param, reworded);
}

}  // namespace ribbon::server::openai
