#include "core/kv/block_manager.h"

#include <catch2/catch.hpp>
#include <set>

using ribbon::BlockManager;

TEST_CASE("blocks are handed out and returned", "[kv]") {
  BlockManager bm({.num_blocks = 8, .block_size = 16});
  REQUIRE(bm.free_blocks() == 8);
  REQUIRE(bm.EnsureCapacity(1, 17).ok());
  REQUIRE(bm.BlocksHeld(1) == 2);
  REQUIRE(bm.free_blocks() == 6);
  REQUIRE(bm.EnsureCapacity(1, 32).ok());  // already fits
  REQUIRE(bm.free_blocks() == 6);
  REQUIRE(bm.EnsureCapacity(2, 16 * 6).ok());
  REQUIRE(bm.free_blocks() == 0);
  std::set<int32_t> all;
  for (auto id : {1, 2})
    for (int32_t b : bm.BlockTable(id)) all.insert(b);
  REQUIRE(all.size() == 8);  // no block given twice
  bm.Free(1);
  REQUIRE(bm.free_blocks() == 2);
  bm.Free(1);  // idempotent
  REQUIRE(bm.free_blocks() == 2);
}

TEST_CASE("exhaustion is all-or-nothing", "[kv]") {
  BlockManager bm({.num_blocks = 4, .block_size = 16});
  REQUIRE(bm.EnsureCapacity(1, 16).ok());
  const auto status = bm.EnsureCapacity(2, 16 * 4);
  REQUIRE(absl::IsResourceExhausted(status));
  REQUIRE(bm.free_blocks() == 3);
  REQUIRE(bm.BlocksHeld(2) == 0);
}

TEST_CASE("slots follow the block table", "[kv]") {
  BlockManager bm({.num_blocks = 4, .block_size = 4});
  REQUIRE(bm.EnsureCapacity(7, 10).ok());
  const auto table = bm.BlockTable(7);
  REQUIRE(table.size() == 3);
  for (int32_t p = 0; p < 10; ++p) REQUIRE(bm.Slot(7, p) == table[p / 4] * 4 + p % 4);
}
