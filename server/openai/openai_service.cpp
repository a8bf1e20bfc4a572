#include "server/openai/openai_service.h"

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/bearer_auth.h"
#include "server/logging.h"
#include "server/openai/openai_response.h"
#include "server/prepare_request.h"

namespace ribbon::server::openai {
namespace {

using nlohmann::json;

std::string Path(const std::string& target) { return target.substr(0, target.find('?')); }

void RespondError(HttpConnection& connection, const absl::Status& status) {
  connection.Respond(HttpStatusFor(status), "application/json", ErrorBody(status));
}

void LogRefusal(const std::string& request_id, const char* method, const absl::Status& status,
                bool enabled) {
  if (!enabled) return;
  LogEvent(spdlog::level::info, "access",
           {{"request_id", request_id},
            {"client_request_id", ""},
            {"method", method},
            {"status", absl::StatusCodeToString(status.code())},
            {"message", std::string(status.message())},
            {"prompt_tokens", 0},
            {"generated_tokens", 0},
            {"prompt_tokens_computed", 0},
            {"duration_seconds", 0.0}});
}

void MethodNotAllowed(HttpConnection& connection, const char* method, const std::string& path) {
  connection.Respond(405, "application/json",
                     json{{"error",
                           {{"message", absl::StrCat("use ", method, " ", path)},
                            {"type", "invalid_request_error"},
                            {"param", nullptr},
                            {"code", "method_not_allowed"}}}}
                         .dump());
}

std::string RandomPrefix() {
  std::random_device device;
  return absl::StrFormat("%06x", device() & 0xFFFFFF);
}

}  // namespace

OpenAiService::OpenAiService(const ServerConfig* config, TaskPool* pool, StreamWatchdog* watchdog,
                             OpenAiServiceHooks hooks)
    : config_(config),
      pool_(pool),
      watchdog_(watchdog),
      hooks_(std::move(hooks)),
      id_prefix_(RandomPrefix()) {}

void OpenAiService::Handle(std::shared_ptr<HttpConnection> connection, HttpRequest request) {
  const std::string path = Path(request.target);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (path == "/health") {
    if (!get) return MethodNotAllowed(*connection, "GET", path);
    const bool ready = hooks_.ready && hooks_.ready();
    if (ready) return connection->Respond(200, "application/json", "{}");
    return RespondError(*connection, absl::UnavailableError("not ready (loading or draining)"));
  }
  const bool known = path == "/metrics" || path == "/v1/models" || path == "/v1/completions" ||
                     path == "/v1/chat/completions";
  if (!known) {
    return RespondError(*connection, absl::NotFoundError(absl::StrCat("no route ", path)));
  }
  if (!BearerTokenMatches(request.authorization, config_->server.auth_token)) {
    return RespondError(
        *connection,
        absl::UnauthenticatedError("missing or wrong bearer token in the 'Authorization' header"));
  }
  const bool wants_post = path == "/v1/completions" || path == "/v1/chat/completions";
  if (wants_post ? !post : !get)
    return MethodNotAllowed(*connection, wants_post ? "POST" : "GET", path);
  if (path == "/metrics") {
    return connection->Respond(200, "text/plain; version=0.0.4; charset=utf-8",
                               hooks_.metrics ? hooks_.metrics() : "");
  }
  if (backend_.load() == nullptr) {
    return RespondError(*connection, absl::UnavailableError("the model is still loading"));
  }
  if (path == "/v1/models") return ListModels(*connection);
  Generate(std::move(connection), std::move(request),
           path == "/v1/completions" ? Endpoint::kCompletions : Endpoint::kChat);
}

void OpenAiService::ListModels(HttpConnection& connection) {
  const ServingBackend& backend = *backend_.load();
  const json model = {{"id", backend.served_model_name},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", "ribbon"},
                      {"root", backend.model_path},
                      {"max_model_len", backend.model_config.max_position_embeddings}};
  connection.Respond(200, "application/json",
                     json{{"object", "list"}, {"data", json::array({model})}}.dump());
}

void OpenAiService::Generate(std::shared_ptr<HttpConnection> connection, HttpRequest request,
                             Endpoint endpoint) {
  const char* method = endpoint == Endpoint::kChat ? "chat.completions" : "completions";
  const std::string request_id = absl::StrCat(id_prefix_, "-h", next_id_.fetch_add(1));
  const ServingBackend* backend = backend_.load();
  const auto count = [backend](absl::StatusCode code) {
    if (backend->count_refused) backend->count_refused(code);
  };
  if (!admitting_.load()) {
    const absl::Status status = absl::UnavailableError("ribbond is shutting down");
    LogRefusal(request_id, method, status, config_->log.access_log);
    return RespondError(*connection, status);
  }
  auto body = std::make_shared<std::string>(std::move(request.body));
  pool_->Post([this, connection, body, endpoint, method, request_id, backend, count] {
    absl::StatusOr<OpenAiRequest> parsed =
        ParseOpenAiRequest(endpoint, *body, backend->served_model_name);
    if (!parsed.ok()) {
      count(parsed.status().code());
      LogRefusal(request_id, method, parsed.status(), config_->log.access_log);
      return RespondError(*connection, parsed.status());
    }
    if (!parsed->ignored_fields.empty()) {
      LogEvent(spdlog::level::warn, "openai_unknown_fields",
               {{"request_id", request_id}, {"fields", parsed->ignored_fields}});
    }
    auto response = std::make_shared<OpenAiResponse>(
        CallGroupOptions{.request_id = request_id,
                         .method = method,
                         .access_log = config_->log.access_log,
                         .count_refused = count},
        OpenAiResponseOptions{.endpoint = endpoint,
                              .stream = parsed->stream,
                              .include_usage = parsed->include_usage,
                              .completion_logprobs = parsed->completion_logprobs,
                              .chat_logprobs = parsed->chat_logprobs,
                              .model = backend->served_model_name,
                              .max_pending_bytes = config_->stream.max_pending_bytes,
                              .slow_reader_timeout_ms = config_->stream.slow_reader_timeout_ms},
        backend->tokenizer, connection);
    response->Open();
    watchdog_->Add(response);
    std::vector<PreparedCall> calls;
    bool logprobs = false;
    for (size_t i = 0; i < parsed->prompts.size(); ++i) {
      absl::StatusOr<PreparedRequest> prepared = PrepareRequest(
          parsed->prompts[i], *backend, config_->limits,
          parsed->prompts.size() == 1 ? request_id : absl::StrCat(request_id, "-p", i),
          kNoDeadline);
      if (!prepared.ok()) {
        count(prepared.status().code());
        return response->Refuse(ToOpenAiError(prepared.status(), endpoint));
      }
      logprobs = prepared->logprobs;
      for (PreparedCall& call : prepared->calls) calls.push_back(std::move(call));
    }
    response->Start(backend->engine, pool_, backend->tokenizer, std::move(calls), logprobs);
  });
}

}  // namespace ribbon::server::openai
