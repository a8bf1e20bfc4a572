// OpenAiService: the routes of the OpenAI-compatible HTTP API, one more client of the engine
// beside the gRPC service (same preparation and validation, limits, cancellation, slow-reader
// policy, metrics and access log):
//   POST /v1/chat/completions, /v1/completions   generation (see openai_request.h and
//                                                openai_response.h)
//   GET  /v1/models                              the served model, with max_model_len
//   GET  /health                                 200 when ready, 503 while loading/draining
//   GET  /metrics                                the Prometheus exposition
// With server.auth_token set, /v1/* and /metrics need `Authorization: Bearer <token>` (401).
// Parsing, rendering chat templates and tokenizing run on the TaskPool.
//
// Ownership: owned by the daemon; config, pool, watchdog and handlers outlive it. Threads:
// Handle runs on the HTTP server's threads; SetBackend and StopAdmitting from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "server/config.h"
#include "server/openai/http_server.h"
#include "server/openai/openai_request.h"
#include "server/serving_backend.h"
#include "server/stream_watchdog.h"
#include "server/task_pool.h"

namespace ribbon::server::openai {

struct OpenAiServiceHooks {
  std::function<bool()> ready;
  std::function<std::string()> metrics;
};

class OpenAiService final : public HttpHandler {
 public:
  OpenAiService(const ServerConfig* config, TaskPool* pool, StreamWatchdog* watchdog,
                OpenAiServiceHooks hooks);

  void SetBackend(const ServingBackend* backend) { backend_.store(backend); }
  void StopAdmitting() { admitting_.store(false); }

  void Handle(std::shared_ptr<HttpConnection> connection, HttpRequest request) override;

 private:
  void Generate(std::shared_ptr<HttpConnection> connection, HttpRequest request, Endpoint endpoint);
  void ListModels(HttpConnection& connection);

  const ServerConfig* const config_;
  TaskPool* const pool_;
  StreamWatchdog* const watchdog_;
  const OpenAiServiceHooks hooks_;
  const std::string id_prefix_;
  std::atomic<const ServingBackend*> backend_{nullptr};
  std::atomic<bool> admitting_{true};
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace ribbon::server::openai
