#include "server/daemon.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"
#include "core/memory/capacity.h"
#include "core/memory/step_budget.h"
#include "core/metrics/metrics_observer.h"
#include "core/model/model_runner.h"
#include "core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "server/chat_renderer.h"
#include "server/logging.h"
#include "server/output_processor.h"

namespace ribbon::server {
namespace {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerSection& server) {
  if (server.tls_cert_path.empty()) return grpc::InsecureServerCredentials();
  ASSIGN_OR_RETURN(std::string cert, ReadTextFile(server.tls_cert_path, "server.tls_cert_path"));
  ASSIGN_OR_RETURN(std::string key, ReadTextFile(server.tls_key_path, "server.tls_key_path"));
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  return grpc::SslServerCredentials(options);
}

// Seconds (validated to at most a day) as the int milliseconds gRPC channel arguments take.
int Milliseconds(double seconds) { return static_cast<int>(std::lround(seconds * 1000.0)); }

EngineOptions EngineOptionsFrom(const ServerConfig& config) {
  const EngineSection& e = config.engine;
  EngineOptions options;
  options.num_kv_blocks = static_cast<int32_t>(e.num_kv_blocks);
  options.block_size = static_cast<int32_t>(e.block_size);
  options.scheduler_policy = e.scheduler_policy;
  options.scheduler.max_ribbon_tokens = static_cast<int32_t>(e.max_ribbon_tokens);
  options.scheduler.max_running_seqs = static_cast<int32_t>(e.max_running_seqs);
  options.scheduler.align = static_cast<int32_t>(e.align);
  options.scheduler.max_blocks_per_seq = static_cast<int32_t>(e.max_blocks_per_seq);
  // The config's validation admits only the names ParseBatchingMode knows.
  options.scheduler.mode =
      sched::ParseBatchingMode(e.batching_mode).value_or(sched::BatchingMode::kPacked);
  options.pipeline = e.pipeline;
  options.prefix_cache = e.prefix_cache;
  options.max_queued_requests = static_cast<int32_t>(e.max_queued_requests);
  options.max_queued_prompt_tokens = e.max_queued_prompt_tokens;
  options.debug_step_delay_ms = static_cast<int32_t>(config.debug.step_delay_ms);
  if (const int64_t every = config.debug.oom_every_steps; every > 0)
    options.debug_inject_oom = [every](int64_t step) { return step % every == every - 1; };
  return options;
}

// The name OpenAI clients use: openai.served_model_name, else the model directory's name.
std::string ServedModelName(const ServerConfig& config) {
  if (!config.openai.served_model_name.empty()) return config.openai.served_model_name;
  std::string path = config.model.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
}

}  // namespace

Daemon::Daemon(ServerConfig config)
    : config_(std::move(config)),
      output_pool_(static_cast<int>(config_.server.output_threads)),
      service_(&config_, &output_pool_, &watchdog_),
      openai_service_(&config_, &output_pool_, &watchdog_,
                      {.ready = [this] { return ready_.load(); },
                       .metrics = [this] { return ScrapeMetrics(); }}) {}

Daemon::~Daemon() { Drain(); }

absl::Status Daemon::Listen() {
  RETURN_IF_ERROR(StartGrpc());
  RETURN_IF_ERROR(StartHttp());
  RETURN_IF_ERROR(StartOpenAi());
  RETURN_IF_ERROR(WritePortFile());
  LogEvent(spdlog::level::info, "listening",
           {{"grpc", config_.server.listen},
            {"grpc_port", grpc_port_},
            {"http_port", http_port_},
            {"openai_port", openai_port_},
            {"tls", !config_.server.tls_cert_path.empty()},
            {"auth", !config_.server.auth_token.empty()}});
  return absl::OkStatus();
}

absl::Status Daemon::StartGrpc() {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeCredentials(config_.server));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.server.listen, credentials, &grpc_port_);
  // gRPC sets SO_REUSEPORT by default; a second daemon on the same port must fail, not share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (config_.server.max_connection_age_seconds > 0) {
    // GOAWAY on old connections makes clients re-resolve the service name, so replicas added
    // since are used; calls in flight get the same grace as during a drain.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               Milliseconds(config_.server.max_connection_age_seconds));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               Milliseconds(config_.server.shutdown_grace_seconds));
  }
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.server.max_receive_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.server.max_send_message_bytes));
  builder.RegisterService(&service_);
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("server.listen: cannot listen on ", config_.server.listen));
  }
  grpc_server_->GetHealthCheckService()->SetServingStatus("", true);
  grpc_server_->GetHealthCheckService()->SetServingStatus(kReadinessService, false);
  return absl::OkStatus();
}

