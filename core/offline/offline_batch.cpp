#include "core/offline/offline_batch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/common/time.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::offline {
namespace {

// Steps in a row that neither ran a forward nor finished a request before we call it stuck.
// The engine sleeps 1 ms in such a step, so this is about a second of doing nothing.
constexpr int64_t kMaxIdleSteps = 1000;

// Shared by the sinks and the observer, so that a sink the engine calls after an early return
// still writes into live memory.
struct BatchState {
  std::vector<OfflineResult> results;
  int64_t finished = 0;
  int64_t generated_tokens = 0;
  int64_t ribbons = 0;
  int64_t rows = 0;
  int64_t computed_tokens = 0;
  int64_t oom_recoveries = 0;
};

class ResultSink final : public RequestSink {
 public:
  ResultSink(std::shared_ptr<BatchState> state, size_t index)
      : state_(std::move(state)), index_(index) {}
  void OnTokens(std::span<const SampledToken> tokens) override {
    auto& out = state_->results[index_].tokens;
    for (const auto& t : tokens) out.push_back(t.token);
    state_->generated_tokens += static_cast<int64_t>(tokens.size());
  }
  void OnFinish(const FinishInfo& info) override {
    state_->results[index_].finish = info;
    ++state_->finished;
  }

 private:
  std::shared_ptr<BatchState> state_;
  size_t index_;
};

class CountingObserver final : public EngineObserver {
 public:
  CountingObserver(std::shared_ptr<BatchState> state, std::shared_ptr<EngineObserver> next)
      : state_(std::move(state)), next_(std::move(next)) {}
  void OnStep(const StepReport& report) override {
    if (report.oom_recovered) {
      ++state_->oom_recoveries;
    } else if (report.ribbon_rows > 0) {
      ++state_->ribbons;
      state_->rows += report.ribbon_rows;
      state_->computed_tokens += report.real_tokens;
    }
    if (next_) next_->OnStep(report);
  }
  void OnRequestFinished(const GenerationRequest& request, const FinishInfo& info) override {
    if (next_) next_->OnRequestFinished(request, info);
  }

 private:
  std::shared_ptr<BatchState> state_;
  std::shared_ptr<EngineObserver> next_;
};

// Generated tokens that went back through the model: all but a length-stopped request's last.
int64_t FedBackTokens(const OfflineResult& r) {
  const int64_t generated = static_cast<int64_t>(r.tokens.size());
  if (r.finish.reason == FinishReason::kStopToken) return generated;
  return std::max<int64_t>(0, generated - 1);
}

int64_t RequiredTokens(const OfflineResult& r) {
  const int64_t prompt =
      r.finish.status.ok() ? r.finish.prompt_tokens : r.finish.prompt_tokens_computed;
  return prompt + FedBackTokens(r);
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

OfflineReport Summarize(const BatchState& state, int32_t capacity, const EngineStats& before,
                        const EngineStats& after, double seconds) {
  OfflineReport r;
  r.requests = static_cast<int64_t>(state.results.size());
  for (const auto& result : state.results) {
    if (!result.finish.status.ok()) ++r.failed;
    r.prompt_tokens += result.finish.prompt_tokens;
    r.required_tokens += RequiredTokens(result);
  }
  r.generated_tokens = state.generated_tokens;
  r.computed_tokens = state.computed_tokens;
  r.rows = state.rows;
  r.ribbons = state.ribbons;
  r.capacity = capacity;
  r.lower_bound = RibbonLowerBound(state.results, capacity);
  r.preemptions = after.preemptions - before.preemptions;
  r.oom_recoveries = state.oom_recoveries;
  r.seconds = seconds;
  return r;
}

}  // namespace

int64_t RibbonLowerBound(std::span<const OfflineResult> results, int32_t capacity) {
  if (capacity <= 0) return 0;
  int64_t total = 0;
  int64_t longest_chain = 0;
  for (const auto& r : results) {
    const int64_t required = RequiredTokens(r);
    total += required;
    if (required == 0) continue;
    const int64_t prompt = required - FedBackTokens(r);
    longest_chain = std::max(longest_chain, CeilDiv(prompt, capacity) + FedBackTokens(r));
  }
  return std::max(CeilDiv(total, capacity), longest_chain);
}

namespace {

// Feeds the engine and steps it; one per RunOfflineBatch call.
class BatchRunner {
 public:
  BatchRunner(Engine& engine, std::vector<GenerationRequest> requests, std::vector<size_t> order,
              const ProgressCallback& progress)
      : engine_(engine),
        requests_(std::move(requests)),
        order_(std::move(order)),
        progress_(progress),
        state_(std::make_shared<BatchState>()) {
    state_->results.resize(requests_.size());
  }

  std::shared_ptr<BatchState> state() const { return state_; }
  int64_t step_errors() const { return step_errors_; }
  const absl::Status& first_step_error() const { return first_step_error_; }

