// cpu::ParallelItems really spreads a step's work over torch's intra-op threads. Its loops go
// through at::parallel_for, a header template that runs serially on the calling thread when the
// code calling it is compiled without OpenMP; ribbon's CPU runner was built that way until
// 2026-12-05 and ran every step on one core whatever model.num_threads said.
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/model/cpu_ops.h"

namespace ribbon::cpu {
namespace {

struct Record {
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::vector<int> runs;
};

void RunItems(Record& record, int64_t items, int64_t work_per_item) {
  record.runs.assign(items, 0);
  ParallelItems(items, work_per_item, [&](int64_t item) {
    // Long enough that a second thread is awake before the first has taken every item.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(record.mu);
    record.threads.insert(std::this_thread::get_id());
    ++record.runs[item];
  });
}

}  // namespace

TEST_CASE("ParallelItems runs every item once, on two threads when torch has two",
          "[model][threads]") {
  at::set_num_threads(2);
  REQUIRE(at::get_num_threads() == 2);
  Record record;
  RunItems(record, 64, int64_t{1} << 20);
  REQUIRE(record.runs == std::vector<int>(64, 1));
  REQUIRE(record.threads.size() == 2);
}

TEST_CASE("ParallelItems keeps small work on the calling thread", "[model][threads]") {
  at::set_num_threads(2);
  Record record;
  RunItems(record, 8, 1024);  // 8K of work: a fork and a barrier would cost more
  REQUIRE(record.runs == std::vector<int>(8, 1));
  REQUIRE(record.threads == std::set<std::thread::id>{std::this_thread::get_id()});
}

}  // namespace ribbon::cpu
