// GenerationService: the ribbon.v1.Generation gRPC service on the callback API. Handlers never
// block on the engine and never throw: they validate, submit and return a reactor; output flows
// through a GenerationCall (see generation_call.h).
//
// Before SetBackend (the model is loading) and after StopAdmitting (draining), Generate and
// Complete answer UNAVAILABLE. With an auth token configured every method needs metadata
// `authorization: Bearer <token>` (UNAUTHENTICATED otherwise); the health service is separate
// and needs none.
//
// Ownership: the daemon owns the service and the backend; the backend must outlive the gRPC
// server's shutdown. Threads: handlers run on gRPC threads; SetBackend, StopAdmitting and
// active_calls from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/engine/engine.h"
#include "core/tokenizer/tokenizer.h"
#include "ribbon/v1/generation.grpc.pb.h"
#include "server/config.h"
#include "server/generation_call.h"
#include "server/request_validation.h"
#include "server/task_pool.h"

namespace ribbon::server {

// What the service serves once the model is loaded.
struct ServingBackend {
  Engine* engine = nullptr;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<const std::vector<bool>> special_tokens;  // FindSpecialTokens(*tokenizer)
  ModelConfig model_config;
  std::string model_path;
  std::string device_description;
  int64_t weight_bytes = 0;
  int64_t parameters = 0;
  // From the memory probe (zero when it did not run).
  double activation_bytes_per_token = 0;
  double probe_seconds = 0;
  // Counts a Generate/Complete the engine never took (refused, invalid, queue full); may be
  // empty. Requests the engine finished are counted by the engine's observer.
  std::function<void(absl::StatusCode)> count_refused;
};

class GenerationService final : public ribbon::v1::Generation::CallbackService {
 public:
  // `config` and `output_pool` must outlive the service.
  GenerationService(const ServerConfig* config, TaskPool* output_pool);
  ~GenerationService() override;

  void SetBackend(const ServingBackend* backend);
  void StopAdmitting();
  // Generate/Complete calls not yet finished (pruned every 25 ms by the watchdog).
  int active_calls();

  grpc::ServerWriteReactor<ribbon::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const ribbon::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const ribbon::v1::GenerateRequest* request,
                                     ribbon::v1::GenerateResult* result) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const ribbon::v1::TokenizeRequest* request,
                                     ribbon::v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const ribbon::v1::DetokenizeRequest* request,
                                       ribbon::v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const ribbon::v1::GetModelInfoRequest* request,
                                         ribbon::v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(grpc::CallbackServerContext* context,
                                          const ribbon::v1::GetServerInfoRequest* request,
                                          ribbon::v1::ServerInfo* response) override;

  class StreamReactor;
  class UnaryGenerationReactor;

 private:
  // OK, or why the call may not proceed (auth, loading, draining).
  grpc::Status Admit(grpc::CallbackServerContext* context, bool generation) const;
  // Validates and submits; on any error finishes `output` and logs the refusal.
  void StartGeneration(grpc::CallbackServerContext* context,
                       const ribbon::v1::GenerateRequest& request, CallOutput* output,
                       const char* method, std::shared_ptr<GenerationCall>* call_slot);
  void LogRefusal(const std::string& request_id, const ribbon::v1::GenerateRequest& request,
                  const char* method, const grpc::Status& status) const;
  std::string NextRequestId();
  void WatchSlowReaders();

  const ServerConfig* const config_;
  TaskPool* const output_pool_;
  const std::string id_prefix_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<const ServingBackend*> backend_{nullptr};
  std::atomic<bool> admitting_{true};

  std::mutex calls_mu_;
  std::condition_variable watchdog_wake_;
  bool stopping_ = false;
  std::vector<std::weak_ptr<GenerationCall>> calls_;
  std::thread watchdog_;
};

}  // namespace ribbon::server
