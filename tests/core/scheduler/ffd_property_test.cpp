// Property tests of the "ffd" policy over thousands of random workloads, driven through the
// SimEngine (which checks every decision against the policy contract: each chunk within the
// sequence's uncomputed tokens, each sequence at most once, budget and alignment, decodes first,
// KV allocations that succeed, deadlines, rejections, max_running_seqs, aging order).
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/scheduler/scheduler_factory.h"
#include "tests/core/scheduler/sim_engine.h"

namespace ribbon::sched {
namespace {

using testing::SimEnd;
using testing::SimEngine;
using testing::SimOptions;
using testing::SimRecord;
using testing::SimRequest;

struct Arrival {
  int64_t step = 0;
  SimRequest request;
};

// From `step` on the engine passes `token_budget` (0 = none) as SchedulerInput::token_budget,
// as it does after an out-of-memory.
struct BudgetChange {
  int64_t step = 0;
  int32_t token_budget = 0;
};

struct Workload {
  SimOptions options;
  std::vector<Arrival> arrivals;             // by step
  std::vector<BudgetChange> budget_changes;  // by step
};

int32_t Pick(std::mt19937& rng, int32_t lo, int32_t hi) {
  return std::uniform_int_distribution<int32_t>(lo, hi)(rng);
}

bool Chance(std::mt19937& rng, double p) { return std::bernoulli_distribution(p)(rng); }

int32_t BlocksOf(const SimRequest& r, int32_t block_size) {
  return BlocksFor(r.prompt_len + r.max_new_tokens, block_size);
}

std::vector<Arrival> RandomArrivals(std::mt19937& rng, const SimOptions& o) {
  std::vector<Arrival> arrivals(Pick(rng, 1, 30));
  const bool priorities = Chance(rng, 0.3);
  for (Arrival& a : arrivals) {
    a.step = Pick(rng, 0, 40);
    a.request.prompt_len = Chance(rng, 0.5) ? Pick(rng, 1, 32) : Pick(rng, 1, 300);
    a.request.max_new_tokens = Pick(rng, 1, 20);
    a.request.priority = priorities ? Pick(rng, 0, 2) : 0;
    if (Chance(rng, 0.15)) a.request.deadline = (a.step + Pick(rng, 1, 100)) * o.step_ns;
  }
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.step < b.step; });
  return arrivals;
}

Workload RandomWorkload(std::mt19937& rng) {
  Workload w;
  SimOptions& o = w.options;
  o.block_size = std::vector<int32_t>{1, 4, 16}[Pick(rng, 0, 2)];
  o.sched.align = std::vector<int32_t>{1, 8, 16}[Pick(rng, 0, 2)];
  o.sched.max_ribbon_tokens = Pick(rng, 16, 256);
  o.sched.max_running_seqs = Pick(rng, 1, 24);
  o.sched.max_wait_steps = Pick(rng, 1, 16);
  o.sched.kv_headroom_blocks_per_seq = Pick(rng, 0, 2);
  o.sched.mode = Chance(rng, 0.3) ? BatchingMode::kPadded : BatchingMode::kPacked;
  if (Chance(rng, 0.2)) o.sched.max_blocks_per_seq = Pick(rng, 2, 30);
  w.arrivals = RandomArrivals(rng, o);
  if (Chance(rng, 0.2)) {
    for (int64_t step = 0; step < 60; step += Pick(rng, 1, 30)) {
      w.budget_changes.push_back(
          {step, Chance(rng, 0.3) ? 0 : Pick(rng, 1, o.sched.max_ribbon_tokens)});
    }
  }
  int32_t largest = 1;
  int32_t total = 0;
  for (const Arrival& a : w.arrivals) {
    largest = std::max(largest, BlocksOf(a.request, o.block_size));
    total += BlocksOf(a.request, o.block_size);
  }
  // Mostly tight pools (preemption, requests that never fit), some ample ones.
  o.num_blocks = Chance(rng, 0.25) ? total : Pick(rng, std::max(1, largest / 2), 2 * largest);
  return w;
}

// Runs the workload to the end; returns "" or what went wrong.
std::string Run(const Workload& w, SimEngine& sim, int64_t max_steps) {
  size_t next = 0;
  size_t next_change = 0;
  for (int64_t step = 0; step < max_steps; ++step) {
    while (next_change < w.budget_changes.size() && w.budget_changes[next_change].step <= step) {
      sim.set_token_budget(w.budget_changes[next_change++].token_budget);
    }
    while (next < w.arrivals.size() && w.arrivals[next].step <= step) {
      sim.Submit(w.arrivals[next++].request);
    }
    if (next == w.arrivals.size() && sim.Idle()) return sim.violation();
    sim.Step();
  }
  return "still busy after " + std::to_string(max_steps) + " steps: " + sim.violation();
}

