#include "core/sampling/sampling_steps.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "kernels/cpu/fast_exp.h"

namespace ribbon {
namespace {
using kernels::ExpNonPositive;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Up to this top_k a k-sized heap over the vocabulary beats nth_element on a copy (measured at
// 152k tokens with top_k 2000).
constexpr int32_t kHeapTopKLimit = 4096;

// Below this many candidates the top-p search sorts instead of partitioning.
constexpr size_t kTopPSortBelow = 32;

// Before searching a large candidate set for the top-p cut, try dropping the candidates
// lighter than each of these weights (relative to the top token) in turn: if what remains
// already holds the top-p mass, the dropped ones would have been cut anyway.
constexpr size_t kTopPPrefilterAbove = 4096;
constexpr float kTopPPrefilterWeights[] = {1e-2f, 1e-4f, 1e-6f};

// DrawCandidate sums blocks of this many weights at once before scanning one block.
constexpr size_t kDrawBlock = 1024;

// NaN -> -inf and +inf -> the largest float, so every comparison is a strict weak order and
// every weight finite.
float Sanitized(float x) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  return x != x ? kNegInf : (x == kInf ? std::numeric_limits<float>::max() : x);
}

template <typename T>
void GrowTo(std::vector<T>& buffer, size_t size) {
  if (buffer.size() < size) buffer.resize(size);
}

bool ValidToken(int32_t token, size_t vocab) {
  return token >= 0 && static_cast<size_t>(token) < vocab;
}

// Scans skip blocks of this many scores whose maximum is below what they look for.
constexpr size_t kScanBlock = 64;

float BlockMax(const float* scores, size_t size) {
  float max = kNegInf;
#pragma omp simd reduction(max : max)
  for (size_t i = 0; i < size; ++i) max = std::max(max, scores[i]);
  return max;
}

// Offers scores[begin, end) to a full min-heap of the k largest scores so far.
void OfferToHeap(std::span<const float> scores, size_t begin, size_t end,
                 std::vector<float>& heap) {
  for (size_t i = begin; i < end; ++i) {
    if (scores[i] <= heap.front()) continue;
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    heap.back() = scores[i];
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  }
}

// The k-th largest score, or -inf when top-k keeps everything.
float TopKThreshold(std::span<const float> scores, int32_t top_k, SamplingWorkspace& workspace) {
  if (top_k <= 0 || static_cast<size_t>(top_k) >= scores.size()) return kNegInf;
  std::vector<float>& values = workspace.values;
  const auto k = static_cast<size_t>(top_k);
  if (top_k > kHeapTopKLimit) {
    values.assign(scores.begin(), scores.end());
    std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<>());
    return values[k - 1];
  }
  // A min-heap of the k largest scores seen so far; its front is the k-th largest. Most blocks
  // hold nothing above it once the heap has warmed up.
  values.assign(scores.begin(), scores.begin() + k);
  std::make_heap(values.begin(), values.end(), std::greater<>());
  for (size_t begin = k; begin < scores.size(); begin += kScanBlock) {
    const size_t end = std::min(scores.size(), begin + kScanBlock);
    if (BlockMax(scores.data() + begin, end - begin) <= values.front()) continue;
    OfferToHeap(scores, begin, end, values);
  }
  return values.front();
}

float Weight(float score, float max_score, float temperature) {
  return ExpNonPositive((score - max_score) / temperature);
}

// Fills the candidate set with every score >= threshold (so top-k keeps ties with the k-th
// score, as HF does) and its weight. Returns the number of candidates. Without a threshold
// every token is a candidate; -inf scores get weight 0.
size_t CollectCandidates(std::span<const float> scores, float threshold, float max_score,
                         float temperature, SamplingWorkspace& workspace) {
  GrowTo(workspace.candidate_tokens, scores.size());
  GrowTo(workspace.candidate_weights, scores.size());
  int32_t* tokens = workspace.candidate_tokens.data();
  float* weights = workspace.candidate_weights.data();
  const size_t vocab = scores.size();
  if (threshold == kNegInf) {
    std::iota(tokens, tokens + vocab, 0);
#pragma omp simd
    for (size_t i = 0; i < vocab; ++i) weights[i] = Weight(scores[i], max_score, temperature);
    return vocab;
  }
  size_t count = 0;
  for (size_t begin = 0; begin < vocab; begin += kScanBlock) {
    const size_t end = std::min(vocab, begin + kScanBlock);
    if (BlockMax(scores.data() + begin, end - begin) < threshold) continue;
    for (size_t i = begin; i < end; ++i) {
      if (scores[i] < threshold) continue;
      tokens[count] = static_cast<int32_t>(i);
      weights[count] = Weight(scores[i], max_score, temperature);
      ++count;
    }
  }
  return count;
}

// Keeps the candidates of weight >= min_weight, in token order. The top token has weight 1, so
// this is min-p.
size_t KeepWeightAtLeast(float min_weight, size_t count, SamplingWorkspace& workspace) {
  int32_t* tokens = workspace.candidate_tokens.data();
  float* weights = workspace.candidate_weights.data();
  size_t kept = 0;
  for (size_t i = 0; i < count; ++i) {
    if (weights[i] < min_weight) continue;
    tokens[kept] = tokens[i];
    weights[kept] = weights[i];
    ++kept;
  }
  return kept;
}

double SumWeights(const float* weights, size_t count) {
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (size_t i = 0; i < count; ++i) total += weights[i];
  return total;
}

double SumWeightsAtLeast(float min_weight, const float* weights, size_t count) {
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (size_t i = 0; i < count; ++i) total += weights[i] >= min_weight ? weights[i] : 0.0f;
  return total;
}

// Drops candidates that top-p would cut anyway (see kTopPPrefilterWeights).
size_t PrefilterForTopP(double mass_limit, size_t count, SamplingWorkspace& workspace) {
  for (float min_weight : kTopPPrefilterWeights) {
    if (count <= kTopPPrefilterAbove) break;
    if (SumWeightsAtLeast(min_weight, workspace.candidate_weights.data(), count) >= mass_limit) {
      return KeepWeightAtLeast(min_weight, count, workspace);
    }
  }
  return count;
}

// A candidate's rank key: its weight's bits above its complemented position, so a larger key
// is more probable (non-negative floats order like their bits) and of equal weights the lower
// position (= lower token id, as candidates are in token order) ranks first. Keys are unique.
uint64_t RankKey(float weight, uint32_t position) {
  return static_cast<uint64_t>(std::bit_cast<uint32_t>(weight)) << 32 | ~position;
}

float KeyWeight(uint64_t key) { return std::bit_cast<float>(static_cast<uint32_t>(key >> 32)); }

uint32_t KeyPosition(uint64_t key) { return ~static_cast<uint32_t>(key); }

uint64_t MedianOfThree(uint64_t a, uint64_t b, uint64_t c) {
  return std::max(std::min(a, b), std::min(std::max(a, b), c));
}

// Moves the keys above `pivot` to the front of keys[0, size), without branches, and returns
// how many there are.
size_t PartitionAbove(uint64_t* keys, size_t size, uint64_t pivot) {
  size_t above = 0;
  for (size_t i = 0; i < size; ++i) {
    const uint64_t key = keys[i];
    keys[i] = keys[above];
    keys[above] = key;
    above += key > pivot;
  }
  return above;
}

double SumKeyWeights(const uint64_t* keys, size_t size) {
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (size_t i = 0; i < size; ++i) total += KeyWeight(keys[i]);
  return total;
}

// Top-p over candidates, most probable first: candidate i is kept while the weight of the
// candidates before it is below `mass_limit` (the first always is). A quickselect on mass finds
// the cut in expected linear time without sorting. Returns the least probable kept candidate.
uint32_t LeastProbableTopPKept(double mass_limit, size_t count, SamplingWorkspace& workspace) {
  GrowTo(workspace.rank_keys, count);
  uint64_t* keys = workspace.rank_keys.data();
  const float* weights = workspace.candidate_weights.data();
  for (size_t i = 0; i < count; ++i) keys[i] = RankKey(weights[i], static_cast<uint32_t>(i));
  // Invariant: keys[0, lo) are kept and weigh `mass_before`; the cut is in [lo, hi].
  size_t lo = 0, hi = count;
  double mass_before = 0.0;
  while (hi - lo > kTopPSortBelow) {
    const uint64_t pivot = MedianOfThree(keys[lo], keys[lo + (hi - lo) / 2], keys[hi - 1]);
    const size_t pivot_rank = lo + PartitionAbove(keys + lo, hi - lo, pivot);
    std::iter_swap(keys + pivot_rank, std::find(keys + pivot_rank, keys + hi, pivot));
    const double mass_above_pivot = mass_before + SumKeyWeights(keys + lo, pivot_rank - lo);
    if (pivot_rank > 0 && mass_above_pivot >= mass_limit) {
      hi = pivot_rank;
    } else {
      mass_before = mass_above_pivot + KeyWeight(pivot);
      lo = pivot_rank + 1;
    }
  }
  std::sort(keys + lo, keys + hi, std::greater<>());
  size_t kept = hi;
  for (size_t i = lo; i < hi; ++i) {
    if (i > 0 && mass_before >= mass_limit) {
      kept = i;
      break;
    }
    mass_before += KeyWeight(keys[i]);
  }
  return KeyPosition(*std::min_element(keys, keys + kept));
}

// Keeps the candidates no less probable than `least_kept`, in token order.
size_t KeepUpTo(uint32_t least_kept, size_t count, SamplingWorkspace& workspace) {
  int32_t* tokens = workspace.candidate_tokens.data();
  float* weights = workspace.candidate_weights.data();
  // Copied out: compaction may overwrite the slot least_kept is read from.
  const float bound_weight = weights[least_kept];
  size_t kept = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const float weight = weights[i];
    if (weight < bound_weight || (weight == bound_weight && i > least_kept)) continue;
    tokens[kept] = tokens[i];
    weights[kept] = weight;
    ++kept;
  }
  return kept;
}

}  // namespace

