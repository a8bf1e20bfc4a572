// The device sampler's algorithm for one row of logits (kernels/cuda/sampling.h), written once
// for a block of cooperating threads: the CUDA kernel runs it with one thread block per row, the
// CPU tests run the same code with SerialBlock (one thread), so the logic is tested without a
// GPU (tests/kernels/sampling_row_test.cpp).
//
// It draws what the host sampler (core/sampling/sampler.h) draws for a row without penalties,
// logit bias, banned tokens or logprobs, given the same float32 logits:
//   sanitise (NaN -> -inf, +inf -> max float); greedy (temperature <= 0) or no finite logit: the
//   first index of the largest logit; else the top-k threshold (the k-th largest logit, ties
//   with it kept), weights exp((logit - max) / temperature) computed as the host computes them
//   (sampling_math.h), min-p (weight >= min_p), top-p over the top-k mass in (weight desc, token
//   asc) order, one Philox draw keyed by (seed, output index), and the first candidate in token
//   order whose cumulative weight exceeds draw * total.
// Every float is bit-identical to the host's and every decision on floats is the host's. The
// double sums (top-k mass, top-p prefix mass, cumulative weights) are the host's sums taken in
// another order (deterministic for a given block size), so a token can differ only when the
// top-p cut or the draw lands within double rounding (~1e-16 relative) of a boundary.
//
// How: the top-k threshold is a radix select on order keys (4 passes of 8 bits); top-p finds
// the smallest weight w* whose heavier candidates weigh less than the limit by a binary search
// over weight bits, then keeps as many of the candidates tied at w* (lowest tokens first) as the
// host's running sum would; the draw scans each thread's contiguous chunk after a block scan of
// the chunk sums.
//
// Block interface (DeviceBlock in sampling.cu, SerialBlock below): rank(), size(), Sync(),
// Histogram() (256 shared ints), AtomicAdd(int32_t*, int32_t), Broadcast(T) (rank 0's value to
// all), Reduce(T, Op) (every thread gets the result), ExclusiveScan(double) -> ScanResult.
// Every thread of the block must call SampleRow with the same arguments.
//
// Header-only; any thread.
#pragma once

#include <cstdint>

#include "kernels/cuda/sampling_math.h"

namespace ribbon::kernels {

// What the device sampler covers of a request's sampling parameters (core/sampling/
// sampling_params.h): rows that use anything else are sampled on the host.
struct DeviceSamplingParams {
  float temperature = 0.0f;   // <= 0: greedy
  int32_t top_k = 0;          // <= 0 or >= vocab: off
  float top_p = 1.0f;         // (0, 1]; 1 = off
  float min_p = 0.0f;         // [0, 1]; 0 = off
  uint64_t seed = 0;          // the draw is keyed by (seed, output_index)
  uint64_t output_index = 0;  // the index of the token being sampled
};

namespace sampling {

inline constexpr int32_t kNoToken = 0x7FFFFFFF;

struct ArgBest {
  float value;
  int32_t index;
};
struct ScanResult {
  double exclusive;
  double total;
};

// Reduction operators (functors rather than lambdas: no extended-lambda flag for nvcc).
struct BetterOp {  // larger value; equal values: lower index (the host's ArgMax)
  RIBBON_HD ArgBest operator()(ArgBest a, ArgBest b) const {
    return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
  }
};
struct SumOp {
  RIBBON_HD double operator()(double a, double b) const { return AddD(a, b); }
};
struct MinOp {
  template <typename T>
  RIBBON_HD T operator()(T a, T b) const {
    return b < a ? b : a;
  }
};
struct MaxOp {
  template <typename T>
  RIBBON_HD T operator()(T a, T b) const {
    return a < b ? b : a;
  }
};

// A block of one thread, for running SampleRow on the host (tests).
class SerialBlock {
 public:
  int32_t rank() const { return 0; }
  int32_t size() const { return 1; }
  void Sync() {}
  int32_t* Histogram() { return histogram_; }
  void AtomicAdd(int32_t* slot, int32_t value) { *slot += value; }
  template <typename T>
  T Broadcast(T value) {
    return value;
  }
  template <typename T, typename Op>
  T Reduce(T value, Op) {
    return value;
  }
  ScanResult ExclusiveScan(double value) { return {0.0, value}; }