absl::Status Daemon::StartHttp() {
  if (config_.http.listen.empty()) return absl::OkStatus();
  HttpSidePortHandlers handlers;
  handlers.ready = [this] { return ready_.load(); };
  handlers.metrics = [this] { return ScrapeMetrics(); };
  ASSIGN_OR_RETURN(http_port_, http_.Start(config_.http.listen, std::move(handlers)));
  return absl::OkStatus();
}

absl::Status Daemon::StartOpenAi() {
  if (config_.openai.listen.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(openai_port_,
                   openai_http_.Start({.listen = config_.openai.listen,
                                       .threads = static_cast<int>(config_.openai.threads),
                                       .max_body_bytes = config_.openai.max_body_bytes,
                                       .tls_cert_path = config_.server.tls_cert_path,
                                       .tls_key_path = config_.server.tls_key_path},
                                      &openai_service_));
  return absl::OkStatus();
}

absl::Status Daemon::WritePortFile() const {
  const std::string& path = config_.server.port_file;
  if (path.empty()) return absl::OkStatus();
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << nlohmann::json{{"grpc_port", grpc_port_},
                          {"http_port", http_port_},
                          {"openai_port", openai_port_}}
               .dump()
        << "\n";
    if (!out)
      return absl::InvalidArgumentError(absl::StrCat("server.port_file: cannot write ", path));
  }
  // Renamed into place so that a reader never sees half a file.
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("server.port_file: cannot write ", path));
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadModelRunner(const ModelSection& model) {
  ModelLoadOptions load;
  load.path = model.path;
  load.device = model.device;
  load.dtype = model.dtype;
  load.kv_cache_dtype = model.kv_cache_dtype;
  load.attention_backend = model.attention_backend;
  load.sampling = model.sampling;
  load.num_threads = static_cast<int32_t>(model.num_threads);
  return ribbon::LoadModel(load);
}

bool AutoBudget(const ServerConfig& config) {
  return config.engine.max_ribbon_tokens == kAutoMaxRibbonTokens;
}

// With engine.max_ribbon_tokens = auto the memory probe looks this far: a CPU pass past a few
// thousand tokens costs seconds at start-up and its knee lies far below; a GPU's can lie higher.
int32_t AutoMemoryCap(const std::string& device) { return device == "cpu" ? 4096 : 16384; }

absl::StatusOr<memory::CapacityReport> MeasureWithConfig(const ServerConfig& config,
                                                         ModelRunner& model,
                                                         std::function<bool()> cancelled = {}) {
  memory::MeasureOptions options;
  options.cancelled = std::move(cancelled);
  options.device = config.model.device;
  options.block_size = static_cast<int32_t>(config.engine.block_size);
  options.align = static_cast<int32_t>(config.engine.align);
  options.max_ribbon_tokens = AutoBudget(config)
                                  ? AutoMemoryCap(config.model.device)
                                  : static_cast<int32_t>(config.engine.max_ribbon_tokens);
  options.max_sample_rows = static_cast<int32_t>(config.engine.max_running_seqs);
  options.budget_bytes = config.memory.budget_bytes;
  options.memory_fraction = config.memory.fraction;
  return memory::MeasureCapacity(model, options);
}

// engine.max_ribbon_tokens = auto: steps timed up to what memory allows (step_budget.h).
absl::StatusOr<memory::StepBudgetReport> TimeStepBudget(const ServerConfig& config,
                                                        ModelRunner& model, int32_t memory_limit,
                                                        std::function<bool()> cancelled = {}) {
  memory::StepBudgetOptions options;
  options.max_tokens = memory_limit;
  options.min_tokens = std::min<int32_t>(64, memory_limit);
  options.align = static_cast<int32_t>(config.engine.align);
  options.block_size = static_cast<int32_t>(config.engine.block_size);
  options.max_sample_rows = static_cast<int32_t>(config.engine.max_running_seqs);
  options.cancelled = std::move(cancelled);
  return memory::MeasureStepBudget(model, options);
}

}  // namespace

