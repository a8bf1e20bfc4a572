#include "server/generation_service.h"

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/bearer_auth.h"
#include "server/logging.h"
#include "server/prepare_request.h"
#include "server/request_validation.h"
#include "server/status_mapping.h"

#ifndef RIBBON_VERSION
#define RIBBON_VERSION "unknown"
#endif

namespace ribbon::server {
namespace {

using ribbon::v1::GenerateRequest;
using ribbon::v1::GenerateResponse;

std::string RandomPrefix() {
  std::random_device device;
  return absl::StrFormat("%06x", device() & 0xFFFFFF);
}

TimeNs SteadyDeadline(const grpc::CallbackServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return kNoDeadline;
  const auto remaining = deadline - std::chrono::system_clock::now();
  return SteadyNowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(remaining).count();
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  return FinishUnary(context, ToGrpcStatus(status));
}

}  // namespace

GenerationService::GenerationService(const ServerConfig* config, TaskPool* output_pool,
                                     StreamWatchdog* watchdog)
    : config_(config), output_pool_(output_pool), watchdog_(watchdog), id_prefix_(RandomPrefix()) {}

void GenerationService::SetBackend(const ServingBackend* backend) { backend_.store(backend); }

void GenerationService::StopAdmitting() { admitting_.store(false); }

std::string GenerationService::NextRequestId() {
  return absl::StrCat(id_prefix_, "-", next_id_.fetch_add(1));
}

grpc::Status GenerationService::Admit(grpc::CallbackServerContext* context, bool generation) const {
  const std::string& token = config_->server.auth_token;
  if (!token.empty()) {
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("authorization");
    const std::string_view given = it == metadata.end()
                                       ? std::string_view()
                                       : std::string_view(it->second.data(), it->second.size());
    if (!BearerTokenMatches(given, token)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing or wrong bearer token in the 'authorization' metadata");
    }
  }
  if (backend_.load() == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is still loading");
  }
  if (generation && !admitting_.load()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "ribbond is shutting down");
  }
  return grpc::Status::OK;
}

std::shared_ptr<GrpcResponse> GenerationService::StartGeneration(
    grpc::CallbackServerContext* context, const GenerateRequest& request, bool streaming,
    const char* method) {
  const std::string request_id = NextRequestId();
  const ServingBackend* loaded = backend_.load();
  const auto count = [loaded](absl::StatusCode code) {
    if (loaded != nullptr && loaded->count_refused) loaded->count_refused(code);
  };
  auto response = std::make_shared<GrpcResponse>(
      CallGroupOptions{.request_id = request_id,
                       .client_request_id = request.client_request_id(),
                       .method = method,
                       .access_log = config_->log.access_log,
                       .count_refused = count},
      streaming, config_->stream.max_pending_bytes, config_->stream.slow_reader_timeout_ms);
  if (grpc::Status admitted = Admit(context, /*generation=*/true); !admitted.ok()) {
    count(static_cast<absl::StatusCode>(admitted.error_code()));
    response->Refuse(FromGrpcStatus(admitted));
    return response;
  }
  watchdog_->Add(response);
  const TimeNs deadline = SteadyDeadline(*context);
  auto copy = std::make_shared<GenerateRequest>(request);
  output_pool_->Post([this, response, copy, loaded, deadline, count, request_id] {
    absl::StatusOr<PreparedRequest> prepared =
        PrepareRequest(*copy, *loaded, config_->limits, request_id, deadline);
    if (!prepared.ok()) {
      count(prepared.status().code());
      response->Refuse(prepared.status());
      return;
    }
    response->Start(loaded->engine, output_pool_, loaded->tokenizer, std::move(prepared->calls),
                    prepared->logprobs);
  });
  return response;
}

grpc::ServerWriteReactor<GenerateResponse>* GenerationService::Generate(
    grpc::CallbackServerContext* context, const GenerateRequest* request) {
  auto* reactor = new GrpcStreamReactor(context);
  reactor->Bind(StartGeneration(context, *request, /*streaming=*/true, "Generate"));
  return reactor;
}

grpc::ServerUnaryReactor* GenerationService::Complete(grpc::CallbackServerContext* context,
                                                      const GenerateRequest* request,
                                                      ribbon::v1::GenerateResult* result) {
  auto* reactor = new GrpcUnaryReactor(context, result);
  reactor->Bind(StartGeneration(context, *request, /*streaming=*/false, "Complete"));
  return reactor;
}

