// Engine::Impl: inbox, step loop and request lifecycle.
#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/engine/engine_impl.h"
#include "core/engine/plan_builder.h"
#include "spdlog/spdlog.h"

namespace ribbon {
Engine::Impl::Impl(const EngineOptions& options, std::unique_ptr<ModelRunner> model,
                   std::unique_ptr<sched::Scheduler> scheduler, int32_t num_blocks)
    : options_(options),
      model_(std::move(model)),
      scheduler_(std::move(scheduler)),
      blocks_({.num_blocks = num_blocks, .block_size = options.block_size}),
      builder_(options.block_size, static_cast<int32_t>(model_->config().max_position_embeddings)),
      pipeline_(options.pipeline),
      oom_policy_(options.min_ribbon_tokens, options.scheduler.align) {}

Engine::Impl::~Impl() {
  Shutdown(absl::ZeroDuration());
  // A caller driving StepOnce may stop with steps still queued on the worker: land them (their
  // sequences are finished by now) before the worker and the sequences go away.
  while (!pipeline_.empty()) Complete();
}

absl::Status Engine::Impl::Validate(const GenerationRequest& r) const {
  const ModelConfig& c = model_->config();
  if (r.prompt.empty()) return absl::InvalidArgumentError("prompt: must not be empty");
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("prompt: token id ", r.prompt[i], " at index ",
                                                     i, " is outside the vocabulary [0, ",
                                                     c.vocab_size, ")"));
    }
  }
  const int64_t context = c.max_position_embeddings;
  if (static_cast<int64_t>(r.prompt.size()) > context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt: ", r.prompt.size(), " tokens exceed the model's context of ", context, " tokens"));
  }
  if (r.stop.max_new_tokens < 1)
    return absl::InvalidArgumentError("max_new_tokens: must be at least 1");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Engine::Impl::Submit(GenerationRequest request,
                                              std::shared_ptr<RequestSink> sink) {
  RETURN_IF_ERROR(Validate(request));
  const int64_t prompt_tokens = static_cast<int64_t>(request.prompt.size());
  auto seq = std::make_unique<Sequence>();
  seq->id = next_id_.fetch_add(1);
  seq->prompt_len = static_cast<int32_t>(prompt_tokens);
  seq->tokens = request.prompt;
  seq->info.prompt_tokens = seq->prompt_len;
  seq->info.arrival = SteadyNowNs();
  seq->cache_root = BlockManager::RootHash(request.cache_salt);
  seq->request = std::move(request);
  seq->sink = std::move(sink);
  const uint64_t id = seq->id;
#ifdef RIBBON_TSAN_PLANTED_RACE
  PlantedRaceTouch();  // unlocked, on the caller's thread (see engine_impl.h)
#endif
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return absl::UnavailableError("server is shutting down");
    if (queued_.load() >= options_.max_queued_requests) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue is full: ", options_.max_queued_requests,
                       " waiting requests (max_queued_requests)"));
    }
    if (queued_prompt_tokens_.load() + prompt_tokens > options_.max_queued_prompt_tokens) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue is full: waiting prompt tokens would exceed ",
                       options_.max_queued_prompt_tokens, " (max_queued_prompt_tokens)"));
    }
    queued_.fetch_add(1);
    queued_prompt_tokens_.fetch_add(prompt_tokens);
    inbox_.push_back(std::move(seq));
  }
  wake_.notify_one();
  return id;
}

void Engine::Impl::Cancel(uint64_t id, FinishReason reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.emplace_back(id, reason);
  }
  wake_.notify_one();
}

void Engine::Impl::DropPrefixCache(std::function<void(int32_t)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A stopped engine runs no more steps: nobody would ever answer.
    if (!stop_) {
      drop_prefix_cache_ = true;
      if (done) drop_done_.push_back(std::move(done));
      done = nullptr;
    }
  }
  if (done) done(0);
  wake_.notify_one();
}

void Engine::Impl::DrainInbox() {
  std::deque<std::unique_ptr<Sequence>> arrived;
  std::vector<std::pair<uint64_t, FinishReason>> cancels;
  std::vector<std::function<void(int32_t)>> drop_done;
  bool abort_all = false, drop_cache = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    arrived.swap(inbox_);
    cancels.swap(cancels_);
    abort_all = abort_all_;
    std::swap(drop_cache, drop_prefix_cache_);
    drop_done.swap(drop_done_);
  }
  if (drop_cache) {
    const int32_t dropped = blocks_.DropCached();
    for (const auto& done : drop_done) done(dropped);
  }
  for (auto& seq : arrived) table_.Add(std::move(seq));
  for (const auto& [id, reason] : cancels) {
    Sequence* seq = table_.Find(id);
    if (seq == nullptr) continue;
    const absl::Status status =
        reason == FinishReason::kCancelled  ? absl::CancelledError("cancelled")
        : reason == FinishReason::kDeadline ? absl::DeadlineExceededError("deadline exceeded")
                                            : absl::OkStatus();
    Finish(*seq, reason, status);
  }
  if (abort_all) {
    for (const auto& seq : table_.all()) {
      Finish(*seq, FinishReason::kCancelled, absl::UnavailableError("server is shutting down"));
    }
  }
}

