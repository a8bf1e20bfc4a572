// The metric children of ribbon's Prometheus client: Counter, Gauge, Histogram, CallbackGauge.
// A child is one time series (one set of label values) of a family (see registry.h).
//
// Ownership: children are created and owned by their Family (hence by the Registry); their
// addresses never change, so the hot path looks a child up once and keeps the pointer.
// Threads: every method may be called from any thread, concurrently. Counter::Inc and
// Histogram::Observe update a per-thread shard with relaxed atomics (no lock, no allocation);
// Gauge::Set is one relaxed store. Readers (Value, Snapshot) sum the shards, so a reader racing
// writers sees each update either whole or not at all per shard, never a torn value.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <vector>

namespace ribbon::metrics {

// Shards per counter / histogram child. Threads are spread over them round-robin, so two hot
// threads never share a cache line unless more than kShards threads update the same child.
inline constexpr size_t kShards = 8;
inline constexpr size_t kCacheLine = 64;

// Hands out shard indices round-robin; each thread takes one the first time it records.
size_t NextShardIndex();

// The calling thread's shard index in [0, kShards).
inline size_t ThisThreadShard() {
  thread_local const size_t shard = NextShardIndex();
  return shard;
}

// A monotonically increasing integer count (Prometheus counter). Every catalogue counter counts
// discrete things (tokens, requests, steps), so the value is an exact integer.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(uint64_t amount = 1) {
    shards_[ThisThreadShard()].value.fetch_add(amount, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  struct alignas(kCacheLine) Shard {
    std::atomic<uint64_t> value{0};
  };
  Shard shards_[kShards];
};

// A value that goes up and down (Prometheus gauge). Not sharded: Set must be last-writer-wins.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A gauge whose value is computed at scrape time by a callback (e.g. from engine stats).
// The callback runs on the scraping thread, must be thread-safe and cheap, and must stay valid
// until it is replaced, cleared (SetCallback(nullptr)) or the registry is destroyed. With no
// callback the value is 0.
class CallbackGauge {
 public:
  CallbackGauge() = default;
  CallbackGauge(const CallbackGauge&) = delete;
  CallbackGauge& operator=(const CallbackGauge&) = delete;

  void SetCallback(std::function<double()> callback);
  double Value() const;

 private:
  mutable std::mutex mu_;  // scrape-time only; never on a hot path
  std::function<double()> callback_;
};

// Distribution of observed values over fixed upper bounds (Prometheus histogram).
class Histogram {
 public:
  // What a reader sees: non-cumulative counts per finite bucket plus one for +Inf, the sum of
  // observations, and the total count (always equal to the sum of the bucket counts).
  struct Snapshot {
    std::vector<uint64_t> bucket_counts;  // size = upper_bounds.size() + 1; last is (max, +Inf)
    double sum = 0.0;
    uint64_t count = 0;
  };

  // `upper_bounds`: strictly increasing finite values, validated by the Registry; the +Inf
  // bucket is implicit. The span must outlive the histogram (the family owns it).
  explicit Histogram(std::span<const double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records `value` `count` times (count > 1 records a value shared by several events at
  // once, e.g. a request's mean inter-token gap for each of its gaps). A value equal to a bound
  // falls in that bound's bucket (le = "less or equal"). NaN is dropped: it would turn _sum
  // into NaN for the lifetime of the process.
  void Observe(double value, uint64_t count = 1) {
    if (value != value || count == 0) return;
    std::atomic<uint64_t>* shard = ShardSlots(ThisThreadShard());
    shard[BucketIndex(value)].fetch_add(count, std::memory_order_relaxed);
    AddToSum(shard[sum_slot_], value * static_cast<double>(count));
  }

  Snapshot Read() const;
  std::span<const double> upper_bounds() const { return upper_bounds_; }

 private:
  struct AlignedDelete {
    void operator()(std::atomic<uint64_t>* slots) const;
  };

  // Index of the first bound >= value; upper_bounds_.size() (the +Inf bucket) if none.
  size_t BucketIndex(double value) const {
    return static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
                               upper_bounds_.begin());
  }
  std::atomic<uint64_t>* ShardSlots(size_t shard) const { return slots_.get() + shard * stride_; }
  // The sum is a double kept as its bit pattern so that it shares the shard's slot array. The
  // shard is almost always uncontended, so the compare-exchange loop runs once.
  static void AddToSum(std::atomic<uint64_t>& sum_bits, double delta) {
    uint64_t old_bits = sum_bits.load(std::memory_order_relaxed);
    while (!sum_bits.compare_exchange_weak(
        old_bits, std::bit_cast<uint64_t>(std::bit_cast<double>(old_bits) + delta),
        std::memory_order_relaxed)) {
    }
  }

  std::span<const double> upper_bounds_;
  size_t sum_slot_;  // slot index of the shard's sum (a double stored as its bits)
  size_t stride_;    // slots per shard, rounded up to whole cache lines
  std::unique_ptr<std::atomic<uint64_t>[], AlignedDelete> slots_;
};

}  // namespace ribbon::metrics
