// The device sampler's row algorithm (kernels/cuda/sampling_row.h) and arithmetic
// (kernels/cuda/sampling_math.h), run on the CPU against the host sampler: same Philox draws,
// same exp weights bit for bit, same tokens, with a one-thread block and with a block of real
// threads (so chunk boundaries, scans, the shared histogram and cross-thread reductions are
// exercised as on the GPU). The kernel runs the same code with 512 threads per row;
// tests/kernels/cuda_sampling_test.cpp checks it on a GPU.
#include <atomic>
#include <barrier>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "core/sampling/philox.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cuda/sampling_math.h"
#include "kernels/cuda/sampling_row.h"
#include "tests/kernels/sampling_cases.h"

namespace ribbon {
namespace {

namespace ks = kernels::sampling;

TEST_CASE("device Philox draw equals the host's", "[sampling]") {
  std::mt19937_64 rng(7);
  const uint64_t edges[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, ~0ull};
  for (uint64_t seed : edges) {
    for (uint64_t index : edges)
      REQUIRE(ks::SamplingUniform(seed, index) == SamplingUniform(seed, index));
  }
  for (int i = 0; i < 1000000; ++i) {
    const uint64_t seed = rng(), index = i % 2 ? rng() : rng() % 100000;
    REQUIRE(ks::SamplingUniform(seed, index) == SamplingUniform(seed, index));
  }
}

TEST_CASE("device ExpNonPositive equals the host's bit for bit", "[sampling]") {
  // Every 61st float from -0 down to -100 (about 18 million), then the edges.
  const uint32_t last = std::bit_cast<uint32_t>(-100.0f);
  int64_t checked = 0;
  for (uint32_t bits = 0x80000000u; bits <= last; bits += 61) {
    const float x = std::bit_cast<float>(bits);
    REQUIRE(std::bit_cast<uint32_t>(ks::ExpNonPositive(x)) ==
            std::bit_cast<uint32_t>(kernels::ExpNonPositive(x)));
    ++checked;
  }
  CHECK(checked > 10000000);
  const float edges[] = {0.0f,
                         -0.0f,
                         -87.3f,
                         std::nextafter(-87.3f, 0.0f),
                         std::nextafter(-87.3f, -100.0f),
                         -std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::max(),
                         -1e-45f};
  for (float x : edges) {
    REQUIRE(std::bit_cast<uint32_t>(ks::ExpNonPositive(x)) ==
            std::bit_cast<uint32_t>(kernels::ExpNonPositive(x)));
  }
}

TEST_CASE("order keys sort like floats", "[sampling]") {
  const float values[] = {
      -std::numeric_limits<float>::infinity(), -3.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 2.0f,
      std::numeric_limits<float>::max()};
  for (size_t i = 0; i + 1 < std::size(values); ++i) {
    CHECK(ks::OrderKey(values[i]) <= ks::OrderKey(values[i + 1]));
    CHECK(ks::FromOrderKey(ks::OrderKey(values[i])) == values[i]);
  }
  CHECK(ks::OrderKey(-0.0f) == ks::OrderKey(0.0f));
}

int32_t SerialToken(const testing::SamplingCase& c) {
  ks::SerialBlock block;
  std::vector<float> weights(c.logits.size());
  return ks::SampleRow(block, c.logits.data(), static_cast<int32_t>(c.logits.size()), c.params,
                       weights.data());
}

// The block interface over `size` std::threads (one ThreadBlock per thread, sharing a
// ThreadBlockShared): barriers for __syncthreads, per-thread slots folded in rank order for the
// reductions and the scan.
struct ThreadBlockShared {
  explicit ThreadBlockShared(int32_t size) : barrier(size), slots(size) {}
  std::barrier<> barrier;
  int32_t histogram[256] = {};
  struct alignas(16) Slot {
    unsigned char bytes[16];
  };
  std::vector<Slot> slots;
};

class ThreadBlock {
 public:
  ThreadBlock(ThreadBlockShared& shared, int32_t rank) : shared_(shared), rank_(rank) {}
  int32_t rank() const { return rank_; }
  int32_t size() const { return static_cast<int32_t>(shared_.slots.size()); }
  void Sync() { shared_.barrier.arrive_and_wait(); }
  int32_t* Histogram() { return shared_.histogram; }
  void AtomicAdd(int32_t* slot, int32_t value) { std::atomic_ref<int32_t>(*slot) += value; }
  template <typename T>
  T Broadcast(T value) {
    Sync();
    if (rank_ == 0) Put(0, value);
    Sync();
    return Get<T>(0);
  }
  template <typename T, typename Op>
  T Reduce(T value, Op op) {
    Sync();
    Put(rank_, value);
    Sync();
    T result = Get<T>(0);
    for (int32_t r = 1; r < size(); ++r) result = op(result, Get<T>(r));
    return result;
  }
  ks::ScanResult ExclusiveScan(double value) {
    Sync();
    Put(rank_, value);
    Sync();
    double before = 0.0, total = 0.0;
    for (int32_t r = 0; r < size(); ++r) {
      if (r == rank_) before = total;
      total += Get<double>(r);
    }
    return {before, total};
  }

