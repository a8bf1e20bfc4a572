#include "server/generation_service.h"

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/logging.h"
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

// Compares without an early exit so the time taken does not reveal how much of a token matched.
bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size() || expected.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= given[i] ^ expected[i];
  return diff == 0;
}

TimeNs SteadyDeadline(const grpc::CallbackServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return kNoDeadline;
  const auto remaining = deadline - std::chrono::system_clock::now();
  return SteadyNowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(remaining).count();
}

bool DeadlinePassed(const grpc::CallbackServerContext& context) {
  return context.deadline() <= std::chrono::system_clock::now();
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

// Streams a Generate call: each write is the output merged since the previous write.
class GenerationService::StreamReactor final : public grpc::ServerWriteReactor<GenerateResponse>,
                                               public CallOutput {
 public:
  explicit StreamReactor(grpc::CallbackServerContext* context) : context_(context) {}
  std::shared_ptr<GenerationCall> call;

  bool streaming() const override { return true; }
  void WriteMessage(const GenerateResponse* message) override { StartWrite(message); }
  void FinishCall(const grpc::Status& status, GenerateResponse&&) override { Finish(status); }

  void OnWriteDone(bool ok) override {
    if (call) call->OnWriteDone(ok);
  }
  void OnCancel() override {
    if (call) call->OnRpcCancelled(DeadlinePassed(*context_));
  }
  void OnDone() override {
    if (call) call->Detach();
    delete this;
  }

 private:
  grpc::CallbackServerContext* const context_;
};

// Answers a Complete call once, with everything the request produced.
class GenerationService::UnaryGenerationReactor final : public grpc::ServerUnaryReactor,
                                                        public CallOutput {
 public:
  UnaryGenerationReactor(grpc::CallbackServerContext* context, ribbon::v1::GenerateResult* result)
      : context_(context), result_(result) {}
  std::shared_ptr<GenerationCall> call;

  bool streaming() const override { return false; }
  void WriteMessage(const GenerateResponse*) override {}
  void FinishCall(const grpc::Status& status, GenerateResponse&& rest) override {
    if (status.ok()) {
      result_->mutable_token_ids()->Swap(rest.mutable_token_ids());
      result_->mutable_text()->swap(*rest.mutable_text());
      result_->mutable_logprobs()->Swap(rest.mutable_logprobs());
      result_->set_finish_reason(rest.finish_reason());
      result_->mutable_usage()->Swap(rest.mutable_usage());
      result_->mutable_timings()->Swap(rest.mutable_timings());
      result_->set_request_id(rest.request_id());
    }
    Finish(status);
  }

  void OnCancel() override {
    if (call) call->OnRpcCancelled(DeadlinePassed(*context_));
  }
  void OnDone() override {
    if (call) call->Detach();
    delete this;
  }

 private:
  grpc::CallbackServerContext* const context_;
  ribbon::v1::GenerateResult* const result_;
};

GenerationService::GenerationService(const ServerConfig* config, TaskPool* output_pool)
    : config_(config), output_pool_(output_pool), id_prefix_(RandomPrefix()) {
  watchdog_ = std::thread([this] { WatchSlowReaders(); });
}

GenerationService::~GenerationService() {
  {
    std::lock_guard lock(calls_mu_);
    stopping_ = true;
  }
  watchdog_wake_.notify_all();
  watchdog_.join();
}

void GenerationService::SetBackend(const ServingBackend* backend) { backend_.store(backend); }

void GenerationService::StopAdmitting() { admitting_.store(false); }

int GenerationService::active_calls() {
  std::lock_guard lock(calls_mu_);
  return static_cast<int>(calls_.size());
}

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
    if (!ConstantTimeEquals(given, "Bearer " + token)) {
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

void GenerationService::LogRefusal(const std::string& request_id, const GenerateRequest& request,
                                   const char* method, const grpc::Status& status) const {
  if (!config_->log.access_log) return;
  LogEvent(
      spdlog::level::info, "access",
      {{"request_id", request_id},
       {"client_request_id", request.client_request_id()},
       {"method", method},
       {"status", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
       {"message", status.error_message()},
       {"prompt_tokens", 0},
       {"generated_tokens", 0},
       {"prompt_tokens_computed", 0},
       {"duration_seconds", 0.0}});
}

void GenerationService::StartGeneration(grpc::CallbackServerContext* context,
                                        const GenerateRequest& request, CallOutput* output,
                                        const char* method,
                                        std::shared_ptr<GenerationCall>* call_slot) {
  const std::string request_id = NextRequestId();
  const ServingBackend* loaded = backend_.load();
  const auto count_refused = [loaded](const grpc::Status& status) {
    if (loaded != nullptr && loaded->count_refused) {
      loaded->count_refused(static_cast<absl::StatusCode>(status.error_code()));
    }
  };
  const auto refuse = [&](const grpc::Status& status) {
    LogRefusal(request_id, request, method, status);
    count_refused(status);
    output->FinishCall(status, GenerateResponse());
  };
  if (grpc::Status admitted = Admit(context, /*generation=*/true); !admitted.ok()) {
    return refuse(admitted);
  }
  const ServingBackend& backend = *backend_.load();
  absl::StatusOr<ValidatedRequest> validated = ValidateGenerateRequest(
      request, config_->limits, ModelLimitsFrom(backend.model_config), backend.tokenizer.get());
  if (!validated.ok()) return refuse(ToGrpcStatus(validated.status()));
  GenerationRequest& engine_request = validated->request;
  engine_request.request_id = request_id;
  engine_request.deadline = SteadyDeadline(*context);

  OutputProcessor processor(backend.tokenizer,
                            {.prompt = engine_request.prompt,
                             .stop_strings = std::move(validated->stop_strings),
                             .stop_token_ids = engine_request.stop.stop_token_ids,
                             .eos_token_ids = backend.model_config.eos_token_ids,
                             .ignore_eos = engine_request.stop.ignore_eos,
                             .special_tokens = backend.special_tokens});
  auto call = std::make_shared<GenerationCall>(
      GenerationCallOptions{.request_id = request_id,
                            .client_request_id = request.client_request_id(),
                            .method = method,
                            .prompt_tokens = static_cast<int32_t>(engine_request.prompt.size()),
                            .logprobs = engine_request.sampling.logprobs,
                            .max_pending_bytes = config_->stream.max_pending_bytes,
                            .slow_reader_timeout_ms = config_->stream.slow_reader_timeout_ms,
                            .access_log = config_->log.access_log},
      backend.engine, output_pool_, std::move(processor));
  *call_slot = call;
  call->Attach(output);
  {
    std::lock_guard lock(calls_mu_);
    calls_.push_back(call);
  }
  absl::StatusOr<uint64_t> engine_id = backend.engine->Submit(std::move(engine_request), call);
  if (!engine_id.ok()) {
    const grpc::Status status = ToGrpcStatus(engine_id.status());
    count_refused(status);
    call->FailBeforeEngine(status);
    return;
  }
  call->SetEngineId(*engine_id);
}

grpc::ServerWriteReactor<GenerateResponse>* GenerationService::Generate(
    grpc::CallbackServerContext* context, const GenerateRequest* request) {
  auto* reactor = new StreamReactor(context);
  StartGeneration(context, *request, reactor, "Generate", &reactor->call);
  return reactor;
}

grpc::ServerUnaryReactor* GenerationService::Complete(grpc::CallbackServerContext* context,
                                                      const GenerateRequest* request,
                                                      ribbon::v1::GenerateResult* result) {
  auto* reactor = new UnaryGenerationReactor(context, result);
  StartGeneration(context, *request, reactor, "Complete", &reactor->call);
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
  response->set_device(backend.device_description);
  response->set_weight_bytes(static_cast<uint64_t>(backend.weight_bytes));
  response->set_requests_running(static_cast<uint32_t>(stats.running));
  response->set_requests_waiting(static_cast<uint32_t>(stats.waiting));
  return FinishUnary(context, grpc::Status::OK);
}

void GenerationService::WatchSlowReaders() {
  constexpr auto kPeriod = std::chrono::milliseconds(25);
  std::unique_lock lock(calls_mu_);
  while (!stopping_) {
    watchdog_wake_.wait_for(lock, kPeriod, [this] { return stopping_; });
    std::vector<std::weak_ptr<GenerationCall>> calls = calls_;
    lock.unlock();
    const TimeNs now = SteadyNowNs();
    std::vector<bool> live(calls.size());
    for (size_t i = 0; i < calls.size(); ++i) {
      std::shared_ptr<GenerationCall> call = calls[i].lock();
      live[i] = call != nullptr && call->CheckSlowReader(now);
    }
    lock.lock();
    // Calls added meanwhile sit past the snapshot; keep them.
    std::vector<std::weak_ptr<GenerationCall>> kept;
    for (size_t i = 0; i < calls_.size(); ++i) {
      if (i >= calls.size() || live[i]) kept.push_back(calls_[i]);
    }
    calls_.swap(kept);
  }
}

}  // namespace ribbon::server