absl::StatusOr<std::string> RunCapacityProbe(const ServerConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> model, LoadModelRunner(config.model));
  ASSIGN_OR_RETURN(memory::CapacityReport report, MeasureWithConfig(config, *model));
  std::string table = memory::FormatCapacityTable(report);
  if (AutoBudget(config)) {
    ASSIGN_OR_RETURN(const memory::StepBudgetReport budget,
                     TimeStepBudget(config, *model, report.max_ribbon_tokens));
    absl::StrAppend(&table, "step budget (engine.max_ribbon_tokens: auto): ",
                    memory::FormatStepBudget(budget, memory::StepBudgetOptions().tolerance), "\n");
  }
  return table;
}

absl::Status Daemon::SizeEngine(ModelRunner& model, EngineOptions& options) {
  if (!config_.memory.probe) return absl::OkStatus();
  // A shutdown requested while the probe runs (SIGTERM during start-up) stops it between passes.
  const auto cancelled = [this] {
    std::lock_guard lock(shutdown_mu_);
    return shutdown_requested_;
  };
  ASSIGN_OR_RETURN(memory::CapacityReport report, MeasureWithConfig(config_, model, cancelled));
  options.scheduler.max_ribbon_tokens = report.max_ribbon_tokens;
  if (AutoBudget(config_)) {
    ASSIGN_OR_RETURN(const memory::StepBudgetReport budget,
                     TimeStepBudget(config_, model, report.max_ribbon_tokens, cancelled));
    options.scheduler.max_ribbon_tokens = budget.chosen_tokens;
    backend_.step_curve = budget.curve;
    LogEvent(spdlog::level::info, "step_budget",
             {{"max_ribbon_tokens", budget.chosen_tokens},
              {"memory_limit_tokens", report.max_ribbon_tokens},
              {"curve", memory::FormatStepBudget(budget, memory::StepBudgetOptions().tolerance)},
              {"seconds", RoundedSeconds(budget.seconds)}});
  }
  if (options.num_kv_blocks == 0) {
    options.num_kv_blocks =
        KvBlocksToHold(options, backend_.model_config.max_position_embeddings, report.kv_blocks);
  }
  backend_.activation_bytes_per_token = report.activation_bytes_per_token;
  backend_.probe_seconds = report.seconds;
  activation_bytes_ = report.activation_bytes;
  LogEvent(spdlog::level::info, "capacity",
           {{"max_ribbon_tokens", report.max_ribbon_tokens},
            {"kv_blocks_fit", report.kv_blocks},
            {"kv_blocks", options.num_kv_blocks},
            {"budget_bytes", report.budget_bytes},
            {"budget_source", report.budget_source},
            {"probe_seconds", RoundedSeconds(report.seconds)}});
  return absl::OkStatus();
}

absl::Status Daemon::LoadModel() {
  const auto started = std::chrono::steady_clock::now();
  const std::string tokenizer_dir =
      config_.model.tokenizer_path.empty() ? config_.model.path : config_.model.tokenizer_path;
  ASSIGN_OR_RETURN(backend_.tokenizer, Tokenizer::Load(tokenizer_dir));
  backend_.special_tokens = FindSpecialTokens(*backend_.tokenizer);
  ASSIGN_OR_RETURN(backend_.render_chat,
                   LoadChatRenderer(tokenizer_dir, config_.model.chat_template));
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> model, LoadModelRunner(config_.model));
  backend_.model_config = model->config();
  backend_.device_description = model->Describe();
  backend_.weight_bytes = model->weight_bytes();
  backend_.parameters = backend_.model_config.parameter_count();
  backend_.model_path = config_.model.path;
  backend_.served_model_name = ServedModelName(config_);
  EngineOptions options = EngineOptionsFrom(config_);
  RETURN_IF_ERROR(SizeEngine(*model, options));
  const int64_t kv_bytes_per_block = model->KvBytesPerBlock(options.block_size);
  ASSIGN_OR_RETURN(engine_, Engine::Create(options, std::move(model)));
  RETURN_IF_ERROR(SetUpMetrics(kv_bytes_per_block));
  engine_->Start();
  backend_.engine = engine_.get();
  service_.SetBackend(&backend_);
  openai_service_.SetBackend(&backend_);
  SetReady(true);
  const EngineStats stats = engine_->Stats();
  LogEvent(
      spdlog::level::info, "ready",
      {{"model", config_.model.path},
       {"device", backend_.device_description},
       {"kv_blocks", stats.kv_blocks_total},
       {"max_ribbon_tokens", engine_->options().scheduler.max_ribbon_tokens},
       {"load_seconds",
        RoundedSeconds(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count())}});
  return absl::OkStatus();
}

