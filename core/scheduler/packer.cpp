#include "core/scheduler/packer.h"

#include <algorithm>
#include <numeric>

namespace ribbon::sched {
namespace {

void Add(Packing& p, SeqId id, int32_t num_tokens, int32_t padded_tokens = 0) {
  p.chunks.push_back({id, num_tokens, padded_tokens});
  p.real_tokens += num_tokens;
}

// One member of a padded batch: a sequence and its real tokens this step.
struct Row {
  const SeqState* seq;
  int32_t tokens;
};

// KV arithmetic for a padded batch whose rows are all `width` tokens wide.
class PaddedKv {
 public:
  explicit PaddedKv(const PackInput& in) : in_(in) {}

  // Blocks `seq` needs on top of what it holds when `width` rows of it write KV.
  int32_t Extra(const SeqState& seq, int32_t width) const {
    return std::max(0, BlocksFor(seq.num_computed + width, in_.block_size) - seq.blocks_held);
  }
  bool WithinSeqLimit(const SeqState& seq, int32_t width) const {
    return in_.max_blocks_per_seq <= 0 ||
           BlocksFor(seq.num_computed + width, in_.block_size) <= in_.max_blocks_per_seq;
  }
  // Blocks all of `rows` need at `width`.
  int64_t Total(std::span<const Row> rows, int32_t width) const {
    int64_t total = 0;
    for (const Row& r : rows) total += Extra(*r.seq, width);
    return total;
  }

 private:
  const PackInput& in_;
};

// Decode tokens first, one each, while the budget lasts; returns the budget left.
int32_t AddDecodes(const PackInput& in, Packing& p) {
  int32_t space = in.token_budget;
  for (const SeqState* d : in.decodes) {
    if (space == 0) break;
    Add(p, d->id, 1);
    --space;
  }
  return space;
}

}  // namespace

Packing PackFfd(const PackInput& in) {
  Packing p;
  int32_t space = AddDecodes(in, p);
  std::vector<size_t> loose;
  for (size_t i = 0; i < in.prefills.size(); ++i) {
    const Candidate& c = in.prefills[i];
    if (!c.pinned) {
      loose.push_back(i);
    } else if (space > 0) {
      const int32_t n = std::min(c.remaining, space);
      Add(p, c.seq->id, n);
      space -= n;
    }
  }
  std::vector<size_t> by_size = loose;
  std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    const Candidate& ca = in.prefills[a];
    const Candidate& cb = in.prefills[b];
    if (ca.seq->priority != cb.seq->priority) return ca.seq->priority > cb.seq->priority;
    return ca.remaining > cb.remaining;
  });
  std::vector<bool> placed(in.prefills.size(), false);
  for (size_t i : by_size) {
    const Candidate& c = in.prefills[i];
    if (c.remaining > space) continue;
    Add(p, c.seq->id, c.remaining);
    space -= c.remaining;
    placed[i] = true;
  }
  // Everything unplaced is larger than the space left: chunk the first in rank order into it.
  for (size_t i : loose) {
    if (space == 0) break;
    if (placed[i]) continue;
    Add(p, in.prefills[i].seq->id, space);
    space = 0;
  }
  p.ribbon_rows = AlignUp(p.real_tokens, in.align);
  return p;
}

Packing PackInOrder(const PackInput& in) {
  Packing p;
  int32_t space = AddDecodes(in, p);
  for (const Candidate& c : in.prefills) {
    const int32_t n = std::min(c.remaining, space);
    if (n <= 0) break;
    Add(p, c.seq->id, n);
    space -= n;
  }
  p.ribbon_rows = AlignUp(p.real_tokens, in.align);
  return p;
}

Packing PackPadded(const PackInput& in) {
  std::vector<Row> order;
  for (const SeqState* d : in.decodes) order.push_back({d, 1});
  for (const Candidate& c : in.prefills) {
    order.push_back({c.seq, std::min(c.remaining, in.token_budget)});
  }
  const PaddedKv kv(in);
  size_t batch = 0;
  int32_t width = 0;
  int64_t blocks = 0;  // KV blocks the first `batch` rows need at `width`
  for (const Row& row : order) {
    const int32_t new_width = std::max(width, row.tokens);
    if (static_cast<int64_t>(batch + 1) * new_width > in.token_budget) break;
    if (!kv.WithinSeqLimit(*row.seq, new_width)) break;
    const int64_t new_blocks = new_width == width
                                   ? blocks + kv.Extra(*row.seq, width)
                                   : kv.Total(std::span(order).first(batch + 1), new_width);
    if (new_blocks > in.kv_free_blocks) break;
    // Widening pads the earlier rows further; they must still fit one sequence's limit.
    bool widened_fits = true;
    for (size_t i = 0; i < batch && new_width != width; ++i) {
      widened_fits = widened_fits && kv.WithinSeqLimit(*order[i].seq, new_width);
    }
    if (!widened_fits) break;
    ++batch;
    width = new_width;
    blocks = new_blocks;
  }
  Packing p;
  for (size_t i = 0; i < batch; ++i) Add(p, order[i].seq->id, order[i].tokens, width);
  p.ribbon_rows = AlignUp(static_cast<int32_t>(batch) * width, in.align);
  return p;
}

}  // namespace ribbon::sched
