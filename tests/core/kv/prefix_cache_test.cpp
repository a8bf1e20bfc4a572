// Prefix caching in the BlockManager: sharing by reference count, eviction least recently used
// and never of a referenced block, collisions that cannot alias (hashes cut to 2 bits here), and
// random operations that keep every invariant.
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "core/kv/block_manager.h"

namespace ribbon::testing {
namespace {

std::vector<int32_t> Tokens(int n, int32_t seed) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(seed * 1000 + i);
  return t;
}

// Every block is free (never hashed, unreferenced), cached-idle, or referenced, and the
// reference counts equal the number of tables holding each block.
void CheckInvariants(const BlockManager& m, const std::map<uint64_t, bool>& live) {
  std::vector<int32_t> refs(m.total_blocks(), 0);
  for (const auto& [id, unused] : live)
    for (int32_t b : m.BlockTable(id)) ++refs[b];
  int32_t unreferenced = 0;
  for (int32_t b = 0; b < m.total_blocks(); ++b) {
    REQUIRE(m.RefCount(b) == refs[b]);
    unreferenced += refs[b] == 0 ? 1 : 0;
  }
  REQUIRE(m.free_blocks() == unreferenced);
}

}  // namespace

TEST_CASE("a published prefix is shared, stays cached when released, and is evicted last") {
  BlockManager m({.num_blocks = 8, .block_size = 4});
  const uint64_t root = BlockManager::RootHash("");
  const auto a = Tokens(10, 1);  // two full blocks and a partial one
  REQUIRE(m.EnsureCapacity(1, 10).ok());
  m.Publish(1, a, 10, root);
  CHECK(m.cached_blocks() == 2);
  // A second sequence with the same first 8 tokens reuses both blocks.
  CHECK(m.Peek(a, root, 2) == 2);
  CHECK(m.Match(2, a, root, 2) == 2);
  CHECK(m.BlockTable(2)[0] == m.BlockTable(1)[0]);
  CHECK(m.RefCount(m.BlockTable(1)[0]) == 2);
  CHECK(m.ExclusiveBlocks(1) == 1);  // its partial third block
  m.Free(1);
  m.Free(2);
  CHECK(m.free_blocks() == 8);  // evictable blocks count as free
  CHECK(m.cached_blocks() == 2);
  // Another salt finds nothing.
  CHECK(m.Peek(a, BlockManager::RootHash("tenant-b"), 2) == 0);
  // Taking all 8 blocks evicts the cached ones only after the never-hashed ones.
  REQUIRE(m.EnsureCapacity(3, 6 * 4).ok());
  CHECK(m.cached_blocks() == 2);
  REQUIRE(m.EnsureCapacity(4, 2 * 4).ok());
  CHECK(m.cached_blocks() == 0);
  CHECK(m.evictions() == 2);
}

TEST_CASE("colliding hashes never alias: the match compares token ids") {
  BlockManager m({.num_blocks = 64, .block_size = 4, .hash_bits = 2});
  const uint64_t root = BlockManager::RootHash("");
  for (int32_t s = 0; s < 8; ++s) {
    const auto t = Tokens(8, s);
    REQUIRE(m.EnsureCapacity(s, 8).ok());
    m.Publish(s, t, 8, root);
  }
  for (int32_t s = 0; s < 8; ++s) {
    const auto t = Tokens(8, s);
    REQUIRE(m.Match(100 + s, t, root, 2) == 2);
    CHECK(m.BlockTable(100 + s)[0] == m.BlockTable(s)[0]);
    CHECK(m.BlockTable(100 + s)[1] == m.BlockTable(s)[1]);
  }
  CHECK(m.Peek(Tokens(8, 99), root, 2) == 0);
}

TEST_CASE("random operations keep every invariant; eviction never takes a referenced block") {
  std::mt19937 rng(20261204);
  BlockManager m({.num_blocks = 48, .block_size = 4, .hash_bits = 3});
  const uint64_t root = BlockManager::RootHash("");
  std::map<uint64_t, bool> live;  // sequences holding blocks
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, int32_t> computed;
  uint64_t next = 1;
  for (int op = 0; op < 20000; ++op) {
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0 || live.empty()) {  // a new sequence: a shared prefix, maybe matched
      const uint64_t id = next++;
      std::vector<int32_t> t =
          Tokens(4 * static_cast<int>(rng() % 4), static_cast<int32_t>(rng() % 3));
      for (int i = 0; i < 1 + static_cast<int>(rng() % 9); ++i)
        t.push_back(static_cast<int32_t>(rng() % 5));
      const int32_t matched = m.Match(id, t, root, (static_cast<int32_t>(t.size()) - 1) / 4);
      if (!m.EnsureCapacity(id, static_cast<int32_t>(t.size())).ok()) {
        m.Free(id);
        continue;
      }
      // Matched blocks hold exactly the tokens they stand for.
      for (int32_t b = 0; b < matched; ++b) CHECK(m.IsCached(m.BlockTable(id)[b]));
      live[id] = true;
      tokens[id] = t;
      computed[id] = matched * 4;
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      const uint64_t id = it->first;
      if (kind == 1) {  // the sequence computes the rest and publishes
        computed[id] = static_cast<int32_t>(tokens[id].size());
        m.Publish(id, tokens[id], computed[id], root);
      } else if (kind == 2) {
        m.Free(id);
        live.erase(id);
      } else if (rng() % 50 == 0) {
        m.DropCached();
      }
    }
    CheckInvariants(m, live);
  }
  for (const auto& [id, unused] : std::map<uint64_t, bool>(live)) m.Free(id);
  live.clear();
  CheckInvariants(m, live);
  CHECK(m.free_blocks() == m.total_blocks());
  for (int32_t b = 0; b < m.total_blocks(); ++b) CHECK(m.RefCount(b) == 0);
}

}  // namespace ribbon::testing
