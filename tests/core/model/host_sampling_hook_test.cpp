// HostSamplingRunner's ForwardAndSample hook (the CUDA runner samples on its device through it):
// when a subclass samples the step itself its tokens are the step's output, ComputeLogits is not
// called and the next step's linked rows read those tokens; when it declines, the step is
// computed and sampled on the host as before; its errors are the step's errors.
#include <catch2/catch.hpp>
#include <vector>

#include "core/model/host_sampling_runner.h"
#include "core/plan/plan_builder.h"

namespace ribbon::testing {
namespace {

constexpr int32_t kVocab = 11;

// Host "model": every sample row's logits are one-hot at (its row token + 1) % kVocab.
class HookRunner final : public HostSamplingRunner {
 public:
  HookRunner() {
    config_.vocab_size = kVocab;
    config_.max_position_embeddings = 64;
  }
  const ModelConfig& config() const override { return config_; }
  std::string Describe() const override { return "hook runner"; }
  int64_t weight_bytes() const override { return 0; }
  int64_t KvBytesPerBlock(int32_t) const override { return 0; }
  absl::Status AllocateKvCache(int32_t num_blocks, int32_t block_size) override {
    num_blocks_ = num_blocks;
    block_size_ = block_size;
    return absl::OkStatus();
  }

  absl::StatusOr<bool> device_answer = false;  // what ForwardAndSample returns
  int32_t device_token = 7;                    // the token it samples for every row
  int compute_calls = 0, device_calls = 0;
  std::vector<int32_t> last_row_tokens;

 protected:
  PlanLimits Limits() const override { return {kVocab, 64, num_blocks_, block_size_}; }
  bool HasKvCache() const override { return num_blocks_ > 0; }
  absl::Status ComputeLogits(const StepPlan& plan, std::span<const int32_t> row_tokens,
                             std::span<float> logits) override {
    ++compute_calls;
    for (size_t i = 0; i < plan.sample_rows.size(); ++i) {
      for (int32_t v = 0; v < kVocab; ++v) logits[i * kVocab + v] = 0.0f;
      logits[i * kVocab + (row_tokens[plan.sample_rows[i]] + 1) % kVocab] = 5.0f;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<bool> ForwardAndSample(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                        StepOutput& out) override {
    ++device_calls;
    last_row_tokens.assign(row_tokens.begin(), row_tokens.end());
    if (!device_answer.ok() || !*device_answer) return device_answer;
    out.sampled.assign(plan.sample_rows.size(), SampledToken{.token = device_token});
    return true;
  }

 private:
  ModelConfig config_;
  int32_t num_blocks_ = 0, block_size_ = 16;
};

// One sequence: `tokens` from position `start`, then a row linked to output 0 when `link`.
StepPlan Plan(std::vector<int32_t> tokens, int32_t start, bool link) {
  static const std::vector<int32_t> table = {0, 1};
  static std::vector<int32_t> kept;  // the plan's tokens span must outlive Add
  kept = tokens;
  StepPlan plan;
  PlanBuilder builder(16, 64);
  builder.Reset(plan);
  SegmentSpec segment{.tokens = kept,
                      .start = start,
                      .num_tokens = static_cast<int32_t>(kept.size()) + (link ? 1 : 0),
                      .block_table = table,
                      .link_source = link ? 0 : -1,
                      .sample = RowSampling{}};
  REQUIRE(builder.Add(segment).ok());
  builder.Finish({});
  return plan;
}

TEST_CASE("a subclass that samples the step itself gives the step's tokens") {
  HookRunner runner;
  REQUIRE(runner.AllocateKvCache(2, 16).ok());
  runner.device_answer = true;
  StepOutput out;
  REQUIRE(runner.Run(Plan({1, 2, 3}, 0, false), out).ok());
  REQUIRE(out.sampled.size() == 1);
  CHECK(out.sampled[0].token == 7);
  CHECK(runner.compute_calls == 0);
  CHECK(runner.last_row_tokens == std::vector<int32_t>{1, 2, 3});

  // The next step's linked row takes the device-sampled token; declined, it runs on the host.
  runner.device_answer = false;
  REQUIRE(runner.Run(Plan({}, 3, true), out).ok());
  CHECK(runner.last_row_tokens == std::vector<int32_t>{7});
  CHECK(runner.compute_calls == 1);
  REQUIRE(out.sampled.size() == 1);
  CHECK(out.sampled[0].token == 8);  // the host "model": (7 + 1) % 11
}

TEST_CASE("the hook's error is the step's error") {
  HookRunner runner;
  REQUIRE(runner.AllocateKvCache(2, 16).ok());
  runner.device_answer = absl::ResourceExhaustedError("device out of memory");
  StepOutput out;
  const absl::Status status = runner.Run(Plan({1, 2}, 0, false), out);
  CHECK(status.code() == absl::StatusCode::kResourceExhausted);
  CHECK(runner.compute_calls == 0);
}

}  // namespace
}  // namespace ribbon::testing
