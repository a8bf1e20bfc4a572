// PackFfd, PackPadded and PackInOrder on hand-made candidates.
#include "core/scheduler/packer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <random>
#include <vector>

namespace ribbon::sched {
namespace {

SeqState Seq(SeqId id, int32_t num_tokens, int32_t num_computed = 0, int32_t priority = 0) {
  return {.id = id,
          .prompt_len = num_tokens,
          .num_tokens = num_tokens,
          .num_computed = num_computed,
          .max_total_tokens = num_tokens + 16,
          .blocks_held = BlocksFor(num_computed, 16),
          .priority = priority,
          .running = num_computed > 0};
}

using Chunks = std::vector<std::pair<SeqId, int32_t>>;

Chunks Of(const Packing& p) {
  Chunks out;
  for (const ScheduledChunk& c : p.chunks) out.emplace_back(c.id, c.num_tokens);
  return out;
}

TEST_CASE("FFD fills each priority class largest first, then chunks the oldest leftover",
          "[sched][packer]") {
  const SeqState low_big = Seq(1, 40, 0, 0);
  const SeqState high_small = Seq(2, 20, 0, 1);
  const SeqState high_big = Seq(3, 30, 0, 1);
  const std::vector<Candidate> prefills{
      {&low_big, 40, false}, {&high_small, 20, false}, {&high_big, 30, false}};
  const Packing p = PackFfd({.prefills = prefills, .token_budget = 64, .align = 16});
  CHECK(Of(p) == Chunks{{3, 30}, {2, 20}, {1, 14}});
  CHECK(p.real_tokens == 64);
  CHECK(p.ribbon_rows == 64);
}

TEST_CASE("decodes come first, then pinned prompts before FFD", "[sched][packer]") {
  const SeqState d1 = Seq(1, 9, 8);
  const SeqState d2 = Seq(2, 9, 8);
  const SeqState pinned = Seq(3, 100);
  const SeqState small = Seq(4, 10);
  const std::vector<const SeqState*> decodes{&d1, &d2};
  const std::vector<Candidate> prefills{{&pinned, 100, true}, {&small, 10, false}};
  const Packing p =
      PackFfd({.decodes = decodes, .prefills = prefills, .token_budget = 32, .align = 8});
  CHECK(Of(p) == Chunks{{1, 1}, {2, 1}, {3, 30}});
  const Packing tight = PackFfd({.decodes = decodes, .prefills = prefills, .token_budget = 1});
  CHECK(Of(tight) == Chunks{{1, 1}});
}

// A prefill-only batch packed step after step as the engine does (a cut prompt continues pinned
// at the front of the next ribbon), with every prompt admitted: the ribbons used.
int32_t RibbonsForBatch(const std::vector<int32_t>& lens, int32_t budget) {
  std::vector<SeqState> seqs;
  std::vector<int32_t> left = lens;
  for (size_t i = 0; i < lens.size(); ++i) seqs.push_back(Seq(static_cast<SeqId>(i), lens[i]));
  int32_t ribbons = 0;
  while (std::accumulate(left.begin(), left.end(), 0) > 0) {
    std::vector<Candidate> prefills;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (left[i] > 0) prefills.push_back({&seqs[i], left[i], left[i] < lens[i]});
    }
    std::stable_partition(prefills.begin(), prefills.end(),
                          [](const Candidate& c) { return c.pinned; });
    const Packing p = PackFfd({.prefills = prefills, .token_budget = budget, .align = 1});
    REQUIRE(p.real_tokens > 0);
    for (const ScheduledChunk& c : p.chunks) left[c.id] -= c.num_tokens;
    ++ribbons;
  }
  return ribbons;
}

TEST_CASE("a prefill-only batch packed step by step needs exactly ceil(tokens / budget) ribbons",
          "[sched][packer]") {
  // FFD alone can need up to 11/9 OPT + 6/9 ribbons; cutting the first prompt that does not fit
  // into the space left fills every ribbon but the last, which no plan can beat.
  std::mt19937 rng(20240611);
  for (int trial = 0; trial < 3000; ++trial) {
    const int32_t budget = std::uniform_int_distribution<int32_t>(8, 100)(rng);
    const size_t n = std::uniform_int_distribution<size_t>(1, 40)(rng);
    std::uniform_int_distribution<int32_t> size(1, trial % 2 ? 3 * budget : budget / 2 + 1);
    std::vector<int32_t> lens(n);
    for (auto& len : lens) len = size(rng);
    const int32_t total = std::accumulate(lens.begin(), lens.end(), 0);
    INFO("trial " << trial << " budget " << budget);
    CHECK(RibbonsForBatch(lens, budget) == (total + budget - 1) / budget);
  }
}

TEST_CASE("the rows are the real tokens aligned up", "[sched][packer]") {
  const SeqState s = Seq(1, 17);
  const std::vector<Candidate> prefills{{&s, 17, false}};
  CHECK(PackFfd({.prefills = prefills, .token_budget = 64, .align = 16}).ribbon_rows == 32);
  CHECK(PackFfd({.prefills = prefills, .token_budget = 64, .align = 1}).ribbon_rows == 17);
  CHECK(PackFfd({.token_budget = 64, .align = 16}).ribbon_rows == 0);
}

TEST_CASE("padded batches stop where the padded KV would not fit", "[sched][packer]") {
  // A decode at 15 computed tokens holds 1 block; padded to 20 rows it needs 3 blocks (2 more).
  const SeqState decode = Seq(1, 16, 15);
  const SeqState prompt = Seq(2, 20);
  const std::vector<const SeqState*> decodes{&decode};
  const std::vector<Candidate> prefills{{&prompt, 20, false}};
  PackInput in{.decodes = decodes,
               .prefills = prefills,
               .token_budget = 64,
               .align = 1,
               .kv_free_blocks = 4,
               .block_size = 16};
  const Packing fits = PackPadded(in);
  CHECK(Of(fits) == Chunks{{1, 1}, {2, 20}});  // 2 + 2 blocks
  CHECK(fits.chunks[0].padded_tokens == 20);
  CHECK(fits.ribbon_rows == 40);
  in.kv_free_blocks = 3;
  CHECK(Of(PackPadded(in)) == Chunks{{1, 1}});
  in.kv_free_blocks = 4;
  in.max_blocks_per_seq = 2;  // the decode padded to 35 tokens would need 3
  CHECK(Of(PackPadded(in)) == Chunks{{1, 1}});
}

TEST_CASE("a padded batch leading with a long prompt chunks it to the budget", "[sched][packer]") {
  const SeqState big = Seq(1, 100);
  const SeqState small = Seq(2, 4);
  const std::vector<Candidate> prefills{{&big, 100, true}, {&small, 4, false}};
  const Packing p =
      PackPadded({.prefills = prefills, .token_budget = 64, .align = 16, .kv_free_blocks = 100});
  CHECK(Of(p) == Chunks{{1, 64}});
  CHECK(p.ribbon_rows == 64);
}

TEST_CASE("in-order packing chunks the head of the queue and lets nobody overtake it",
          "[sched][packer]") {
  const SeqState decode = Seq(9, 11, 10);
  const SeqState first = Seq(1, 40), second = Seq(2, 30), third = Seq(3, 5);
  const std::vector<const SeqState*> decodes{&decode};
  const std::vector<Candidate> prefills{{&first, 40}, {&second, 30}, {&third, 5}};
  Packing p =
      PackInOrder({.decodes = decodes, .prefills = prefills, .token_budget = 64, .align = 16});
  CHECK(Of(p) == Chunks{{9, 1}, {1, 40}, {2, 23}});  // third (5 tokens) would fit FFD-style
  CHECK(p.ribbon_rows == 64);
  p = PackInOrder({.decodes = decodes, .prefills = prefills, .token_budget = 1, .align = 16});
  CHECK(Of(p) == Chunks{{9, 1}});
}

}  // namespace
}  // namespace ribbon::sched
