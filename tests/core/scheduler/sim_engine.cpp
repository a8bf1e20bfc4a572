#include "tests/core/scheduler/sim_engine.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace ribbon::sched::testing {
namespace {

// Written out here rather than calling the policy's own check, so that the test is independent.
bool CanNeverFit(const SeqState& s, const SimOptions& o) {
  const int32_t blocks = (s.max_total_tokens + o.block_size - 1) / o.block_size;
  return blocks > o.num_blocks ||
         (o.sched.max_blocks_per_seq > 0 && blocks > o.sched.max_blocks_per_seq);
}

template <typename T>
bool Contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

SimEngine::SimEngine(const SimOptions& options, std::unique_ptr<Scheduler> scheduler)
    : options_(options),
      scheduler_(std::move(scheduler)),
      kv_({.num_blocks = options.num_blocks, .block_size = options.block_size}) {}

SeqId SimEngine::Submit(const SimRequest& r) {
  const SeqId id = next_id_++;
  SeqState s;
  s.id = id;
  s.prompt_len = r.prompt_len;
  s.num_tokens = r.prompt_len;
  s.max_total_tokens = r.prompt_len + r.max_new_tokens;
  s.priority = r.priority;
  s.arrival = step_ * options_.step_ns;
  s.deadline = r.deadline;
  live_[id] = {s, step_};
  records_[id] = {.request = r, .arrival_step = step_};
  return id;
}

SimStep SimEngine::Step() {
  std::vector<SeqState> seqs;
  for (const auto& [id, l] : live_) seqs.push_back(l.state);
  const SchedulerInput input{.now = step_ * options_.step_ns,
                             .seqs = seqs,
                             .kv = {.free_blocks = kv_.free_blocks(),
                                    .total_blocks = kv_.total_blocks(),
                                    .block_size = kv_.block_size()},
                             .token_budget = token_budget_};
  SimStep step{.step = step_, .decision = scheduler_->Schedule(input)};
  for (const ScheduledChunk& c : step.decision.chunks) {
    auto it = live_.find(c.id);
    if (it != live_.end() && !it->second.state.running) step.admitted.push_back(c.id);
  }
  Check(step, input);
  if (options_.check_aging) CheckAging(step, seqs);
  Apply(step);
  ++step_;
  return step;
}

int64_t SimEngine::RunUntilIdle(int64_t max_steps) {
  int64_t steps = 0;
  while (!Idle() && steps < max_steps) {
    Step();
    ++steps;
  }
  return steps;
}

void SimEngine::Fail(const std::string& what) {
  if (violation_.empty()) violation_ = absl::StrCat("step ", step_, ": ", what);
}

// Every id listed is live and listed once; chunks stay within the uncomputed tokens, decodes
// first; expirations and rejections are exactly the ones due.
void SimEngine::Check(const SimStep& step, const SchedulerInput& input) {
  const ScheduleDecision& d = step.decision;
  const std::span<const SeqState> seqs = input.seqs;
  const TimeNs now = step.step * options_.step_ns;
  std::set<SeqId> seen;
  auto claim = [&](SeqId id, const char* list) -> const SeqState* {
    if (!seen.insert(id).second) Fail(absl::StrCat("seq ", id, " listed twice (", list, ")"));
    auto it = live_.find(id);
    if (it == live_.end()) Fail(absl::StrCat("unknown seq ", id, " in ", list));
    return it == live_.end() ? nullptr : &it->second.state;
  };
  for (SeqId id : d.expired) {
    const SeqState* s = claim(id, "expired");
    if (s && s->deadline > now) Fail(absl::StrCat("seq ", id, " expired before its deadline"));
  }
  for (const Rejection& r : d.rejected) {
    const SeqState* s = claim(r.id, "rejected");
    if (s && !CanNeverFit(*s, options_)) Fail(absl::StrCat("seq ", r.id, " rejected but fits"));
    if (r.status.ok()) Fail(absl::StrCat("seq ", r.id, " rejected with an OK status"));
  }
  for (SeqId id : d.preempted) {
    const SeqState* s = claim(id, "preempted");
    if (s && !s->running) Fail(absl::StrCat("seq ", id, " preempted while not running"));
  }
  bool prefill_seen = false;
  for (const ScheduledChunk& c : d.chunks) {
    const SeqState* s = claim(c.id, "chunks");
    if (!s) continue;
    const int32_t left = s->num_tokens - s->num_computed;
    if (c.num_tokens < 1 || c.num_tokens > left) {
      Fail(absl::StrCat("seq ", c.id, " chunk of ", c.num_tokens, " with ", left, " left"));
    }
    if (c.padded_tokens != 0 && c.padded_tokens < c.num_tokens) Fail("padded_tokens < num_tokens");
    const bool decode = s->running && left == 1;
    if (decode && prefill_seen && options_.sched.mode == BatchingMode::kPacked) {
      Fail(absl::StrCat("decode of seq ", c.id, " after a prefill chunk"));
    }
    prefill_seen = prefill_seen || !decode;
  }
  for (const SeqState& s : seqs) {
    if (s.deadline <= now && !Contains(d.expired, s.id)) {
      Fail(absl::StrCat("seq ", s.id, " past its deadline not expired"));
    }
    if (CanNeverFit(s, options_) && s.deadline > now &&
        std::none_of(d.rejected.begin(), d.rejected.end(),
                     [&](const Rejection& r) { return r.id == s.id; })) {
      Fail(absl::StrCat("seq ", s.id, " can never fit but was not rejected"));
    }
  }
  CheckShape(step, input);
}

// The ribbon's size: within the budget, aligned, rectangular in padded mode; and the number of
// sequences holding KV after the step within max_running_seqs.
void SimEngine::CheckShape(const SimStep& step, const SchedulerInput& input) {
  const ScheduleDecision& d = step.decision;
  int32_t real = 0;
  int32_t widest = 0;
  for (const ScheduledChunk& c : d.chunks) {
    real += c.num_tokens;
    widest = std::max({widest, c.num_tokens, c.padded_tokens});
  }
  const int32_t align = options_.sched.align;
  if (d.real_tokens != real) Fail("real_tokens is not the sum of the chunks");
  if (d.ribbon_rows % align != 0) Fail(absl::StrCat("rows ", d.ribbon_rows, " not aligned"));
  // Below one aligned group (only ever after the engine lowered it) padding may exceed it.
  const int32_t budget = std::max(align, EffectiveBudget(input, options_.sched.max_ribbon_tokens));
  if (d.ribbon_rows > budget) Fail(absl::StrCat("rows ", d.ribbon_rows, " over the budget"));
  if (options_.sched.mode == BatchingMode::kPacked && d.ribbon_rows != AlignUp(real, align)) {
    Fail(absl::StrCat("packed rows ", d.ribbon_rows, " for ", real, " real tokens"));
  }
  if (options_.sched.mode == BatchingMode::kPadded) {
    for (const ScheduledChunk& c : d.chunks) {
      if (c.padded_tokens != widest) Fail("padded batch is not rectangular");
    }
    const int32_t rect = static_cast<int32_t>(d.chunks.size()) * widest;
    if (d.ribbon_rows != AlignUp(rect, align)) Fail("padded rows are not B * Lmax aligned");
  }
  int32_t running_after = static_cast<int32_t>(step.admitted.size());
  for (const SeqState& s : input.seqs) {
    running_after += s.running && !Contains(d.preempted, s.id) && !Contains(d.expired, s.id);
  }
  if (running_after > options_.sched.max_running_seqs) {
    Fail(absl::StrCat(running_after, " running sequences"));
  }
}

// Aged requests (waiting max_wait_steps or more) are admitted first-come-first-served, and no
// other request is admitted while one of them is left waiting.
void SimEngine::CheckAging(const SimStep& step, const std::vector<SeqState>& seqs) {
  const ScheduleDecision& d = step.decision;
  const int64_t wait_limit = options_.sched.max_wait_steps;
  int64_t oldest_left_waiting = INT64_MAX;
  bool young_admitted = false;
  std::vector<int64_t> aged_admitted_since;
  for (const SeqState& s : seqs) {
    if (s.running || Contains(d.expired, s.id)) continue;
    if (std::any_of(d.rejected.begin(), d.rejected.end(),
                    [&](const Rejection& r) { return r.id == s.id; })) {
      continue;
    }
    const int64_t since = live_.at(s.id).waiting_since;
    const bool aged = step.step - since >= wait_limit;
    const bool admitted = Contains(step.admitted, s.id);
    if (aged && admitted) aged_admitted_since.push_back(since);
    if (aged && !admitted) oldest_left_waiting = std::min(oldest_left_waiting, since);
    young_admitted = young_admitted || (!aged && admitted);
  }
  if (oldest_left_waiting == INT64_MAX) return;
  if (young_admitted) Fail("a request was admitted while an aged one was left waiting");
  for (int64_t since : aged_admitted_since) {
    if (since > oldest_left_waiting) Fail("aged requests admitted out of order");
  }
}

void SimEngine::End(SeqId id, SimEnd end, int64_t step) {
  kv_.Free(id);
  records_[id].end = end;
  records_[id].ended_step = step;
  live_.erase(id);
}

void SimEngine::Apply(SimStep& step) {
  const ScheduleDecision& d = step.decision;
  for (SeqId id : d.expired) End(id, SimEnd::kExpired, step.step);
  for (const Rejection& r : d.rejected) {
    records_[r.id].status = r.status;
    End(r.id, SimEnd::kRejected, step.step);
  }
  for (SeqId id : d.preempted) {
    Live& l = live_.at(id);
    records_[id].discarded_tokens += l.state.num_computed;
    ++records_[id].preemptions;
    kv_.Free(id);
    l.state.num_computed = 0;
    l.state.running = false;
    l.waiting_since = step.step + 1;
  }
  for (const ScheduledChunk& c : d.chunks) {
    auto it = live_.find(c.id);
    if (it == live_.end()) continue;
    SeqState& s = it->second.state;
    SimRecord& rec = records_[c.id];
    const int32_t rows = std::max(c.num_tokens, c.padded_tokens);
    if (absl::Status st = kv_.EnsureCapacity(c.id, s.num_computed + rows); !st.ok()) {
      Fail(absl::StrCat("seq ", c.id, ": ", st.message()));
      continue;
    }
    if (!s.running) {
      rec.waits.push_back(step.step - it->second.waiting_since);
      if (rec.admitted_step < 0) rec.admitted_step = step.step;
      s.running = true;
    }
    s.num_computed += c.num_tokens;
    rec.computed_tokens += c.num_tokens;
    if (s.num_computed == s.num_tokens) {  // every known token computed: sample the next one
      ++rec.generated;
      ++s.num_tokens;
      if (rec.generated == rec.request.max_new_tokens) End(c.id, SimEnd::kFinished, step.step);
    }
  }
  for (auto& [id, l] : live_) l.state.blocks_held = kv_.BlocksHeld(id);
}

}  // namespace ribbon::sched::testing