// "" if every request ended as it must and no token was lost or computed twice.
std::string CheckOutcomes(const SimEngine& sim, const SimOptions& o) {
  for (const auto& [id, rec] : sim.records()) {
    const SimRequest& r = rec.request;
    const std::string who = "request " + std::to_string(id) + ": ";
    const bool never_fits =
        BlocksOf(r, o.block_size) > o.num_blocks ||
        (o.sched.max_blocks_per_seq > 0 && BlocksOf(r, o.block_size) > o.sched.max_blocks_per_seq);
    if (rec.end == SimEnd::kLive) return who + "never ended";
    if (never_fits != (rec.end == SimEnd::kRejected)) return who + "wrongly (not) rejected";
    if (rec.end == SimEnd::kExpired && r.deadline == kNoDeadline) return who + "expired";
    if (rec.end != SimEnd::kFinished) continue;
    if (rec.generated != r.max_new_tokens) return who + "wrong number of tokens generated";
    // Every token but the last sampled one goes through the model once, plus what preemption
    // threw away: nothing lost, nothing computed twice.
    if (rec.computed_tokens != r.prompt_len + r.max_new_tokens - 1 + rec.discarded_tokens) {
      return who + "computed " + std::to_string(rec.computed_tokens) + " tokens";
    }
  }
  return "";
}

TEST_CASE("random workloads: contract, no token lost or duplicated, everything ends",
          "[sched][property]") {
  std::mt19937 rng(12345);
  int preempted = 0;
  int rejected = 0;
  int expired = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const Workload w = RandomWorkload(rng);
    auto scheduler = MakeScheduler("ffd", w.options.sched);
    REQUIRE(scheduler.ok());
    SimEngine sim(w.options, std::move(*scheduler));
    INFO("trial " << trial);
    REQUIRE(Run(w, sim, 50'000) == "");
    REQUIRE(CheckOutcomes(sim, w.options) == "");
    for (const auto& [id, rec] : sim.records()) {
      preempted += rec.preemptions > 0;
      rejected += rec.end == SimEnd::kRejected;
      expired += rec.end == SimEnd::kExpired;
    }
  }
  // The random cases did reach the hard paths.
  CHECK(preempted > 100);
  CHECK(rejected > 100);
  CHECK(expired > 100);
}

// With no KV pressure, fewer running sequences than the token budget and at most one arrival per
// step, every request is admitted at most max_wait_steps steps after it arrives, however the
// sizes and priorities would have FFD order things.
TEST_CASE("starvation bound: admitted within max_wait_steps under sustained load",
          "[sched][property][aging]") {
  std::mt19937 rng(777);
  int64_t longest_wait = 0;
  for (int trial = 0; trial < 500; ++trial) {
    Workload w;
    SimOptions& o = w.options;
    o.block_size = 16;
    o.sched.max_ribbon_tokens = Pick(rng, 64, 256);
    o.sched.max_running_seqs = o.sched.max_ribbon_tokens - 1;
    o.sched.max_wait_steps = Pick(rng, 1, 16);
    const double load = std::uniform_real_distribution<double>(0.3, 1.0)(rng);
    const int32_t n = Pick(rng, 10, 60);
    for (int64_t step = 0; static_cast<int32_t>(w.arrivals.size()) < n; ++step) {
      if (!Chance(rng, load)) continue;
      SimRequest r{.prompt_len = Pick(rng, 1, 3 * o.sched.max_ribbon_tokens),
                   .max_new_tokens = Pick(rng, 1, 8),
                   .priority = Pick(rng, 0, 3)};
      w.arrivals.push_back({step, r});
    }
    o.num_blocks = 0;
    for (const Arrival& a : w.arrivals) o.num_blocks += BlocksOf(a.request, o.block_size) + 1;
    auto scheduler = MakeScheduler("ffd", o.sched);
    REQUIRE(scheduler.ok());
    SimEngine sim(o, std::move(*scheduler));
    INFO("trial " << trial);
    REQUIRE(Run(w, sim, 50'000) == "");
    for (const auto& [id, rec] : sim.records()) {
      REQUIRE(rec.preemptions == 0);
      REQUIRE(rec.waits.size() == 1);
      REQUIRE(rec.waits[0] <= o.sched.max_wait_steps);
      longest_wait = std::max(longest_wait, rec.waits[0]);
    }
  }
  CHECK(longest_wait >= 8);  // requests did wait: the bound, not an empty queue, held them
}

// The foundation's baseline keeps the same contract (it has no aging to check).
TEST_CASE("random workloads: the fcfs baseline keeps the contract too", "[sched][property]") {
  std::mt19937 rng(54321);
  for (int trial = 0; trial < 1000; ++trial) {
    Workload w = RandomWorkload(rng);
    w.options.sched.mode = BatchingMode::kPacked;
    w.options.check_aging = false;
    auto scheduler = MakeScheduler("fcfs", w.options.sched);
    REQUIRE(scheduler.ok());
    SimEngine sim(w.options, std::move(*scheduler));
    INFO("trial " << trial);
    REQUIRE(Run(w, sim, 50'000) == "");
    REQUIRE(CheckOutcomes(sim, w.options) == "");
  }
}

}  // namespace
}  // namespace ribbon::sched
