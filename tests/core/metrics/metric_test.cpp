#include "core/metrics/metric.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics/buckets.h"
#include "core/metrics/registry.h"

namespace ribbon::metrics {
namespace {

const std::vector<double> kBounds = {1.0, 2.0, 5.0};

// The value on the line starting with `series` + " " in a scrape, or -1 if there is none.
double SampleValue(const std::string& scrape, const std::string& series) {
  const std::string prefix = series + " ";
  size_t at = scrape.find(prefix);
  if (at == std::string::npos || (at > 0 && scrape[at - 1] != '\n')) return -1;
  return std::stod(scrape.substr(at + prefix.size()));
}

TEST_CASE("a value equal to a bound falls in that bound's bucket") {
  Histogram h(kBounds);
  h.Observe(1.0);
  h.Observe(2.0);
  h.Observe(5.0);
  CHECK(h.Read().bucket_counts == std::vector<uint64_t>{1, 1, 1, 0});
}

TEST_CASE("values between, below and above the bounds go to the right buckets") {
  Histogram h(kBounds);
  h.Observe(-3.0);
  h.Observe(0.0);
  h.Observe(1.0000001);
  h.Observe(4.999);
  h.Observe(5.0000001);
  h.Observe(1e12);
  h.Observe(INFINITY);
  const Histogram::Snapshot s = h.Read();
  CHECK(s.bucket_counts == std::vector<uint64_t>{2, 1, 1, 3});
  CHECK(s.count == 7);
  CHECK(std::isinf(s.sum));
}

TEST_CASE("observing with a count records the value that many times") {
  Histogram h(kBounds);
  h.Observe(1.5, 4);
  h.Observe(0.5);
  h.Observe(3.0, 0);  // nothing
  const Histogram::Snapshot s = h.Read();
  CHECK(s.bucket_counts == std::vector<uint64_t>{1, 4, 0, 0});
  CHECK(s.count == 5);
  CHECK(s.sum == 6.5);
}

TEST_CASE("NaN observations are dropped so the sum stays usable") {
  Histogram h(kBounds);
  h.Observe(NAN);
  h.Observe(2.0);
  const Histogram::Snapshot s = h.Read();
  CHECK(s.count == 1);
  CHECK(s.sum == 2.0);
}

TEST_CASE("a histogram without finite bounds has only the +Inf bucket") {
  Histogram h(std::span<const double>{});
  h.Observe(7.0);
  CHECK(h.Read().bucket_counts == std::vector<uint64_t>{1});
}

TEST_CASE("bucket generators") {
  CHECK(OneTwoFiveBuckets(100) == std::vector<double>{1, 2, 5, 10, 20, 50, 100});
  CHECK(OneTwoFiveBuckets(4096) ==
        std::vector<double>{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000});
  CHECK(OneTwoFiveBuckets(0).empty());
  CHECK(ExponentialBuckets(1, 2, 5) == std::vector<double>{1, 2, 4, 8, 16});
}

TEST_CASE("many threads incrementing one counter give the exact total") {
  Counter counter;
  constexpr int kThreads = 16;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter, t] {
      for (int i = 0; i < kPerThread; ++i) counter.Inc(t % 2 == 0 ? 1 : 3);
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(counter.Value() == uint64_t{kThreads / 2} * kPerThread * (1 + 3));
}

TEST_CASE("many threads observing one histogram give exact counts and sum") {
  Histogram h(kBounds);
  constexpr int kThreads = 12;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      // Each thread observes one value; small integers add exactly in a double.
      const double value = static_cast<double>(t % 4) * 2.0;  // 0, 2, 4, 6
      for (int i = 0; i < kPerThread; ++i) h.Observe(value);
    });
  }
  for (auto& thread : threads) thread.join();
  const Histogram::Snapshot s = h.Read();
  const uint64_t per_value = uint64_t{kThreads / 4} * kPerThread;
  CHECK(s.bucket_counts == std::vector<uint64_t>{per_value, per_value, per_value, per_value});
  CHECK(s.count == 4 * per_value);
  CHECK(s.sum == static_cast<double>(per_value) * (0 + 2 + 4 + 6));
}

TEST_CASE("scrapes running alongside writers and new children see consistent histograms") {
  Registry registry;
  auto family = registry.AddHistogram({"h_seconds", "x", {"worker"}}, {1.0});
  REQUIRE(family.ok());
  constexpr int kWriters = 4;
  constexpr int kMinObservations = 20000;
  constexpr int kMinScrapes = 20;
  // Catch2 assertions are not thread-safe: threads count failures, the test thread checks them.
  // Writers keep going until the scraper has scraped kMinScrapes times, so the two overlap
  // however the threads are scheduled; each writer reports how much it observed.
  std::atomic<int> scrapes{0};
  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0};
  std::vector<int> observed(kWriters, 0);
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      Histogram* mine = *(*family)->WithLabels({std::to_string(t)});
      int i = 0;
      for (; i < kMinObservations || scrapes.load() < kMinScrapes; ++i) {
        mine->Observe(0.5);
        if (i % 1000 == 0 && !(*family)->WithLabels({std::to_string(t * 1000000 + i)}).ok()) {
          ++failures;
        }
      }
      observed[t] = i;
    });
  }
  std::thread scraper([&] {
    double last_count = -1;
    while (!writers_done.load()) {
      const std::string text = registry.Serialize();
      if (text.find("# TYPE h_seconds histogram") == std::string::npos) ++failures;
      // A series only ever grows, and +Inf always equals _count within one scrape.
      const double count = SampleValue(text, "h_seconds_count{worker=\"0\"}");
      const double inf = SampleValue(text, "h_seconds_bucket{worker=\"0\",le=\"+Inf\"}");
      if (count < last_count || count != inf) ++failures;
      last_count = count;
      ++scrapes;
    }
  });
  for (auto& writer : writers) writer.join();
  writers_done = true;
  scraper.join();
  CHECK(failures == 0);
  CHECK(scrapes >= kMinScrapes);
  for (int t = 0; t < kWriters; ++t) {
    const Histogram::Snapshot s = (*(*family)->WithLabels({std::to_string(t)}))->Read();
    CHECK(observed[t] >= kMinObservations);
    CHECK(s.count == static_cast<uint64_t>(observed[t]));
    CHECK(s.bucket_counts[0] == static_cast<uint64_t>(observed[t]));
    CHECK(s.sum == 0.5 * observed[t]);
  }
}

TEST_CASE("threads are spread over the shards") {
  std::vector<size_t> shards(kShards);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kShards; ++t) {
    threads.emplace_back([&shards, t] { shards[t] = ThisThreadShard(); });
  }
  for (auto& thread : threads) thread.join();
  std::sort(shards.begin(), shards.end());
  // Round-robin: kShards consecutive new threads take kShards distinct shards.
  for (size_t i = 0; i < kShards; ++i) CHECK(shards[i] == i);
}

}  // namespace
}  // namespace ribbon::metrics
