#include "core/scheduler/offline_planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ribbon::sched {
namespace {

// First-Fit over up to `max_bins` bins in O(log n) per item: a max segment tree over the space
// left in each bin (unopened bins are empty, so "first bin with room" is the first-fit choice).
class FirstFitBins {
 public:
  FirstFitBins(size_t max_bins, int32_t capacity) : leaves_(1) {
    while (leaves_ < max_bins) leaves_ *= 2;
    space_.assign(2 * leaves_, capacity);
  }

  // Puts `size` (<= capacity) into the first bin with room; returns the bin's index.
  size_t Place(int32_t size) {
    size_t node = 1;
    while (node < leaves_) node = space_[2 * node] >= size ? 2 * node : 2 * node + 1;
    const size_t bin = node - leaves_;
    space_[node] -= size;
    for (node /= 2; node >= 1; node /= 2) {
      space_[node] = std::max(space_[2 * node], space_[2 * node + 1]);
    }
    return bin;
  }

 private:
  size_t leaves_;
  std::vector<int32_t> space_;
};

void AddChunk(OfflineRibbon& ribbon, OfflineChunk chunk) {
  ribbon.real_tokens += chunk.num_tokens;
  ribbon.chunks.push_back(chunk);
}

OfflinePlan PlanPacked(std::span<const int32_t> lens, int32_t capacity) {
  OfflinePlan plan;
  std::vector<OfflineChunk> items;  // whole prompts and long prompts' tails
  for (int32_t i = 0; i < static_cast<int32_t>(lens.size()); ++i) {
    const int32_t full = lens[i] / capacity;
    if (lens[i] > capacity) {
      for (int32_t c = 0; c < full; ++c) {
        plan.ribbons.emplace_back();
        AddChunk(plan.ribbons.back(), {i, c * capacity, capacity});
      }
      if (lens[i] % capacity > 0) items.push_back({i, full * capacity, lens[i] % capacity});
    } else {
      items.push_back({i, 0, lens[i]});
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const OfflineChunk& a, const OfflineChunk& b) {
    return a.num_tokens > b.num_tokens;
  });
  const size_t first_bin = plan.ribbons.size();
  FirstFitBins bins(std::max<size_t>(items.size(), 1), capacity);
  for (const OfflineChunk& item : items) {
    const size_t ribbon = first_bin + bins.Place(item.num_tokens);
    if (ribbon >= plan.ribbons.size()) plan.ribbons.resize(ribbon + 1);
    AddChunk(plan.ribbons[ribbon], item);
  }
  return plan;
}

void FlushPadded(OfflinePlan& plan, std::vector<OfflineChunk>& batch, int32_t width) {
  if (batch.empty()) return;
  plan.ribbons.emplace_back();
  for (OfflineChunk& c : batch) {
    c.padded_tokens = width;
    AddChunk(plan.ribbons.back(), c);
  }
  plan.ribbons.back().rows = static_cast<int32_t>(batch.size()) * width;
  batch.clear();
}

OfflinePlan PlanPadded(std::span<const int32_t> lens, int32_t capacity) {
  OfflinePlan plan;
  std::vector<OfflineChunk> batch;
  int32_t width = 0;
  for (int32_t i = 0; i < static_cast<int32_t>(lens.size()); ++i) {
    if (lens[i] > capacity) {
      FlushPadded(plan, batch, width);
      for (int32_t offset = 0; offset < lens[i]; offset += capacity) {
        std::vector<OfflineChunk> alone{{i, offset, std::min(capacity, lens[i] - offset)}};
        FlushPadded(plan, alone, alone[0].num_tokens);
      }
      width = 0;
      continue;
    }
    const int32_t new_width = std::max(width, lens[i]);
    if (static_cast<int64_t>(batch.size() + 1) * new_width > capacity) {
      FlushPadded(plan, batch, width);
      width = lens[i];
    } else {
      width = new_width;
    }
    batch.push_back({i, 0, lens[i]});
  }
  FlushPadded(plan, batch, width);
  return plan;
}

}  // namespace

absl::StatusOr<OfflinePlan> PlanOffline(std::span<const int32_t> prompt_lens,
                                        const OfflinePlanOptions& options) {
  if (options.align < 1 || options.capacity < options.align) {
    return absl::InvalidArgumentError(absl::StrCat("offline plan: capacity ", options.capacity,
                                                   " and align ", options.align,
                                                   " need 1 <= align <= capacity"));
  }
  int64_t total = 0;
  for (size_t i = 0; i < prompt_lens.size(); ++i) {
    if (prompt_lens[i] < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("offline plan: prompt ", i, " has length ", prompt_lens[i]));
    }
    total += prompt_lens[i];
  }
  const int32_t capacity = AlignDown(options.capacity, options.align);
  OfflinePlan plan = options.mode == BatchingMode::kPadded ? PlanPadded(prompt_lens, capacity)
                                                           : PlanPacked(prompt_lens, capacity);
  plan.capacity = capacity;
  plan.real_tokens = total;
  plan.lower_bound = (total + capacity - 1) / capacity;
  for (OfflineRibbon& r : plan.ribbons) {
    r.rows = AlignUp(std::max(r.rows, r.real_tokens), options.align);
    plan.rows += r.rows;
  }
  return plan;
}

}  // namespace ribbon::sched