SamplingWorkspace& ThreadSamplingWorkspace() {
  thread_local SamplingWorkspace workspace;
  return workspace;
}

void SanitizeLogits(std::span<float> logits) {
  float* data = logits.data();
#pragma omp simd
  for (size_t i = 0; i < logits.size(); ++i) data[i] = Sanitized(data[i]);
}

float MaxLogit(std::span<const float> logits) {
  float max = kNegInf;
#pragma omp simd reduction(max : max)
  for (size_t i = 0; i < logits.size(); ++i) max = std::max(max, logits[i]);
  return max;
}

double LogSumExp(std::span<const float> logits) {
  const float max = MaxLogit(logits);
  if (max == kNegInf) return kNegInf;
  // Exponentials in float blocks, summed in double: one loop mixing both does not vectorise.
  constexpr size_t kBlock = 256;
  float block[kBlock];
  double sum = 0.0;
  for (size_t begin = 0; begin < logits.size(); begin += kBlock) {
    const size_t size = std::min(kBlock, logits.size() - begin);
    const float* chunk = logits.data() + begin;
#pragma omp simd
    for (size_t i = 0; i < size; ++i) block[i] = ExpNonPositive(chunk[i] - max);
    sum += SumWeights(block, size);
  }
  return max + std::log(sum);
}

