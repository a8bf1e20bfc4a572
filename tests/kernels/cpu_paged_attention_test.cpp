// The CPU paged attention kernel against a naive reference (double precision, each sequence's
// keys contiguous): GQA groups, head sizes, block sizes, sliding windows, chunked queries whose
// keys start before them, row tiles that span sequences, and work split into arbitrary ranges.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/paged_attention_isa.h"

namespace ribbon::kernels {
namespace {

struct Shape {
  int32_t num_heads, num_kv_heads, head_dim, block_size, window;
  std::vector<int32_t> kv_lens;  // keys per sequence
  std::vector<int32_t> q_lens;   // query rows per sequence: its last q_len positions
};

struct Problem {
  Shape shape;
  std::vector<float> q, k_cache, v_cache;
  std::vector<int32_t> cu_seqlens, positions, block_tables;
  std::vector<std::vector<float>> keys, values;  // per sequence, [kv_len, kv_heads, head_dim]
  int32_t max_blocks = 0;
};

Problem Make(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Problem p{s};
  const int32_t width = s.num_kv_heads * s.head_dim;
  const int32_t seqs = static_cast<int32_t>(s.kv_lens.size());
  int32_t total_blocks = 0;
  for (int32_t len : s.kv_lens) {
    const int32_t blocks = (len + s.block_size - 1) / s.block_size;
    p.max_blocks = std::max(p.max_blocks, blocks);
    total_blocks += blocks;
  }
  std::vector<int32_t> pool(total_blocks + 3);  // spare blocks stay garbage
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  p.k_cache.assign(pool.size() * s.block_size * width, 1e6f);  // unreadable if the kernel strays
  p.v_cache.assign(p.k_cache.size(), 1e6f);
  p.block_tables.assign(seqs * p.max_blocks, 0);
  p.cu_seqlens.push_back(0);
  size_t next = 0;
  for (int32_t i = 0; i < seqs; ++i) {
    const int32_t len = s.kv_lens[i];
    for (int32_t b = 0; b < (len + s.block_size - 1) / s.block_size; ++b)
      p.block_tables[i * p.max_blocks + b] = pool[next++];
    p.keys.emplace_back(len * width);
    p.values.emplace_back(len * width);
    for (float& x : p.keys.back()) x = normal(rng);
    for (float& x : p.values.back()) x = normal(rng);
    for (int32_t t = 0; t < len; ++t) {
      const int64_t slot =
          static_cast<int64_t>(p.block_tables[i * p.max_blocks + t / s.block_size]) * s.block_size +
          t % s.block_size;
      std::copy_n(&p.keys.back()[t * width], width, &p.k_cache[slot * width]);
      std::copy_n(&p.values.back()[t * width], width, &p.v_cache[slot * width]);
    }
    for (int32_t r = 0; r < s.q_lens[i]; ++r) p.positions.push_back(len - s.q_lens[i] + r);
    p.cu_seqlens.push_back(p.cu_seqlens.back() + s.q_lens[i]);
  }
  p.q.resize(static_cast<size_t>(p.cu_seqlens.back()) * s.num_heads * s.head_dim);
  for (float& x : p.q) x = normal(rng);
  return p;
}

std::vector<float> Reference(const Problem& p) {
  const Shape& s = p.shape;
  const int32_t hd = s.head_dim, group = s.num_heads / s.num_kv_heads, width = s.num_kv_heads * hd;
  std::vector<float> out(p.q.size());
  for (size_t seq = 0; seq + 1 < p.cu_seqlens.size(); ++seq) {
    for (int32_t row = p.cu_seqlens[seq]; row < p.cu_seqlens[seq + 1]; ++row) {
      const int32_t pos = p.positions[row];
      const int32_t first = s.window > 0 ? std::max(0, pos - s.window + 1) : 0;
      for (int32_t h = 0; h < s.num_heads; ++h) {
        const int32_t kvh = h / group;
        std::vector<double> w;
        double max = -1e300;
        for (int32_t t = first; t <= pos; ++t) {
          double dot = 0;
          for (int32_t d = 0; d < hd; ++d)
            dot += double(p.q[(row * s.num_heads + h) * hd + d]) *
                   p.keys[seq][t * width + kvh * hd + d];
          w.push_back(dot / std::sqrt(double(hd)));
          max = std::max(max, w.back());
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - max));
        for (int32_t d = 0; d < hd; ++d) {
          double acc = 0;
          for (int32_t t = first; t <= pos; ++t)
            acc += w[t - first] * p.values[seq][t * width + kvh * hd + d];
          out[(row * s.num_heads + h) * hd + d] = static_cast<float>(acc / sum);
        }
      }
    }
  }
  return out;
}

// `isa`'s build of the kernel over caches k and v of `dtype` (the problem's own float32 ones by
// default).
std::vector<float> RunKernel(const Problem& p, AttentionIsa isa, uint32_t split_seed,
                             int32_t kv_heads_per_item = 1, const void* k = nullptr,
                             const void* v = nullptr, KvDtype dtype = KvDtype::kFloat32) {
  const Shape& s = p.shape;
  std::vector<float> out(p.q.size(), -7.0f);
  PagedAttentionArgs a;
  a.q = p.q.data();
  a.q_row_stride = s.num_heads * s.head_dim;
  a.k_cache = k != nullptr ? k : p.k_cache.data();
  a.v_cache = v != nullptr ? v : p.v_cache.data();
  a.kv_dtype = dtype;
  a.out = out.data();
  a.cu_seqlens = p.cu_seqlens.data();
  a.positions = p.positions.data();
  a.block_tables = p.block_tables.data();
  a.num_seqs = static_cast<int32_t>(s.kv_lens.size());
  a.max_blocks_per_seq = p.max_blocks;
  a.num_heads = s.num_heads;
  a.num_kv_heads = s.num_kv_heads;
  a.head_dim = s.head_dim;
  a.block_size = s.block_size;
  a.sliding_window = s.window;
  a.scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  a.kv_heads_per_item = kv_heads_per_item;
  // Disjoint ranges of random sizes, as threads would take them.
  std::mt19937 rng(split_seed);
  const int64_t items = PagedAttentionWorkItems(a);
  for (int64_t begin = 0; begin < items;) {
    const int64_t end = std::min<int64_t>(items, begin + 1 + rng() % 5);
    PagedAttentionCpuWith(isa, a, begin, end);
    begin = end;
  }
  return out;
}

const char* IsaName(AttentionIsa isa) { return isa == AttentionIsa::kAvx512 ? "avx512" : "avx2"; }

void RequireClose(const Shape& shape, AttentionIsa isa, uint32_t seed) {
  const Problem p = Make(shape, seed);
  const std::vector<float> want = Reference(p);
  const std::vector<float> got = RunKernel(p, isa, seed + 1);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, double(std::abs(want[i] - got[i])));
  INFO("isa " << IsaName(isa) << " heads " << shape.num_heads << "/" << shape.num_kv_heads
              << " head_dim " << shape.head_dim << " block " << shape.block_size << " window "
              << shape.window << " seed " << seed);
  CHECK(worst < 2e-5);
}

