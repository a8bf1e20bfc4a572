// Simulated-clock scenarios for the "ffd" policy: the SimEngine (sim_engine.h) plays the engine,
// with the real BlockManager, and each scenario asserts what happens at which step.
#include "core/scheduler/ffd_scheduler.h"

#include <catch2/catch.hpp>
#include <map>

#include "core/scheduler/scheduler_factory.h"
#include "tests/core/scheduler/sim_engine.h"

namespace ribbon::sched {
namespace {

using testing::SimEnd;
using testing::SimEngine;
using testing::SimOptions;
using testing::SimRequest;

constexpr TimeNs kMs = 1'000'000;

SimOptions Options(int32_t budget, int32_t num_blocks, int32_t block_size) {
  SimOptions o;
  o.num_blocks = num_blocks;
  o.block_size = block_size;
  o.step_ns = kMs;
  o.sched.max_ribbon_tokens = budget;
  return o;
}

SimEngine Sim(const SimOptions& o, const char* policy = "ffd") {
  auto scheduler = MakeScheduler(policy, o.sched);
  REQUIRE(scheduler.ok());
  return SimEngine(o, std::move(*scheduler));
}

std::map<SeqId, int32_t> Tokens(const ScheduleDecision& d) {
  std::map<SeqId, int32_t> tokens;
  for (const ScheduledChunk& c : d.chunks) tokens[c.id] = c.num_tokens;
  return tokens;
}

std::map<SeqId, int32_t> Padded(const ScheduleDecision& d) {
  std::map<SeqId, int32_t> padded;
  for (const ScheduledChunk& c : d.chunks) padded[c.id] = c.padded_tokens;
  return padded;
}

TEST_CASE("a burst is packed First-Fit-Decreasing and the overflow is chunked", "[sched][ffd]") {
  SimEngine sim = Sim(Options(64, 64, 16));
  const SeqId a = sim.Submit({.prompt_len = 40});
  const SeqId b = sim.Submit({.prompt_len = 30});
  const SeqId c = sim.Submit({.prompt_len = 20});
  const SeqId d = sim.Submit({.prompt_len = 10});
  const SeqId e = sim.Submit({.prompt_len = 8});

  // 40 fits, 30 does not, 20 fits, 10 and 8 do not: the 4 tokens left go to the oldest unplaced.
  auto step0 = sim.Step();
  CHECK(Tokens(step0.decision) == std::map<SeqId, int32_t>{{a, 40}, {b, 4}, {c, 20}});
  CHECK(step0.decision.ribbon_rows == 64);
  // b's continuation first, then FFD: 26 + 10 + 8 = 44 real tokens, 48 rows at align 16.
  auto step1 = sim.Step();
  CHECK(Tokens(step1.decision) == std::map<SeqId, int32_t>{{b, 26}, {d, 10}, {e, 8}});
  CHECK(step1.decision.real_tokens == 44);
  CHECK(step1.decision.ribbon_rows == 48);
  CHECK(sim.record(d).admitted_step == 1);
  CHECK(sim.Idle());
  CHECK(sim.violation().empty());
}

TEST_CASE("align 1 runs exactly the real tokens", "[sched][ffd]") {
  SimOptions o = Options(64, 64, 16);
  o.sched.align = 1;
  SimEngine sim = Sim(o);
  sim.Submit({.prompt_len = 44});
  CHECK(sim.Step().decision.ribbon_rows == 44);
}

TEST_CASE("a prompt longer than the budget is chunked over steps", "[sched][ffd]") {
  SimEngine sim = Sim(Options(64, 64, 16));
  const SeqId id = sim.Submit({.prompt_len = 150, .max_new_tokens = 2});
  CHECK(Tokens(sim.Step().decision)[id] == 64);
  CHECK(Tokens(sim.Step().decision)[id] == 64);
  CHECK(Tokens(sim.Step().decision)[id] == 22);  // the prompt completes: first token sampled
  CHECK(Tokens(sim.Step().decision)[id] == 1);   // decode
  CHECK(sim.record(id).end == SimEnd::kFinished);
  CHECK(sim.record(id).ended_step == 3);
}

// Four 16-token prompts arrive every step and fill a 64-token ribbon exactly, so FFD alone would
// never make room for a 200-token prompt. Aging does, after max_wait_steps.
TEST_CASE("aging admits a long prompt among a stream of short ones", "[sched][ffd][aging]") {
  for (const bool aging : {true, false}) {
    SimOptions o = Options(64, 256, 16);
    o.sched.max_wait_steps = aging ? 4 : 1'000'000;
    SimEngine sim = Sim(o);
    const SeqId long_prompt = sim.Submit({.prompt_len = 200});
    for (int step = 0; step < 40; ++step) {
      for (int i = 0; i < 4; ++i) sim.Submit({.prompt_len = 16});
      sim.Step();
    }
    INFO("aging " << aging);
    if (aging) {
      CHECK(sim.record(long_prompt).admitted_step == 4);
      CHECK(sim.record(long_prompt).ended_step == 7);  // 64 + 64 + 64 + 8
    } else {
      CHECK(sim.record(long_prompt).admitted_step == -1);  // starved while the stream lasts
    }
    sim.RunUntilIdle(1000);
    CHECK(sim.Idle());
    CHECK(sim.violation().empty());
  }
}

TEST_CASE("a low-priority request is admitted after max_wait_steps of high-priority load",
          "[sched][ffd][priority]") {
  SimOptions o = Options(64, 64, 16);
  o.sched.max_running_seqs = 1;
  o.sched.max_wait_steps = 8;
  SimEngine sim = Sim(o);
  const SeqId low = sim.Submit({.prompt_len = 16, .priority = 0});
  std::vector<SeqId> high;
  for (int step = 0; step < 30; ++step) {
    high.push_back(sim.Submit({.prompt_len = 16, .priority = 5}));
    sim.Step();
  }
  for (int step = 0; step < 8; ++step) CHECK(sim.record(high[step]).admitted_step == step);
  CHECK(sim.record(low).admitted_step == 8);
  CHECK(sim.record(high[8]).admitted_step == 9);
  CHECK(sim.violation().empty());
}

TEST_CASE("equal priority runs earliest deadline first; a missed deadline expires",
          "[sched][ffd][deadline]") {
  SimOptions o = Options(64, 64, 16);
  o.sched.max_running_seqs = 1;
  SimEngine sim = Sim(o);
  const SeqId none = sim.Submit({.prompt_len = 16, .max_new_tokens = 3});
  const SeqId late = sim.Submit({.prompt_len = 16, .max_new_tokens = 3, .deadline = 100 * kMs});
  const SeqId soon = sim.Submit({.prompt_len = 16, .max_new_tokens = 3, .deadline = 50 * kMs});
  const SeqId doomed =
      sim.Submit({.prompt_len = 16, .max_new_tokens = 3, .priority = -1, .deadline = 4 * kMs});
  sim.RunUntilIdle(100);
  CHECK(sim.record(soon).admitted_step == 0);
  CHECK(sim.record(soon).ended_step == 2);
  CHECK(sim.record(late).admitted_step == 3);
  CHECK(sim.record(none).admitted_step == 6);
  CHECK(sim.record(doomed).end == SimEnd::kExpired);
  CHECK(sim.record(doomed).ended_step == 4);  // now = 4 ms reaches its deadline
  CHECK(sim.record(doomed).admitted_step == -1);
  CHECK(sim.violation().empty());
}

// Two sequences of 8 + 12 tokens in a pool of 8 blocks of 4 tokens: each fits alone (5 blocks),
// not both. At step 9 both cross into their 5th block; the younger one is preempted.
TEST_CASE("KV exhaustion preempts the youngest and it recomputes later", "[sched][ffd][kv]") {
  SimEngine sim = Sim(Options(64, 8, 4));
  const SeqId a = sim.Submit({.prompt_len = 8, .max_new_tokens = 12});
  const SeqId b = sim.Submit({.prompt_len = 8, .max_new_tokens = 12});
  for (int step = 0; step < 9; ++step) CHECK(sim.Step().decision.preempted.empty());
  CHECK(sim.Step().decision.preempted == std::vector<SeqId>{b});
  sim.RunUntilIdle(100);
  CHECK(sim.record(a).preemptions == 0);
  CHECK(sim.record(a).ended_step == 11);
  // b waits for a to finish (5 blocks + 1 of headroom do not fit beside a), then recomputes its
  // 8 prompt tokens and the 9 it had generated in one chunk, and decodes its last 2 tokens.
  CHECK(sim.record(b).admitted_step == 0);
  CHECK(sim.record(b).waits == std::vector<int64_t>{0, 2});
  CHECK(sim.record(b).ended_step == 14);
  CHECK(sim.record(b).discarded_tokens == 16);
  CHECK(sim.record(b).computed_tokens == (8 + 12 - 1) + 16);
  CHECK(sim.record(b).end == SimEnd::kFinished);
  CHECK(sim.violation().empty());
}

TEST_CASE("the victim is the lowest-ranked running sequence", "[sched][ffd][kv]") {
  for (const int32_t youngest_priority : {0, 1}) {
    SimEngine sim = Sim(Options(64, 12, 4));
    const SeqId a = sim.Submit({.prompt_len = 8, .max_new_tokens = 12});
    const SeqId b = sim.Submit({.prompt_len = 8, .max_new_tokens = 12});
    const SeqId c =
        sim.Submit({.prompt_len = 8, .max_new_tokens = 12, .priority = youngest_priority});
    sim.RunUntilIdle(200);
    INFO("priority of the youngest " << youngest_priority);
    const SeqId victim = youngest_priority == 0 ? c : b;
    CHECK(sim.record(a).preemptions == 0);
    CHECK(sim.record(victim).preemptions >= 1);
    CHECK(sim.record(victim == b ? c : b).preemptions == 0);
    for (SeqId id : {a, b, c}) CHECK(sim.record(id).end == SimEnd::kFinished);
    CHECK(sim.violation().empty());
  }
}

TEST_CASE("a pool that holds one full sequence still finishes everything", "[sched][ffd][kv]") {
  SimEngine sim = Sim(Options(64, 5, 4));
  std::vector<SeqId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(sim.Submit({.prompt_len = 8, .max_new_tokens = 12}));
  sim.RunUntilIdle(500);
  REQUIRE(sim.Idle());
  for (SeqId id : ids) CHECK(sim.record(id).end == SimEnd::kFinished);
  CHECK(sim.violation().empty());
}

TEST_CASE("a request that can never fit is rejected with the reason", "[sched][ffd][kv]") {
  SimOptions o = Options(64, 4, 16);
  o.sched.max_blocks_per_seq = 3;
  SimEngine sim = Sim(o);
  const SeqId too_big = sim.Submit({.prompt_len = 60, .max_new_tokens = 10});   // 5 blocks
  const SeqId too_long = sim.Submit({.prompt_len = 40, .max_new_tokens = 10});  // 4 blocks
  const SeqId fine = sim.Submit({.prompt_len = 20, .max_new_tokens = 4});
  auto step0 = sim.Step();
  CHECK(Tokens(step0.decision) == std::map<SeqId, int32_t>{{fine, 20}});
  CHECK(sim.record(too_big).end == SimEnd::kRejected);
  CHECK(sim.record(too_big).ended_step == 0);
  CHECK(absl::IsResourceExhausted(sim.record(too_big).status));
  CHECK_THAT(std::string(sim.record(too_big).status.message()),
             Catch::Contains("needs 5 KV blocks") && Catch::Contains("whole KV cache has 4"));
  CHECK_THAT(std::string(sim.record(too_long).status.message()),
             Catch::Contains("needs 4 KV blocks") && Catch::Contains("at most 3 (48 tokens)"));
  sim.RunUntilIdle(100);
  CHECK(sim.record(fine).end == SimEnd::kFinished);
  CHECK(sim.violation().empty());
}

TEST_CASE("padded mode runs [B, Lmax] prefixes of the same order", "[sched][padded]") {
  SimOptions o = Options(64, 64, 16);
  o.sched.mode = BatchingMode::kPadded;
  SimEngine sim = Sim(o);
  const SeqId a = sim.Submit({.prompt_len = 10, .max_new_tokens = 2});
  const SeqId b = sim.Submit({.prompt_len = 30, .max_new_tokens = 2});
  const SeqId c = sim.Submit({.prompt_len = 20, .max_new_tokens = 2});
  // 2 x 30 fits 64; 3 x 30 does not.
  auto step0 = sim.Step();
  CHECK(Tokens(step0.decision) == std::map<SeqId, int32_t>{{a, 10}, {b, 30}});
  CHECK(Padded(step0.decision) == std::map<SeqId, int32_t>{{a, 30}, {b, 30}});
  CHECK(step0.decision.ribbon_rows == 64);  // 60 aligned up
  // Two decodes and c's prompt: 3 x 20 = 60, the decodes padded to 20 rows each.
  auto step1 = sim.Step();
  CHECK(Tokens(step1.decision) == std::map<SeqId, int32_t>{{a, 1}, {b, 1}, {c, 20}});
  CHECK(Padded(step1.decision) == std::map<SeqId, int32_t>{{a, 20}, {b, 20}, {c, 20}});
  CHECK(step1.decision.real_tokens == 22);
  auto step2 = sim.Step();
  CHECK(Tokens(step2.decision) == std::map<SeqId, int32_t>{{c, 1}});
  CHECK(step2.decision.ribbon_rows == 16);
  CHECK(sim.Idle());
  CHECK(sim.violation().empty());
}

TEST_CASE("the same burst packed uses one ribbon where padded needed two", "[sched][padded]") {
  SimEngine sim = Sim(Options(64, 64, 16));
  sim.Submit({.prompt_len = 10});
  sim.Submit({.prompt_len = 30});
  sim.Submit({.prompt_len = 20});
  auto step0 = sim.Step();
  CHECK(step0.decision.real_tokens == 60);
  CHECK(step0.decision.ribbon_rows == 64);
  CHECK(sim.Idle());
}

TEST_CASE("a step budget lowered by the engine is respected", "[sched][ffd]") {
  SimEngine sim = Sim(Options(64, 64, 16));
  const SeqId id = sim.Submit({.prompt_len = 100});
  sim.set_token_budget(40);  // e.g. after an out-of-memory: 32 tokens once aligned
  auto lowered = sim.Step();
  CHECK(Tokens(lowered.decision)[id] == 32);
  CHECK(lowered.decision.ribbon_rows == 32);
  sim.set_token_budget(0);
  CHECK(Tokens(sim.Step().decision)[id] == 64);
  sim.set_token_budget(5);  // below one aligned group: one token, padded to 16 rows
  auto tiny = sim.Step();
  CHECK(Tokens(tiny.decision)[id] == 1);
  CHECK(tiny.decision.ribbon_rows == 16);
  CHECK(sim.violation().empty());
}

TEST_CASE("MakeScheduler validates its inputs", "[sched][factory]") {
  SchedulerOptions o;
  CHECK(MakeScheduler("ffd", o).ok());
  CHECK(MakeScheduler("fcfs", o).ok());
  const auto unknown = MakeScheduler("lifo", o);
  CHECK(absl::IsInvalidArgument(unknown.status()));
  CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("known: ffd, fcfs"));
  SchedulerOptions padded = o;
  padded.mode = BatchingMode::kPadded;
  CHECK(MakeScheduler("ffd", padded).ok());
  CHECK(absl::IsInvalidArgument(MakeScheduler("fcfs", padded).status()));
  SchedulerOptions bad = o;
  bad.align = 0;
  CHECK(absl::IsInvalidArgument(MakeScheduler("ffd", bad).status()));
  bad = o;
  bad.max_ribbon_tokens = 8;  // below one aligned group of 16
  CHECK_THAT(std::string(MakeScheduler("ffd", bad).status().message()),
             Catch::Contains("max_ribbon_tokens"));
  bad = o;
  bad.max_wait_steps = 0;
  CHECK(absl::IsInvalidArgument(MakeScheduler("ffd", bad).status()));
}

}  // namespace
}  // namespace ribbon::sched