void ApplyPenalties(std::span<float> logits, const SamplingParams& params,
                    const SamplingContext& context, SamplingWorkspace& workspace) {
  workspace.penalised_tokens.clear();
  workspace.penalised_raw_logits.clear();
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool additive = params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
  if (!repetition && !additive) return;
  const size_t vocab = logits.size();
  GrowTo(workspace.seen, vocab);
  GrowTo(workspace.output_counts, vocab);
  const auto touch = [&](int32_t token) {
    if (workspace.seen[token]) return;
    workspace.seen[token] = 1;
    workspace.penalised_tokens.push_back(token);
    workspace.penalised_raw_logits.push_back(logits[token]);
  };
  for (int32_t token : context.output) {
    if (!ValidToken(token, vocab)) continue;
    touch(token);
    ++workspace.output_counts[token];
  }
  if (repetition) {
    for (int32_t token : context.prompt) {
      if (ValidToken(token, vocab)) touch(token);
    }
  }
  for (int32_t token : workspace.penalised_tokens) {
    float logit = logits[token];
    if (repetition) {
      logit = logit > 0.0f ? logit / params.repetition_penalty : logit * params.repetition_penalty;
    }
    const int32_t count = workspace.output_counts[token];
    if (additive && count > 0) {
      logit -= params.frequency_penalty * static_cast<float>(count);
      logit -= params.presence_penalty;
    }
    logits[token] = Sanitized(logit);  // extreme penalties may overflow
    workspace.seen[token] = 0;
    workspace.output_counts[token] = 0;
  }
}