grpc::ServerUnaryReactor* GenerationService::Tokenize(grpc::CallbackServerContext* context,
                                                      const ribbon::v1::TokenizeRequest* request,
                                                      ribbon::v1::TokenizeResponse* response) {
  if (grpc::Status admitted = Admit(context, false); !admitted.ok()) {
    return FinishUnary(context, admitted);
  }
  if (absl::Status valid = ValidateUtf8Field(request->text(), "text"); !valid.ok()) {
    return FinishUnary(context, valid);
  }
  const std::vector<int32_t> ids =
      backend_.load()->tokenizer->Encode(request->text(), request->add_special_tokens());
  response->mutable_token_ids()->Add(ids.begin(), ids.end());
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GenerationService::Detokenize(
    grpc::CallbackServerContext* context, const ribbon::v1::DetokenizeRequest* request,
    ribbon::v1::DetokenizeResponse* response) {
  if (grpc::Status admitted = Admit(context, false); !admitted.ok()) {
    return FinishUnary(context, admitted);
  }
  const ServingBackend& backend = *backend_.load();
  if (absl::Status valid = ValidateTokenIds(request->token_ids(), "token_ids",
                                            ModelLimitsFrom(backend.model_config));
      !valid.ok()) {
    return FinishUnary(context, valid);
  }
  const std::vector<int32_t> ids(request->token_ids().begin(), request->token_ids().end());
  response->set_text(backend.tokenizer->Decode(ids, request->skip_special_tokens()));
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GenerationService::GetModelInfo(grpc::CallbackServerContext* context,
                                                          const ribbon::v1::GetModelInfoRequest*,
                                                          ribbon::v1::ModelInfo* response) {
  if (grpc::Status admitted = Admit(context, false); !admitted.ok()) {
    return FinishUnary(context, admitted);
  }
  const ServingBackend& backend = *backend_.load();
  const ModelConfig& model = backend.model_config;
  response->set_architecture(model.architecture);
  response->set_context_length(static_cast<uint32_t>(model.max_position_embeddings));
  response->set_vocab_size(static_cast<uint32_t>(model.vocab_size));
  response->set_dtype(model.torch_dtype);
  response->set_bos_token_id(model.bos_token_id);
  response->mutable_eos_token_ids()->Add(model.eos_token_ids.begin(), model.eos_token_ids.end());
  response->set_model_path(backend.model_path);
  response->set_parameters(static_cast<uint64_t>(backend.parameters));
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GenerationService::GetServerInfo(grpc::CallbackServerContext* context,
                                                           const ribbon::v1::GetServerInfoRequest*,
                                                           ribbon::v1::ServerInfo* response) {
  response->set_version(RIBBON_VERSION);
  response->set_config_json(ConfigToJson(*config_));
  if (grpc::Status admitted = Admit(context, false); !admitted.ok()) {
    return FinishUnary(context, admitted);
  }
  const ServingBackend& backend = *backend_.load();
  const EngineStats stats = backend.engine->Stats();
  const EngineOptions& options = backend.engine->options();
  response->set_kv_blocks_free(static_cast<uint32_t>(stats.kv_blocks_free));
  response->set_kv_blocks_total(static_cast<uint32_t>(stats.kv_blocks_total));
  response->set_kv_block_size(static_cast<uint32_t>(options.block_size));
  response->set_max_ribbon_tokens(static_cast<uint32_t>(
      stats.token_budget > 0 ? stats.token_budget : options.scheduler.max_ribbon_tokens));
  response->set_activation_bytes_per_token(
      static_cast<uint64_t>(backend.activation_bytes_per_token));
  response->set_probe_seconds(backend.probe_seconds);
  for (const memory::StepTiming& timing : backend.step_curve) {
    ribbon::v1::StepTiming* point = response->add_step_curve();
    point->set_tokens(static_cast<uint32_t>(timing.tokens));
    point->set_tokens_per_second(timing.tokens_per_second());
  }
  response->set_device(backend.device_description);
  response->set_weight_bytes(static_cast<uint64_t>(backend.weight_bytes));
  response->set_requests_running(static_cast<uint32_t>(stats.running));
  response->set_requests_waiting(static_cast<uint32_t>(stats.waiting));
  return FinishUnary(context, grpc::Status::OK);
}

}  // namespace ribbon::server