 private:
  int32_t histogram_[256] = {};
};

// This thread's contiguous chunk of [0, vocab), for the passes that go in token order.
struct Chunk {
  int32_t begin, end;
};
template <typename Block>
RIBBON_HD Chunk ChunkOf(Block& block, int32_t vocab) {
  const int32_t per = (vocab + block.size() - 1) / block.size();
  const int64_t begin = static_cast<int64_t>(block.rank()) * per;
  const int64_t end = begin + per;
  return {static_cast<int32_t>(begin < vocab ? begin : vocab),
          static_cast<int32_t>(end < vocab ? end : vocab)};
}

// The largest sanitised logit and its first index.
template <typename Block>
RIBBON_HD ArgBest Best(Block& block, const float* logits, int32_t vocab) {
  ArgBest best{kNegInf, kNoToken};
  for (int32_t i = block.rank(); i < vocab; i += block.size()) {
    best = BetterOp{}(best, ArgBest{Sanitized(logits[i]), i});
  }
  best = block.Reduce(best, BetterOp{});
  if (best.index == kNoToken) best.index = 0;
  return best;
}

// The k-th largest sanitised logit (counting ties), or -inf when top-k keeps everything: the
// host's TopKThreshold. Radix select, most significant byte of the order key first.
template <typename Block>
RIBBON_HD float TopKThreshold(Block& block, const float* logits, int32_t vocab, int32_t top_k) {
  if (top_k <= 0 || top_k >= vocab) return kNegInf;
  int32_t* histogram = block.Histogram();
  uint32_t prefix = 0, mask = 0;
  int32_t remaining = top_k;  // the rank wanted among keys matching prefix
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int32_t d = block.rank(); d < 256; d += block.size()) histogram[d] = 0;
    block.Sync();
    for (int32_t i = block.rank(); i < vocab; i += block.size()) {
      const uint32_t key = OrderKey(Sanitized(logits[i]));
      if ((key & mask) == prefix) block.AtomicAdd(&histogram[(key >> shift) & 0xFFu], 1);
    }
    block.Sync();
    int32_t digit = 0, above = 0;
    if (block.rank() == 0) {
      for (digit = 255; digit > 0; --digit) {
        if (above + histogram[digit] >= remaining) break;
        above += histogram[digit];
      }
    }
    digit = block.Broadcast(digit);
    remaining -= block.Broadcast(above);
    prefix |= static_cast<uint32_t>(digit) << shift;
    mask |= 0xFFu << shift;
  }
  return FromOrderKey(prefix);
}

// Writes each token's weight to `weights` (-1 for tokens that are not candidates after top-k and
// min-p) and returns the top-k mass (the host normalises top-p over it, before min-p).
template <typename Block>
RIBBON_HD double WriteWeights(Block& block, const float* logits, int32_t vocab, float max_logit,
                              const DeviceSamplingParams& params, float* weights) {
  const float threshold = TopKThreshold(block, logits, vocab, params.top_k);
  double mass = 0.0;
  for (int32_t i = block.rank(); i < vocab; i += block.size()) {
    const float score = Sanitized(logits[i]);
    float weight = -1.0f;
    if (score >= threshold) {
      weight = Weight(score, max_logit, params.temperature);
      mass = AddD(mass, weight);
      if (params.min_p > 0.0f && weight < params.min_p) weight = -1.0f;
    }
    weights[i] = weight;
  }
  return block.Reduce(mass, SumOp{});
}

// The weight of the candidates heavier than `bits` (a non-negative float's bits).
template <typename Block>
RIBBON_HD double MassAbove(Block& block, const float* weights, int32_t vocab, uint32_t bits) {
  double mass = 0.0;
  for (int32_t i = block.rank(); i < vocab; i += block.size()) {
    const float weight = weights[i];
    if (weight >= 0.0f && BitsOf(weight) > bits) mass = AddD(mass, weight);
  }
  return block.Reduce(mass, SumOp{});
}

// The index of the n-th (1-based) candidate of weight `weight`, in token order.
template <typename Block>
RIBBON_HD int32_t NthOfWeight(Block& block, const float* weights, int32_t vocab, float weight,
                              int32_t n) {
  const Chunk chunk = ChunkOf(block, vocab);
  int32_t count = 0;
  for (int32_t i = chunk.begin; i < chunk.end; ++i) count += weights[i] == weight;
  // Counts are below 2^31, exact in double.
  int32_t seen = static_cast<int32_t>(block.ExclusiveScan(count).exclusive);
  int32_t found = kNoToken;
  if (seen < n && seen + count >= n) {
    for (int32_t i = chunk.begin; i < chunk.end; ++i) {
      if (weights[i] == weight && ++seen == n) {
        found = i;
        break;
      }
    }
  }
  return block.Reduce(found, MinOp{});
}

// The top-p cut: a candidate is kept when its weight is above `weight`, or equal to it and its
// token is at most `last_tied`. The default keeps every candidate.
struct TopPCut {
  float weight = 0.0f;
  int32_t last_tied = kNoToken;
};

RIBBON_HD inline bool Kept(float weight, int32_t token, const TopPCut& cut) {
  return weight > cut.weight || (weight == cut.weight && weight >= 0.0f && token <= cut.last_tied);
}