float LogitBeforePenalties(std::span<const float> logits, int32_t token,
                           const SamplingWorkspace& workspace) {
  const auto& tokens = workspace.penalised_tokens;
  const auto it = std::find(tokens.begin(), tokens.end(), token);
  if (it == tokens.end()) return logits[token];
  return workspace.penalised_raw_logits[it - tokens.begin()];
}

int32_t ArgMax(std::span<const float> logits) {
  const float max = MaxLogit(logits);
  return static_cast<int32_t>(std::find(logits.begin(), logits.end(), max) - logits.begin());
}

CandidateSet SelectCandidates(std::span<const float> scores, const SamplingParams& params,
                              SamplingWorkspace& workspace) {
  const float max_score = MaxLogit(scores);
  const float threshold = TopKThreshold(scores, params.top_k, workspace);
  size_t count = CollectCandidates(scores, threshold, max_score, params.temperature, workspace);
  const double top_k_mass =
      params.top_p < 1.0f ? SumWeights(workspace.candidate_weights.data(), count) : 0.0;
  // min-p removes a suffix of the most-probable-first order and top-p keeps a prefix of it, so
  // filtering min-p first leaves the same set as the documented top-p-then-min-p order while
  // giving top-p fewer candidates to search. top-p still normalises over the top-k set.
  if (params.min_p > 0.0f) count = KeepWeightAtLeast(params.min_p, count, workspace);
  if (params.top_p < 1.0f) {
    const double mass_limit = params.top_p * top_k_mass;
    count = PrefilterForTopP(mass_limit, count, workspace);
    const uint32_t least_kept = LeastProbableTopPKept(mass_limit, count, workspace);
    count = KeepUpTo(least_kept, count, workspace);
  }
  CandidateSet candidates;
  candidates.tokens = {workspace.candidate_tokens.data(), count};
  candidates.weights = {workspace.candidate_weights.data(), count};
  candidates.total_weight = SumWeights(workspace.candidate_weights.data(), count);
  return candidates;
}

int32_t DrawCandidate(const CandidateSet& candidates, double uniform) {
  const double target = uniform * candidates.total_weight;
  const float* weights = candidates.weights.data();
  const size_t count = candidates.tokens.size();
  double cumulative = 0.0;
  size_t begin = 0;
  for (; begin < count; begin += kDrawBlock) {
    const double block = SumWeights(weights + begin, std::min(kDrawBlock, count - begin));
    if (cumulative + block > target) break;
    cumulative += block;
  }
  for (size_t i = begin; i < count; ++i) {
    cumulative += weights[i];
    if (cumulative > target && weights[i] > 0.0f) return candidates.tokens[i];
  }
  // Only reached when rounding leaves the running sum a hair under target.
  for (size_t i = count; i-- > 0;) {
    if (weights[i] > 0.0f) return candidates.tokens[i];
  }
  return candidates.tokens[0];
}

}  // namespace ribbon