 private:
  template <typename T>
  void Put(int32_t slot, T value) {
    std::memcpy(shared_.slots[slot].bytes, &value, sizeof(T));
  }
  template <typename T>
  T Get(int32_t slot) const {
    T value;
    std::memcpy(&value, shared_.slots[slot].bytes, sizeof(T));
    return value;
  }
  ThreadBlockShared& shared_;
  int32_t rank_;
};

// Every thread's answer; they must agree. `in_place`: the logits are the weights' scratch too.
std::vector<int32_t> ThreadedTokens(const testing::SamplingCase& c, int32_t threads,
                                    bool in_place) {
  ThreadBlockShared shared(threads);
  std::vector<float> weights(c.logits.size());
  std::vector<float> logits = c.logits;
  std::vector<int32_t> tokens(threads);
  std::vector<std::thread> pool;
  for (int32_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ThreadBlock block(shared, t);
      tokens[t] = ks::SampleRow(block, logits.data(), static_cast<int32_t>(logits.size()), c.params,
                                in_place ? logits.data() : weights.data());
    });
  }
  for (std::thread& thread : pool) thread.join();
  return tokens;
}

TEST_CASE("the row algorithm with a block of threads draws the host sampler's tokens",
          "[sampling]") {
  std::mt19937_64 rng(4);
  // Vocabularies smaller than, equal to and not a multiple of the block; 128K for the chunks.
  const int32_t vocabs[] = {1, 3, 7, 8, 13, 1000, 49152, 128256};
  const int32_t block_sizes[] = {2, 7, 8};
  for (int i = 0; i < 120; ++i) {
    const int32_t vocab = vocabs[i % std::size(vocabs)];
    const int32_t threads = block_sizes[i % std::size(block_sizes)];
    const testing::SamplingCase c = testing::RandomCase(rng, vocab);
    const int32_t host = testing::HostToken(c);
    INFO("draw " << i << " vocab " << vocab << " threads " << threads << " T "
                 << c.params.temperature << " top_k " << c.params.top_k << " top_p "
                 << c.params.top_p << " min_p " << c.params.min_p);
    for (int32_t token : ThreadedTokens(c, threads, i % 2 == 1)) REQUIRE(token == host);
  }
}

TEST_CASE("the row algorithm draws the host sampler's tokens", "[sampling]") {
  std::mt19937_64 rng(20261204);
  int draws = 0, random_draws = 0, off_argmax = 0, top_p = 0, top_k = 0, vocab_128k = 0;
  for (int i = 0; i < 1000; ++i) {
    const int32_t vocab = testing::kSamplingVocabs[i % std::size(testing::kSamplingVocabs)];
    const testing::SamplingCase c = testing::RandomCase(rng, vocab);
    const int32_t host = testing::HostToken(c);
    INFO("draw " << i << " vocab " << vocab << " T " << c.params.temperature << " top_k "
                 << c.params.top_k << " top_p " << c.params.top_p << " min_p " << c.params.min_p
                 << " seed " << c.params.seed);
    REQUIRE(SerialToken(c) == host);
    ++draws;
    if (c.params.temperature > 0.0f) {
      ++random_draws;
      top_p += c.params.top_p < 1.0f;
      top_k += c.params.top_k > 0 && c.params.top_k < vocab;
      ks::SerialBlock block;
      off_argmax += host != ks::Best(block, c.logits.data(), vocab).index;
    }
    vocab_128k += vocab == 128256;
  }
  CHECK(draws == 1000);
  // The mix must exercise what it claims to.
  CHECK(random_draws > 700);
  CHECK(off_argmax > 200);
  CHECK(top_p > 300);
  CHECK(top_k > 200);
  CHECK(vocab_128k > 100);
}

}  // namespace
}  // namespace ribbon