absl::Status Daemon::SetUpMetrics(int64_t kv_bytes_per_block) {
  metrics::RibbonMetricsOptions options;
  options.build = {.version = RIBBON_VERSION,
                   .commit = "unknown",
                   .torch = RIBBON_TORCH_VERSION,
                   .cuda = RIBBON_CUDA_VERSION};
  options.max_model_len = backend_.model_config.max_position_embeddings;
  options.max_ribbon_tokens = config_.engine.max_ribbon_tokens;
  ASSIGN_OR_RETURN(metrics::RibbonMetrics registered,
                   metrics::RibbonMetrics::Register(metrics_registry_, options));
  metrics_ = registered;
  const EngineStats stats = engine_->Stats();
  metrics_->memory_bytes(metrics::MemoryKind::kWeights)
      ->Set(static_cast<double>(backend_.weight_bytes));
  metrics_->memory_bytes(metrics::MemoryKind::kKvCache)
      ->Set(static_cast<double>(kv_bytes_per_block) * stats.kv_blocks_total);
  metrics_->memory_bytes(metrics::MemoryKind::kActivations)
      ->Set(static_cast<double>(activation_bytes_));
  metrics_->probe_max_ribbon_tokens->Set(static_cast<double>(
      stats.token_budget > 0 ? stats.token_budget : config_.engine.max_ribbon_tokens));
  engine_->SetObserver(std::make_shared<metrics::MetricsObserver>(registered));
  backend_.count_refused = [registered](absl::StatusCode code) { registered.CountRequest(code); };
  metrics_ready_.store(true);
  return absl::OkStatus();
}

std::string Daemon::ScrapeMetrics() {
  if (!metrics_ready_.load()) return "";
  metrics_->UpdateFromEngineStats(engine_->Stats());
  return metrics_registry_.Serialize();
}

void Daemon::SetReady(bool ready) {
  ready_.store(ready);
  if (grpc_server_)
    grpc_server_->GetHealthCheckService()->SetServingStatus(kReadinessService, ready);
}

void Daemon::RequestShutdown() {
  // Notify under the lock: the waiter goes on to destroy the daemon (the condition variable
  // with it), and must not get there while this thread, the detached signal thread, is still
  // inside notify_all (ThreadSanitizer reported exactly that).
  std::lock_guard lock(shutdown_mu_);
  shutdown_requested_ = true;
  shutdown_requested_cv_.notify_all();
}

void Daemon::WaitForShutdownRequest() {
  std::unique_lock lock(shutdown_mu_);
  shutdown_requested_cv_.wait(lock, [this] { return shutdown_requested_; });
}

void Daemon::Drain() {
  {
    std::lock_guard lock(shutdown_mu_);
    if (drained_) return;
    drained_ = true;
  }
  const double grace = config_.server.shutdown_grace_seconds;
  LogEvent(spdlog::level::info, "draining",
           {{"grace_seconds", grace}, {"active_calls", watchdog_.active()}});
  SetReady(false);
  service_.StopAdmitting();
  openai_service_.StopAdmitting();
  if (engine_) engine_->Shutdown(absl::Seconds(grace));
  // The engine has finished every request; give the output threads a moment to write the ends.
  const auto flush_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (watchdog_.active() > 0 && std::chrono::steady_clock::now() < flush_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (grpc_server_)
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  openai_http_.Stop();
  output_pool_.Stop();
  http_.Stop();
  LogEvent(spdlog::level::info, "stopped", {{"remaining_calls", watchdog_.active()}});
}

}  // namespace ribbon::server
