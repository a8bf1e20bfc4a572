// Daemon: ribbond's life cycle, in order.
//   Listen()      gRPC server up (health: liveness SERVING, readiness NOT_SERVING; reflection on),
//                 HTTP side port up, port file written.
//   LoadModel()   tokenizer and model; capacity measured (memory.probe: the step budget and the
//                 KV cache, core/memory/capacity.h); engine created and started; readiness SERVING.
//   Drain()       readiness NOT_SERVING, new generations refused (UNAVAILABLE), in-flight ones
//                 run for up to server.shutdown_grace_seconds, the rest end with UNAVAILABLE;
//                 then everything stops.
//
// Ownership: owns the engine, the gRPC server, the service, the output threads and the HTTP
// side port. Threads: Listen, LoadModel and Drain from the main thread; RequestShutdown from
// any thread (e.g. the signal thread); WaitForShutdownRequest blocks the main thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "core/engine/engine.h"
#include "core/metrics/registry.h"
#include "core/metrics/ribbon_metrics.h"
#include "server/config.h"
#include "server/generation_service.h"
#include "server/http_side_port.h"
#include "server/openai/http_server.h"
#include "server/openai/openai_service.h"
#include "server/stream_watchdog.h"
#include "server/task_pool.h"

namespace ribbon::server {

// The name under which gRPC health reports readiness.
inline constexpr char kReadinessService[] = "ribbon.v1.Generation";

class Daemon {
 public:
  explicit Daemon(ServerConfig config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  absl::Status Listen();
  absl::Status LoadModel();
  void RequestShutdown();
  void WaitForShutdownRequest();
  void Drain();

 private:
  absl::Status StartGrpc();
  absl::Status StartHttp();
  absl::Status StartOpenAi();
  absl::Status WritePortFile() const;
  void SetReady(bool ready);
  // With memory.probe: measures capacity and sizes the step budget and the KV cache.
  absl::Status SizeEngine(ModelRunner& model, EngineOptions& options);
  // Registers the metric catalogue and hooks it to the engine (before Engine::Start).
  absl::Status SetUpMetrics(int64_t kv_bytes_per_block);
  std::string ScrapeMetrics();

  // Declared so that destruction runs the other way: the side port, the gRPC server, the
  // service, the output threads, and last the engine that their tasks may still call.
  const ServerConfig config_;
  std::unique_ptr<Engine> engine_;
  ServingBackend backend_;
  metrics::Registry metrics_registry_;
  std::optional<metrics::RibbonMetrics> metrics_;  // registered by LoadModel
  std::atomic<bool> metrics_ready_{false};
  int64_t activation_bytes_ = 0;  // reserved for the largest step (memory probe)
  TaskPool output_pool_;
  StreamWatchdog watchdog_;  // the live responses of both front ends
  GenerationService service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  HttpSidePort http_;
  openai::OpenAiService openai_service_;
  openai::HttpServer openai_http_;
  int openai_port_ = 0;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::atomic<bool> ready_{false};

  std::mutex shutdown_mu_;
  std::condition_variable shutdown_requested_cv_;
  bool shutdown_requested_ = false;
  bool drained_ = false;
};

// `ribbond probe`: loads the model, measures capacity as start-up would, and returns the table.
absl::StatusOr<std::string> RunCapacityProbe(const ServerConfig& config);

}  // namespace ribbon::server