// 1-4 KV heads of 1..max_group query heads each, and 1-5 sequences of 1..max_kv_len keys that
// alternate one-row decodes and whole prompts.
Shape DecodesAndPrompts(std::mt19937& rng, int32_t max_group, int32_t head_dim, int32_t block_size,
                        int32_t window, int32_t max_kv_len) {
  Shape s;
  s.num_kv_heads = 1 + static_cast<int32_t>(rng() % 4);
  s.num_heads = s.num_kv_heads * (1 + static_cast<int32_t>(rng() % max_group));
  s.head_dim = head_dim;
  s.block_size = block_size;
  s.window = window;
  for (int32_t i = 0; i < 1 + static_cast<int32_t>(rng() % 5); ++i) {
    const int32_t kv_len = 1 + static_cast<int32_t>(rng() % max_kv_len);
    s.kv_lens.push_back(kv_len);
    s.q_lens.push_back(i % 2 == 0 ? 1 : kv_len);
  }
  return s;
}

// Every build of the kernel (paged_attention_isa.h) is checked the same way; one this CPU cannot
// run is skipped (the AVX2 build always runs: it is the library's floor).
#define FOR_EACH_ISA(isa)                                                                 \
  const AttentionIsa isa = GENERATE(AttentionIsa::kAvx2, AttentionIsa::kAvx512);          \
  if (!AttentionIsaAvailable(isa)) {                                                      \
    WARN("this CPU cannot run the " << IsaName(isa) << " build of the attention kernel"); \
    return;                                                                               \
  }

}  // namespace