  // Steps until every request has finished. FAILED_PRECONDITION if the engine stalls.
  absl::Status Run() {
    const int64_t total = static_cast<int64_t>(requests_.size());
    const TimeNs start = SteadyNowNs();
    int64_t idle_steps = 0;
    while (state_->finished < total) {
      SubmitMore();
      if (state_->finished >= total) break;
      const int64_t ribbons_before = state_->ribbons;
      const int64_t finished_before = state_->finished;
      absl::StatusOr<bool> stepped = engine_.StepOnce();
      if (!stepped.ok()) {
        if (first_step_error_.ok()) first_step_error_ = stepped.status();
        ++step_errors_;
      }
      const bool progressed =
          state_->ribbons > ribbons_before || state_->finished > finished_before;
      idle_steps = progressed ? 0 : idle_steps + 1;
      if ((stepped.ok() && !*stepped && state_->finished < total) || idle_steps > kMaxIdleSteps) {
        for (uint64_t id : engine_ids_) engine_.Cancel(id);
        return absl::FailedPreconditionError(
            absl::StrCat("offline batch stalled: ", total - state_->finished, " of ", total,
                         " requests unfinished after ", state_->ribbons,
                         " ribbons (the engine has nothing it can run)"));
      }
      if (progress_) {
        progress_({state_->finished, total, state_->ribbons, state_->computed_tokens,
                   state_->generated_tokens, NsToSeconds(SteadyNowNs() - start)});
      }
    }
    return absl::OkStatus();
  }

 private:
  // Submits in `order_` while the engine's queue accepts; a request it refuses for any other
  // reason (or when nothing else is queued, so waiting would not help) ends in kError.
  void SubmitMore() {
    while (next_ < order_.size()) {
      const size_t index = order_[next_];
      const int64_t in_engine = static_cast<int64_t>(engine_ids_.size()) - state_->finished;
      absl::StatusOr<uint64_t> id =
          engine_.Submit(requests_[index], std::make_shared<ResultSink>(state_, index));
      if (id.ok()) {
        engine_ids_.push_back(*id);
      } else if (absl::IsResourceExhausted(id.status()) && in_engine > 0) {
        return;  // the queue is full: retry once running requests have made room
      } else {
        OfflineResult& r = state_->results[index];
        r.finish.reason = FinishReason::kError;
        r.finish.status = id.status();
        ++state_->finished;
        engine_ids_.push_back(0);  // no engine id; keeps the count of submitted requests right
      }
      ++next_;
    }
  }

  Engine& engine_;
  std::vector<GenerationRequest> requests_;
  std::vector<size_t> order_;  // submission order: indices into requests_
  const ProgressCallback& progress_;
  std::shared_ptr<BatchState> state_;
  std::vector<uint64_t> engine_ids_;  // one per request submitted, in submission order
  size_t next_ = 0;                   // into order_
  int64_t step_errors_ = 0;
  absl::Status first_step_error_;
};

// Longest decode chain first (OfflineBatchOptions::longest_chain_first): the submission order
// and the priorities that make the scheduler admit those prompts first. The request's own
// priority (-1000..1000 from ribbon-batch; clamped so the product fits) stays the major key.
std::vector<size_t> LongestChainFirst(std::vector<GenerationRequest>& requests) {
  constexpr int32_t kChainLimit = 1 << 16;
  constexpr int32_t kPriorityLimit = 16000;  // kPriorityLimit * kChainLimit < 2^31
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& ra = requests[a];
    const auto& rb = requests[b];
    if (ra.priority != rb.priority) return ra.priority > rb.priority;
    return ra.stop.max_new_tokens > rb.stop.max_new_tokens;
  });
  for (GenerationRequest& r : requests) {
    const int32_t own = std::clamp(r.priority, -kPriorityLimit, kPriorityLimit);
    r.priority = own * kChainLimit + std::clamp(r.stop.max_new_tokens, 0, kChainLimit - 1);
  }
  return order;
}

}  // namespace

absl::StatusOr<OfflineBatchResult> RunOfflineBatch(Engine& engine,
                                                   std::vector<GenerationRequest> requests,
                                                   const OfflineBatchOptions& options,
                                                   const ProgressCallback& progress) {
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options.longest_chain_first) order = LongestChainFirst(requests);
  BatchRunner runner(engine, std::move(requests), std::move(order), progress);
  std::shared_ptr<BatchState> state = runner.state();
  engine.SetObserver(std::make_shared<CountingObserver>(state, options.observer));
  const EngineStats before = engine.Stats();
  const TimeNs start = SteadyNowNs();
  const absl::Status run = runner.Run();
  const double seconds = NsToSeconds(SteadyNowNs() - start);
  engine.SetObserver(options.observer);
  if (!run.ok()) return run;

  const int32_t capacity = sched::TokenBudget(engine.options().scheduler);
  OfflineReport report = Summarize(*state, capacity, before, engine.Stats(), seconds);
  report.step_errors = runner.step_errors();
  report.first_step_error = runner.first_step_error();
  return OfflineBatchResult{std::move(state->results), report};
}

}  // namespace ribbon::offline
