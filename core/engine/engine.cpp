#include "core/engine/engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/engine/engine_impl.h"
#include "core/engine/plan_builder.h"
#include "core/scheduler/scheduler_factory.h"
#include "spdlog/spdlog.h"

namespace ribbon {
namespace {

constexpr int64_t kDefaultKvCacheBytes = int64_t{1} << 30;

// KV blocks when nothing measured them: what a 1 GiB budget holds, but always one full context
// (the memory probe sizes the pool from measurement instead, in the daemon).
int32_t DefaultBlocks(const EngineOptions& o, const ModelRunner& model) {
  const int64_t context = model.config().max_position_embeddings;
  const int64_t per_seq = sched::BlocksFor(static_cast<int32_t>(context), o.block_size);
  const int64_t affordable =
      kDefaultKvCacheBytes / std::max<int64_t>(1, model.KvBytesPerBlock(o.block_size));
  return KvBlocksToHold(o, context, std::max(per_seq, affordable));
}

}  // namespace

int32_t KvBlocksToHold(const EngineOptions& options, int64_t context_tokens,
                       int64_t blocks_that_fit) {
  const int64_t per_seq =
      sched::BlocksFor(static_cast<int32_t>(context_tokens), options.block_size);
  const int64_t useful = per_seq * std::max(1, options.scheduler.max_running_seqs);
  return static_cast<int32_t>(std::clamp<int64_t>(std::min(useful, blocks_that_fit), 0, INT32_MAX));
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options,
                                                       std::unique_ptr<ModelRunner> model) {
  if (!model) return absl::InvalidArgumentError("Engine::Create: no model");
  if (options.block_size <= 0 || options.block_size > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_size ", options.block_size, " must be in [1, 64]"));
  }
  if (options.scheduler.max_ribbon_tokens <= 0)
    return absl::InvalidArgumentError("max_ribbon_tokens must be positive");
  ASSIGN_OR_RETURN(auto scheduler,
                   sched::MakeScheduler(options.scheduler_policy, options.scheduler));
  const int32_t blocks =
      options.num_kv_blocks > 0 ? options.num_kv_blocks : DefaultBlocks(options, *model);
  RETURN_IF_ERROR(model->AllocateKvCache(blocks, options.block_size));
  auto impl = std::make_unique<Impl>(options, std::move(model), std::move(scheduler), blocks);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() { impl_->Shutdown(absl::ZeroDuration()); }

const ModelConfig& Engine::model_config() const { return impl_->model_->config(); }
const ModelRunner& Engine::model() const { return *impl_->model_; }
const EngineOptions& Engine::options() const { return impl_->options_; }

absl::StatusOr<uint64_t> Engine::Submit(GenerationRequest request,
                                        std::shared_ptr<RequestSink> sink) {
  return impl_->Submit(std::move(request), std::move(sink));
}
void Engine::Cancel(uint64_t id, FinishReason reason) { impl_->Cancel(id, reason); }
void Engine::DropPrefixCache(std::function<void(int32_t)> done) {
  impl_->DropPrefixCache(std::move(done));
}
void Engine::SetObserver(std::shared_ptr<EngineObserver> observer) {
  impl_->observer_ = std::move(observer);
}
void Engine::Start() { impl_->Start(); }
void Engine::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
absl::StatusOr<bool> Engine::StepOnce() { return impl_->StepOnce(); }
EngineStats Engine::Stats() const { return impl_->Stats(); }

}  // namespace ribbon
