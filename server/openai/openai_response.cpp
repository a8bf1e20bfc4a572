#include "server/openai/openai_response.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "server/logging.h"

namespace ribbon::server::openai {
namespace {

using nlohmann::json;

bool AppendMerge(std::string& into, std::string& delta) {
  into += delta;
  return true;
}
int64_t Size(const std::string& data) { return static_cast<int64_t>(data.size()); }

const char* OpenAiFinishReason(FinishReason reason) {
  return reason == FinishReason::kLength ? "length" : "stop";
}

const char* ErrorType(int http_status) {
  switch (http_status) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable";
    default:
      return http_status < 500 ? "invalid_request_error" : "server_error";
  }
}

int32_t ContextToken(const Tokenizer& tokenizer) {
  const std::vector<int32_t> ids = tokenizer.Encode("a", /*add_special_tokens=*/false);
  return ids.empty() ? 0 : ids.back();
}

std::string DecodeOne(const Tokenizer& tokenizer, int32_t id) {
  const int32_t ids[] = {id};
  return tokenizer.Decode(ids, /*skip_special_tokens=*/false);
}

json Bytes(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

}  // namespace

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorBody(const absl::Status& status) {
  const int http = HttpStatusFor(status);
  json error = {{"message", std::string(status.message())},
                {"type", ErrorType(http)},
                {"param", nullptr},
                {"code", absl::StatusCodeToString(status.code())}};
  if (auto param = status.GetPayload(kParamPayload)) error["param"] = std::string(*param);
  if (absl::IsNotFound(status) && error["param"] == "model") error["code"] = "model_not_found";
  return json{{"error", error}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

OpenAiResponse::OpenAiResponse(CallGroupOptions group, OpenAiResponseOptions options,
                               std::shared_ptr<const Tokenizer> tokenizer,
                               std::weak_ptr<HttpConnection> connection)
    : CallGroup(std::move(group)),
      options_(std::move(options)),
      tokenizer_(std::move(tokenizer)),
      connection_(std::move(connection)),
      created_(std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count()),
      context_id_(ContextToken(*tokenizer_)),
      context_text_(DecodeOne(*tokenizer_, context_id_)),
      queue_({.streaming = options_.stream,
              .max_pending_bytes = options_.max_pending_bytes,
              .slow_reader_timeout_ms = options_.slow_reader_timeout_ms,
              .try_merge = &AppendMerge,
              .bytes = &Size}) {}

void OpenAiResponse::Open() {
  queue_.Attach(this);
  if (auto connection = connection_.lock()) {
    std::weak_ptr<CallGroup> weak = shared_from_this();
    connection->WatchDisconnect([weak] {
      if (auto self = std::static_pointer_cast<OpenAiResponse>(weak.lock())) {
        self->ClientGone(absl::CancelledError("the client closed the connection"));
      }
    });
  }
}

void OpenAiResponse::ClientGone(const absl::Status& status) {
  TransportEnded(status);
  queue_.Abort(status);
}

void OpenAiResponse::Refuse(const absl::Status& status) {
  TransportEnded(status);
  queue_.Close(status);
}

bool OpenAiResponse::CheckSlowReader(TimeNs now) {
  if (queue_.CheckSlowReader(now)) {
    LogEvent(spdlog::level::warn, "slow_reader",
             {{"request_id", request_id()}, {"pending_bytes", queue_.pending_bytes()}});
    TransportEnded(*queue_.final_status());
  }
  return !done();
}

void OpenAiResponse::StartWrite(const std::string* data) {
  std::shared_ptr<HttpConnection> connection = connection_.lock();
  if (connection == nullptr) {
    if (queue_.OnWriteDone(false)) TransportEnded(absl::CancelledError("connection closed"));
    return;
  }
  // The write holds the response: `data` lives in its queue, and once every call has finished
  // nothing else may.
  auto self = std::static_pointer_cast<OpenAiResponse>(shared_from_this());
  connection->StreamWrite(data, [self](bool ok) {
    if (self->queue_.OnWriteDone(ok)) {
      self->TransportEnded(absl::CancelledError("the client closed the connection"));
    }
  });
}

void OpenAiResponse::Finish(const absl::Status& status, std::vector<std::string>&& rest) {
  if (std::shared_ptr<HttpConnection> connection = connection_.lock()) {
    if (!status.ok()) {
      // Streaming: an error event then [DONE] (or, before the first byte, a plain error).
      std::string body = ErrorBody(status);
      std::string tail =
          options_.stream ? absl::StrCat("data: ", body, "\n\ndata: [DONE]\n\n") : std::string();
      connection->StreamEnd(HttpStatusFor(status), std::move(tail), std::move(body));
    } else if (options_.stream) {
      connection->StreamEnd(200, "", "");
    } else {
      std::string body;
      for (const std::string& part : rest) body += part;
      connection->Respond(200, "application/json", std::move(body));
    }
  }
  OutputFinished(status);
}

json OpenAiResponse::ChunkObject(json choices) const {
  const bool chat = options_.endpoint == Endpoint::kChat;
  const char* object =
      chat ? (options_.stream ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return json{{"id", absl::StrCat(chat ? "chatcmpl-" : "cmpl-", request_id())},
              {"object", object},
              {"created", created_},
              {"model", options_.model},
              {"choices", std::move(choices)}};
}

json OpenAiResponse::LogprobsFor(const OutputChunk& chunk, Choice& choice) const {
  // A token's text as it reads inside a sequence (a lone SentencePiece token would lose its
  // leading space): decoded after a fixed ordinary token, whose own text is then cut off.
  const auto piece = [&](int32_t id) {
    const int32_t pair[] = {context_id_, id};
    std::string text = tokenizer_->Decode(pair, /*skip_special_tokens=*/false);
    if (text.rfind(context_text_, 0) == 0) return text.substr(context_text_.size());
    const int32_t alone[] = {id};
    return tokenizer_->Decode(alone, /*skip_special_tokens=*/false);
  };
  if (options_.endpoint == Endpoint::kChat) {
    json content = json::array();
    for (const SampledToken& token : chunk.tokens) {
      json top = json::array();
      for (const TopLogprob& alternative : token.top) {
        const std::string text = piece(alternative.token);
        top.push_back({{"token", text}, {"logprob", alternative.logprob}, {"bytes", Bytes(text)}});
      }
      const std::string text = piece(token.token);
      content.push_back({{"token", text},
                         {"logprob", token.logprob},
                         {"bytes", Bytes(text)},
                         {"top_logprobs", std::move(top)}});
    }
    return json{{"content", std::move(content)}};
  }
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const SampledToken& token : chunk.tokens) {
    const std::string text = piece(token.token);
    json top = json::object();
    for (const TopLogprob& alternative : token.top)
      top[piece(alternative.token)] = alternative.logprob;
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(token.logprob);
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(choice.text_offset);
    choice.text_offset += static_cast<int64_t>(text.size());
  }
  return out;
}

json OpenAiResponse::Usage() const {
  const int64_t generated = generated_tokens();
  return json{{"prompt_tokens", prompt_tokens()},
              {"completion_tokens", generated},
              {"total_tokens", prompt_tokens() + generated},
              {"prompt_tokens_details", {{"cached_tokens", cached_prompt_tokens()}}}};
}

void OpenAiResponse::PushEvent(const json& object) {
  queue_.Push(
      absl::StrCat("data: ", object.dump(-1, ' ', false, json::error_handler_t::replace), "\n\n"));
}

void OpenAiResponse::EmitChunk(int index, const OutputChunk& chunk) {
  if (static_cast<int>(choices_.size()) <= index) choices_.resize(index + 1);
  Choice& choice = choices_[index];
  const bool want_logprobs = options_.chat_logprobs || options_.completion_logprobs >= 0;
  json logprobs = want_logprobs ? LogprobsFor(chunk, choice) : json();
  if (!options_.stream) {
    choice.text += chunk.text;
    if (!want_logprobs) return;
    if (choice.logprobs.is_null()) {
      choice.logprobs = std::move(logprobs);
      return;
    }
    for (auto& [key, values] : logprobs.items()) {
      for (auto& value : values) choice.logprobs[key].push_back(std::move(value));
    }
    return;
  }
  json entry = {{"index", index}, {"logprobs", std::move(logprobs)}, {"finish_reason", nullptr}};
  if (options_.endpoint == Endpoint::kChat) {
    json delta = {{"content", chunk.text}};
    if (!choice.role_sent) delta["role"] = "assistant";
    choice.role_sent = true;
    entry["delta"] = std::move(delta);
  } else {
    entry["text"] = chunk.text;
  }
  PushEvent(ChunkObject(json::array({std::move(entry)})));
}

void OpenAiResponse::EmitSequenceEnd(int index, const FinishInfo& info) {
  if (static_cast<int>(choices_.size()) <= index) choices_.resize(index + 1);
  Choice& choice = choices_[index];
  choice.finish_reason = OpenAiFinishReason(info.reason);
  if (!options_.stream) return;
  json entry = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", choice.finish_reason}};
  if (options_.endpoint == Endpoint::kChat) {
    entry["delta"] =
        choice.role_sent ? json::object() : json{{"role", "assistant"}, {"content", ""}};
  } else {
    entry["text"] = "";
  }
  PushEvent(ChunkObject(json::array({std::move(entry)})));
}

void OpenAiResponse::EndOutput(const absl::Status& status) {
  if (!status.ok()) return queue_.Close(status);
  if (options_.stream) {
    if (options_.include_usage) {
      json usage = ChunkObject(json::array());
      usage["usage"] = Usage();
      PushEvent(usage);
    }
    queue_.Push("data: [DONE]\n\n");
    return queue_.Close(status);
  }
  choices_.resize(std::max<size_t>(choices_.size(), static_cast<size_t>(num_calls())));
  json choices = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& choice = choices_[i];
    json entry = {{"index", i},
                  {"logprobs", std::move(choice.logprobs)},
                  {"finish_reason", choice.finish_reason ? choice.finish_reason : "stop"}};
    if (options_.endpoint == Endpoint::kChat) {
      entry["message"] = {{"role", "assistant"}, {"content", std::move(choice.text)}};
    } else {
      entry["text"] = std::move(choice.text);
    }
    choices.push_back(std::move(entry));
  }
  json body = ChunkObject(std::move(choices));
  body["usage"] = Usage();
  queue_.Push(body.dump(-1, ' ', false, json::error_handler_t::replace));
  queue_.Close(status);
}

}  // namespace ribbon::server::openai
