#include "core/metrics/metric.h"

namespace ribbon::metrics {

size_t NextShardIndex() {
  static std::atomic<size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) % kShards;
}

uint64_t Counter::Value() const {
  uint64_t total = 0;
  for (const Shard& shard : shards_) total += shard.value.load(std::memory_order_relaxed);
  return total;
}

void CallbackGauge::SetCallback(std::function<double()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callback_ = std::move(callback);
}

double CallbackGauge::Value() const {
  std::lock_guard<std::mutex> lock(mu_);
  return callback_ ? callback_() : 0.0;
}

namespace {

constexpr size_t kSlotsPerLine = kCacheLine / sizeof(std::atomic<uint64_t>);

size_t RoundUpToLine(size_t slots) {
  return (slots + kSlotsPerLine - 1) / kSlotsPerLine * kSlotsPerLine;
}

}  // namespace

void Histogram::AlignedDelete::operator()(std::atomic<uint64_t>* slots) const {
  ::operator delete[](slots, std::align_val_t{kCacheLine});
}

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds),
      sum_slot_(upper_bounds.size() + 1),
      stride_(RoundUpToLine(upper_bounds.size() + 2)) {
  const size_t total = stride_ * kShards;
  void* raw = ::operator new[](total * sizeof(std::atomic<uint64_t>), std::align_val_t{kCacheLine});
  auto* slots = static_cast<std::atomic<uint64_t>*>(raw);
  for (size_t i = 0; i < total; ++i) new (&slots[i]) std::atomic<uint64_t>(0);  // 0 bits == 0.0
  slots_.reset(slots);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bucket_counts.assign(upper_bounds_.size() + 1, 0);
  for (size_t shard = 0; shard < kShards; ++shard) {
    const std::atomic<uint64_t>* slots = ShardSlots(shard);
    for (size_t b = 0; b < snapshot.bucket_counts.size(); ++b) {
      snapshot.bucket_counts[b] += slots[b].load(std::memory_order_relaxed);
    }
    snapshot.sum += std::bit_cast<double>(slots[sum_slot_].load(std::memory_order_relaxed));
  }
  for (uint64_t bucket_count : snapshot.bucket_counts) snapshot.count += bucket_count;
  return snapshot;
}

}  // namespace ribbon::metrics
