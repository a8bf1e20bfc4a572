// GenerationService: the ribbon.v1.Generation gRPC service on the callback API. Handlers never
// block on the engine and never throw: they validate, submit and return a reactor; output flows
// through a GrpcResponse (grpc_response.h): one GenerationCall per sequence, one WriteQueue.
// Tokenizing and validating run on the TaskPool, not on gRPC's threads.
//
// Before SetBackend (the model is loading) and after StopAdmitting (draining), Generate and
// Complete answer UNAVAILABLE. With an auth token configured every method needs metadata
// `authorization: Bearer <token>` (UNAUTHENTICATED otherwise); the health service is separate
// and needs none.
//
// Ownership: the daemon owns the service and the backend; the backend must outlive the gRPC
// server's shutdown. Threads: handlers run on gRPC threads; SetBackend and StopAdmitting from
// any thread. Live responses are counted by the StreamWatchdog (stream_watchdog.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "ribbon/v1/generation.grpc.pb.h"
#include "server/config.h"
#include "server/grpc_response.h"
#include "server/serving_backend.h"
#include "server/stream_watchdog.h"
#include "server/task_pool.h"

namespace ribbon::server {

class GenerationService final : public ribbon::v1::Generation::CallbackService {
 public:
  // `config`, `output_pool` and `watchdog` must outlive the service.
  GenerationService(const ServerConfig* config, TaskPool* output_pool, StreamWatchdog* watchdog);

  void SetBackend(const ServingBackend* backend);
  void StopAdmitting();

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
  // Answers from the engine thread once the drop is done (server/prefix_cache_admin.cpp).
  grpc::ServerUnaryReactor* DropPrefixCache(grpc::CallbackServerContext* context,
                                            const ribbon::v1::DropPrefixCacheRequest* request,
                                            ribbon::v1::DropPrefixCacheResponse* response) override;

 private:
  // OK, or why the call may not proceed (auth, loading, draining).
  grpc::Status Admit(grpc::CallbackServerContext* context, bool generation) const;
  // Admits the call, then prepares (tokenizes, validates) and submits it on the TaskPool; any
  // error finishes the RPC through `response` and logs the refusal.
  std::shared_ptr<GrpcResponse> StartGeneration(grpc::CallbackServerContext* context,
                                                const ribbon::v1::GenerateRequest& request,
                                                bool streaming, const char* method);
  std::string NextRequestId();

  const ServerConfig* const config_;
  TaskPool* const output_pool_;
  StreamWatchdog* const watchdog_;
  const std::string id_prefix_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<const ServingBackend*> backend_{nullptr};
  std::atomic<bool> admitting_{true};
};

}  // namespace ribbon::server