// The host keeps candidate i of the (weight desc, token asc) order while the weight before it
// is below `limit` (the first always). That keeps every candidate heavier than w*, the lightest
// weight whose heavier candidates weigh less than the limit, and a prefix of those tied at w*.
template <typename Block>
RIBBON_HD TopPCut FindTopPCut(Block& block, const float* weights, int32_t vocab, double limit) {
  uint32_t lo = 0, hi = BitsOf(1.0f);  // nothing weighs more than the top token's 1
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (MassAbove(block, weights, vocab, mid) < limit) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  uint32_t lightest = BitsOf(1.0f);
  for (int32_t i = block.rank(); i < vocab; i += block.size()) {
    const float weight = weights[i];
    if (weight >= 0.0f && BitsOf(weight) >= lo && BitsOf(weight) < lightest) {
      lightest = BitsOf(weight);
    }
  }
  TopPCut cut;
  cut.weight = FloatOf(block.Reduce(lightest, MinOp{}));
  const double heavier = MassAbove(block, weights, vocab, BitsOf(cut.weight));
  int32_t tied = 0;
  for (int32_t i = block.rank(); i < vocab; i += block.size()) tied += weights[i] == cut.weight;
  tied = static_cast<int32_t>(block.Reduce(static_cast<double>(tied), SumOp{}));
  // Tied candidate j (0-based) is kept when heavier + j * w* < limit, or it is the very first.
  // The predicate falls from true to false once, so a binary search finds how many are kept.
  int32_t keep_lo = 1, keep_hi = tied;  // how many are kept lies in [keep_lo, keep_hi]
  while (keep_lo < keep_hi) {
    const int32_t j = keep_lo + (keep_hi - keep_lo) / 2;  // is tied candidate j kept?
    if (AddD(heavier, MulD(static_cast<double>(j), cut.weight)) < limit) {
      keep_lo = j + 1;
    } else {
      keep_hi = j;
    }
  }
  cut.last_tied = NthOfWeight(block, weights, vocab, cut.weight, keep_lo);
  return cut;
}

// The first kept candidate in token order whose cumulative weight exceeds uniform * total and
// whose weight is positive (the host's DrawCandidate, fallbacks included).
template <typename Block>
RIBBON_HD int32_t Draw(Block& block, const float* weights, int32_t vocab, const TopPCut& cut,
                       double uniform) {
  const Chunk chunk = ChunkOf(block, vocab);
  double chunk_mass = 0.0;
  for (int32_t i = chunk.begin; i < chunk.end; ++i) {
    if (Kept(weights[i], i, cut)) chunk_mass = AddD(chunk_mass, weights[i]);
  }
  const ScanResult scan = block.ExclusiveScan(chunk_mass);
  const double target = MulD(uniform, scan.total);
  double cumulative = scan.exclusive;
  int32_t found = kNoToken, last_positive = -1, first_kept = kNoToken;
  for (int32_t i = chunk.begin; i < chunk.end; ++i) {
    const float weight = weights[i];
    if (!Kept(weight, i, cut)) continue;
    if (first_kept == kNoToken) first_kept = i;
    if (weight > 0.0f) last_positive = i;
    cumulative = AddD(cumulative, weight);
    if (found == kNoToken && cumulative > target && weight > 0.0f) found = i;
  }
  found = block.Reduce(found, MinOp{});
  if (found != kNoToken) return found;
  // Only reached when rounding leaves the running sum a hair under the target.
  last_positive = block.Reduce(last_positive, MaxOp{});
  if (last_positive >= 0) return last_positive;
  first_kept = block.Reduce(first_kept, MinOp{});
  return first_kept == kNoToken ? 0 : first_kept;
}

// One row: `logits` [vocab], `weights` [vocab] scratch, which may be `logits` itself (each logit
// is read for the last time by the thread that then writes its weight). Returns the token.
template <typename Block>
RIBBON_HD int32_t SampleRow(Block& block, const float* logits, int32_t vocab,
                            const DeviceSamplingParams& params, float* weights) {
  const ArgBest best = Best(block, logits, vocab);
  if (params.temperature <= 0.0f || best.value == kNegInf) return best.index;
  const double top_k_mass = WriteWeights(block, logits, vocab, best.value, params, weights);
  block.Sync();  // the weights are read by other threads from here on
  TopPCut cut;
  if (params.top_p < 1.0f) {
    cut = FindTopPCut(block, weights, vocab, MulD(params.top_p, top_k_mass));
  }
  return Draw(block, weights, vocab, cut, SamplingUniform(params.seed, params.output_index));
}

}  // namespace sampling
}  // namespace ribbon::kernels