// A sequence whose token in flight is certain to be its last (a length limit) needs no further
// step: scheduling it would only run a dead row.
bool Engine::Impl::EndsWithPendingToken(const Sequence& seq) const {
  const int32_t last_before = static_cast<int32_t>(seq.tokens.size()) + seq.pending_tokens - 1;
  return seq.generated() + seq.pending_tokens >= seq.request.stop.max_new_tokens ||
         last_before >= model_->config().max_position_embeddings;
}

std::vector<sched::SeqState> Engine::Impl::Snapshot(const std::vector<CacheMatch>& matches) const {
  std::vector<sched::SeqState> states;
  states.reserve(table_.all().size());
  for (const auto& seq : table_.all()) {
    if (seq->finished()) continue;  // kept only while a launched step refers to it
    if (seq->pending_tokens > 0 && EndsWithPendingToken(*seq)) continue;  // nothing left to run
    sched::SeqState s;
    s.id = seq->id;
    s.prompt_len = seq->prompt_len;
    s.num_tokens = seq->known_tokens();
    s.num_computed = seq->num_computed;
    s.max_total_tokens =
        static_cast<int32_t>(std::min<int64_t>(seq->prompt_len + seq->request.stop.max_new_tokens,
                                               model_->config().max_position_embeddings));
    s.blocks_held = blocks_.BlocksHeld(seq->id);
    s.blocks_exclusive = blocks_.ExclusiveBlocks(seq->id);
    for (const CacheMatch& m : matches) {
      if (m.seq != seq.get()) continue;
      s.num_computed = m.blocks * blocks_.block_size();
      s.blocks_held = m.blocks;
      s.blocks_revived = m.revived;
    }
    s.priority = seq->request.priority;
    s.arrival = seq->info.arrival;
    s.deadline = seq->request.deadline;
    s.running = seq->state == SeqState::kRunning;
    states.push_back(s);
  }
  return states;
}

void Engine::Impl::Preempt(Sequence& seq) {
  blocks_.Free(seq.id);
  seq.num_computed = 0;
  Move(seq, SeqState::kPreempted);
  ++seq.info.preemptions;
  preemptions_.fetch_add(1);
}

std::vector<Engine::Impl::CacheMatch> Engine::Impl::PeekCachedPrefixes() {
  std::vector<CacheMatch> matches;
  const int32_t bs = blocks_.block_size();
  for (const auto& ptr : table_.all()) {
    Sequence& seq = *ptr;
    const bool idle = seq.state == SeqState::kWaiting || seq.state == SeqState::kPreempted;
    if (!idle || seq.in_flight > 0 || seq.num_computed > 0 || blocks_.BlocksHeld(seq.id) > 0 ||
        seq.match_epoch == blocks_.epoch()) {
      continue;  // a miss is tried again only once something new has been published
    }
    const int32_t known = static_cast<int32_t>(seq.tokens.size());
    CacheMatch m{&seq};
    m.blocks = blocks_.Peek(seq.tokens, seq.cache_root, (known - 1) / bs, &m.revived);
    if (m.blocks == 0) {
      seq.match_epoch = blocks_.epoch();
      prefix_query_tokens_ += known;
      continue;
    }
    matches.push_back(m);
  }
  return matches;
}

void Engine::Impl::TakeScheduledMatches(const std::vector<CacheMatch>& matches,
                                        const sched::ScheduleDecision& decision) {
  for (const CacheMatch& m : matches) {
    Sequence& seq = *m.seq;
    const bool scheduled =
        std::any_of(decision.chunks.begin(), decision.chunks.end(),
                    [&](const sched::ScheduledChunk& c) { return c.id == seq.id; });
    if (!scheduled || seq.finished()) continue;
    const int32_t known = static_cast<int32_t>(seq.tokens.size());
    const int32_t blocks =
        blocks_.Match(seq.id, seq.tokens, seq.cache_root, (known - 1) / blocks_.block_size());
    seq.num_computed = blocks * blocks_.block_size();
    prefix_query_tokens_ += known;
    prefix_hit_tokens_ += seq.num_computed;
    if (seq.state == SeqState::kWaiting)
      seq.info.cached_prompt_tokens = std::min(seq.num_computed, seq.prompt_len);
  }
}

void Engine::Impl::PublishComputedBlocks(const Step& step) {
  for (size_t c = 0; c < step.chunks.size(); ++c) {
    const Sequence& seq = table_.At(step.chunks[c].id);
    if (!seq.finished()) blocks_.Publish(seq.id, seq.tokens, step.chunk_ends[c], seq.cache_root);
  }
}

void Engine::Impl::ApplyDecision(const sched::ScheduleDecision& d) {
  for (uint64_t id : d.expired)
    Finish(table_.At(id), FinishReason::kDeadline,
           absl::DeadlineExceededError("deadline exceeded"));
  for (const auto& r : d.rejected) Finish(table_.At(r.id), FinishReason::kError, r.status);
  for (uint64_t id : d.preempted) Preempt(table_.At(id));
}

}  // namespace ribbon