TEST_CASE("CPU paged attention equals the reference over varied ribbons", "[kernels][attention]") {
  FOR_EACH_ISA(isa)
  std::mt19937 rng(42);
  const int32_t head_dims[] = {8, 64, 128};
  const int32_t groups[] = {1, 2, 4};
  const int32_t blocks[] = {1, 16, 64};
  const int32_t windows[] = {0, 5, 37};
  for (uint32_t seed = 0; seed < 60; ++seed) {
    Shape s;
    s.num_kv_heads = 1 + static_cast<int32_t>(rng() % 3);
    s.num_heads = s.num_kv_heads * groups[rng() % 3];
    s.head_dim = head_dims[rng() % 3];
    s.block_size = blocks[rng() % 3];
    s.window = windows[rng() % 3];
    const int32_t seqs = 1 + static_cast<int32_t>(rng() % 6);
    for (int32_t i = 0; i < seqs; ++i) {
      const int32_t kv_len = 1 + static_cast<int32_t>(rng() % 150);
      // Whole prompts, chunked prefill (queries after cached keys) and single-row decodes.
      const int32_t kind = static_cast<int32_t>(rng() % 3);
      const int32_t q_len = kind == 0   ? kv_len
                            : kind == 1 ? 1 + static_cast<int32_t>(rng() % kv_len)
                                        : 1;
      s.kv_lens.push_back(kv_len);
      s.q_lens.push_back(q_len);
    }
    RequireClose(s, isa, seed);
  }
}

TEST_CASE("CPU paged attention: tiles spanning many one-row sequences and one long prompt",
          "[kernels][attention]") {
  FOR_EACH_ISA(isa)
  Shape decodes{8, 2, 64, 16, 0, {}, {}};
  for (int32_t i = 0; i < 21; ++i) {
    decodes.kv_lens.push_back(3 + 17 * i);
    decodes.q_lens.push_back(1);
  }
  RequireClose(decodes, isa, 7);
  Shape long_prompt{4, 4, 32, 16, 0, {700}, {700}};
  RequireClose(long_prompt, isa, 8);
  Shape windowed{4, 1, 16, 16, 48, {300, 5, 260}, {300, 5, 37}};
  RequireClose(windowed, isa, 9);
}

TEST_CASE("CPU paged attention: items over several KV heads give the same bits as one each",
          "[kernels][attention]") {
  FOR_EACH_ISA(isa)
  std::mt19937 rng(11);
  for (uint32_t seed = 0; seed < 30; ++seed) {
    const Shape s = DecodesAndPrompts(rng, 4, seed % 2 == 0 ? 64 : 24, seed % 3 == 0 ? 1 : 16,
                                      seed % 5 == 0 ? 20 : 0, 120);
    const Problem p = Make(s, seed);
    const std::vector<float> one = RunKernel(p, isa, seed);
    // Every divisor of num_kv_heads, and 3 where it is not one (then counted as 1).
    for (int32_t per_item : {2, 3, 4, s.num_kv_heads}) {
      INFO("kv heads " << s.num_kv_heads << " per item " << per_item << " seed " << seed);
      CHECK(RunKernel(p, isa, seed + 7, per_item) == one);
    }
  }
}

TEST_CASE("CPU paged attention over a float16 cache equals float32 over the rounded values",
          "[kernels][attention]") {
  FOR_EACH_ISA(isa)
  // The float16 path widens each element exactly and changes nothing else, so its outputs are
  // bit for bit those of a float32 cache holding the same rounded values: every path (head dims
  // that take the vector walks and 12, which takes the scalar one), decodes and prompts,
  // windows, and items over one or several KV heads.
  std::mt19937 rng(5);
  for (uint32_t seed = 0; seed < 24; ++seed) {
    const Shape s = DecodesAndPrompts(rng, 3,
                                      seed % 3 == 0   ? 12
                                      : seed % 3 == 1 ? 64
                                                      : 128,
                                      seed % 4 == 0 ? 1 : 16, seed % 5 == 0 ? 30 : 0, 140);
    const Problem p = Make(s, seed);
    std::vector<uint16_t> k16(p.k_cache.size()), v16(p.v_cache.size());
    std::vector<float> k_rounded(p.k_cache.size()), v_rounded(p.v_cache.size());
    for (size_t i = 0; i < k16.size(); ++i) {
      k16[i] = FloatToHalfBits(p.k_cache[i]);
      v16[i] = FloatToHalfBits(p.v_cache[i]);
      k_rounded[i] = HalfBitsToFloat(k16[i]);
      v_rounded[i] = HalfBitsToFloat(v16[i]);
    }
    for (int32_t per_item : {1, s.num_kv_heads}) {
      INFO("heads " << s.num_heads << "/" << s.num_kv_heads << " head_dim " << s.head_dim
                    << " per item " << per_item << " seed " << seed);
      const std::vector<float> want =
          RunKernel(p, isa, seed, per_item, k_rounded.data(), v_rounded.data(), KvDtype::kFloat32);
      const std::vector<float> got =
          RunKernel(p, isa, seed + 3, per_item, k16.data(), v16.data(), KvDtype::kFloat16);
      CHECK(got == want);
      // And the rounding is a real change: the unrounded cache gives other bits.
      if (seed == 1 && per_item == 1) CHECK(RunKernel(p, isa, seed) != want);
    }
  }
}

}  // namespace ribbon::kernels
