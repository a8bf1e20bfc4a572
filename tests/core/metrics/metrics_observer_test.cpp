#include "core/metrics/metrics_observer.h"

#include <catch2/catch.hpp>

#include <memory>

#include "tests/core/metrics/scrape_parser.h"

namespace ribbon::metrics {
namespace {

using testing::ParseScrape;
using testing::Scrape;

constexpr TimeNs kMs = 1'000'000;

struct Observed {
  Registry registry;
  std::shared_ptr<EngineObserver> observer;  // used through the engine's interface

  Observed() {
    auto metrics = RibbonMetrics::Register(registry, {});
    REQUIRE(metrics.ok());
    observer = std::make_shared<MetricsObserver>(*metrics);
  }
  Scrape Read() const { return ParseScrape(registry.Serialize()); }
};

FinishInfo Info(FinishReason reason, absl::Status status, int32_t prompt, int32_t generated) {
  FinishInfo info;
  info.reason = reason;
  info.status = std::move(status);
  info.prompt_tokens = prompt;
  info.generated_tokens = generated;
  return info;
}

TEST_CASE("a completed request lands in every request metric with the right values") {
  Observed o;
  FinishInfo info = Info(FinishReason::kLength, absl::OkStatus(), 7, 5);
  info.arrival = 1000 * kMs;
  info.first_scheduled = 1250 * kMs;  // queued 0.25 s
  info.first_token = 1500 * kMs;      // TTFT 0.5 s
  info.finished = 3500 * kMs;         // e2e 2.5 s; 4 gaps over 2 s = 0.5 s each
  o.observer->OnRequestFinished(GenerationRequest{}, info);
  const Scrape s = o.Read();

  CHECK(s.Value("ribbon_requests_total", {{"code", "OK"}}) == 1);
  CHECK(s.Value("ribbon_request_success_total", {{"finish_reason", "length"}}) == 1);
  CHECK(s.Value("ribbon_request_success_total", {{"finish_reason", "stop"}}) == 0);
  CHECK(s.Value("ribbon_prompt_tokens_total") == 7);
  CHECK(s.Value("ribbon_generation_tokens_total") == 5);

  CHECK(s.Value("ribbon_request_queue_time_seconds_count") == 1);
  CHECK(s.Value("ribbon_request_queue_time_seconds_sum") == Approx(0.25));
  CHECK(s.Value("ribbon_request_queue_time_seconds_bucket", {{"le", "0.1"}}) == 0);
  CHECK(s.Value("ribbon_request_queue_time_seconds_bucket", {{"le", "0.3"}}) == 1);

  CHECK(s.Value("ribbon_time_to_first_token_seconds_count") == 1);
  CHECK(s.Value("ribbon_time_to_first_token_seconds_sum") == Approx(0.5));
  CHECK(s.Value("ribbon_time_to_first_token_seconds_bucket", {{"le", "0.25"}}) == 0);
  CHECK(s.Value("ribbon_time_to_first_token_seconds_bucket", {{"le", "0.5"}}) == 1);

  CHECK(s.Value("ribbon_e2e_request_latency_seconds_count") == 1);
  CHECK(s.Value("ribbon_e2e_request_latency_seconds_sum") == Approx(2.5));
  CHECK(s.Value("ribbon_e2e_request_latency_seconds_bucket", {{"le", "2"}}) == 0);
  CHECK(s.Value("ribbon_e2e_request_latency_seconds_bucket", {{"le", "2.5"}}) == 1);

  CHECK(s.Value("ribbon_inter_token_latency_seconds_count") == 4);
  CHECK(s.Value("ribbon_inter_token_latency_seconds_sum") == Approx(2.0));
  CHECK(s.Value("ribbon_inter_token_latency_seconds_bucket", {{"le", "0.4"}}) == 0);
  CHECK(s.Value("ribbon_inter_token_latency_seconds_bucket", {{"le", "0.5"}}) == 4);

  CHECK(s.Value("ribbon_request_prompt_tokens_count") == 1);
  CHECK(s.Value("ribbon_request_prompt_tokens_sum") == 7);
  CHECK(s.Value("ribbon_request_prompt_tokens_bucket", {{"le", "5"}}) == 0);
  CHECK(s.Value("ribbon_request_prompt_tokens_bucket", {{"le", "10"}}) == 1);
  CHECK(s.Value("ribbon_request_generation_tokens_sum") == 5);
}

TEST_CASE("a request cancelled while queued counts but has no queue, TTFT or ITL sample") {
  Observed o;
  FinishInfo info = Info(FinishReason::kCancelled, absl::CancelledError("gone"), 30, 0);
  info.arrival = 10 * kMs;
  info.finished = 60 * kMs;
  o.observer->OnRequestFinished(GenerationRequest{}, info);
  const Scrape s = o.Read();
  CHECK(s.Value("ribbon_requests_total", {{"code", "CANCELLED"}}) == 1);
  CHECK(s.Value("ribbon_requests_total", {{"code", "OK"}}) == 0);
  CHECK(s.Value("ribbon_request_success_total", {{"finish_reason", "cancelled"}}) == 0);
  CHECK(s.Value("ribbon_prompt_tokens_total") == 30);
  CHECK(s.Value("ribbon_generation_tokens_total") == 0);
  CHECK(s.Value("ribbon_request_queue_time_seconds_count") == 0);
  CHECK(s.Value("ribbon_time_to_first_token_seconds_count") == 0);
  CHECK(s.Value("ribbon_inter_token_latency_seconds_count") == 0);
  CHECK(s.Value("ribbon_e2e_request_latency_seconds_count") == 1);
  CHECK(s.Value("ribbon_e2e_request_latency_seconds_sum") == Approx(0.05));
}

TEST_CASE("a one-token request has a TTFT but no inter-token gap") {
  Observed o;
  FinishInfo info = Info(FinishReason::kStopToken, absl::OkStatus(), 3, 1);
  info.arrival = 1;
  info.first_scheduled = 2;
  info.first_token = 3 * kMs;
  info.finished = 4 * kMs;
  o.observer->OnRequestFinished(GenerationRequest{}, info);
  const Scrape s = o.Read();
  CHECK(s.Value("ribbon_request_success_total", {{"finish_reason", "stop"}}) == 1);
  CHECK(s.Value("ribbon_time_to_first_token_seconds_count") == 1);
  CHECK(s.Value("ribbon_inter_token_latency_seconds_count") == 0);
}

TEST_CASE("token counters add up over many requests to exactly what was sent and received") {
  Observed o;
  int64_t prompt_sum = 0, generated_sum = 0, gaps = 0;
  for (int32_t i = 0; i < 200; ++i) {
    const int32_t prompt = 1 + (i * 37) % 500;
    const int32_t generated = (i * 13) % 40;
    FinishInfo info = Info(i % 3 == 0 ? FinishReason::kStopToken : FinishReason::kLength,
                           absl::OkStatus(), prompt, generated);
    info.arrival = i * kMs;
    info.first_scheduled = info.arrival + kMs;
    info.first_token = generated > 0 ? info.arrival + 2 * kMs : 0;
    info.finished = info.arrival + (3 + generated) * kMs;
    o.observer->OnRequestFinished(GenerationRequest{}, info);
    prompt_sum += prompt;
    generated_sum += generated;
    if (generated >= 2) gaps += generated - 1;
  }
  const Scrape s = o.Read();
  CHECK(s.Value("ribbon_prompt_tokens_total") == prompt_sum);
  CHECK(s.Value("ribbon_generation_tokens_total") == generated_sum);
  CHECK(s.Value("ribbon_requests_total", {{"code", "OK"}}) == 200);
  CHECK(s.Value("ribbon_request_success_total", {{"finish_reason", "stop"}}) +
            s.Value("ribbon_request_success_total", {{"finish_reason", "length"}}) ==
        200);
  CHECK(s.Value("ribbon_e2e_request_latency_seconds_count") == 200);
  CHECK(s.Value("ribbon_request_generation_tokens_sum") == generated_sum);
  CHECK(s.Value("ribbon_inter_token_latency_seconds_count") == gaps);
}

TEST_CASE("a step records its ribbon shape, phase durations and preemptions") {
  Observed o;
  StepReport step;
  step.ribbon_rows = 16;
  step.real_tokens = 12;
  step.capacity = 24;
  step.prompt_tokens = 10;
  step.decode_tokens = 2;
  step.preempted = 2;
  step.schedule_seconds = 0.00002;
  step.forward_seconds = 0.004;
  step.sample_seconds = 0.0003;
  step.host_gap_seconds = 0.00004;
  step.prefix_query_tokens = 100;
  step.prefix_hit_tokens = 64;
  o.observer->OnStep(step);
  step.oom_recovered = true;
  step.prefix_query_tokens = 0;
  step.prefix_hit_tokens = 0;
  o.observer->OnStep(step);
  const Scrape s = o.Read();
  CHECK(s.Value("ribbon_steps_total") == 2);
  CHECK(s.Value("ribbon_preemptions_total") == 4);
  CHECK(s.Value("ribbon_oom_recoveries_total") == 1);
  CHECK(s.Value("ribbon_prefix_cache_queries_total") == 100);
  CHECK(s.Value("ribbon_prefix_cache_hits_total") == 64);
  CHECK(s.Value("ribbon_ribbon_tokens_sum") == 32);
  CHECK(s.Value("ribbon_ribbon_tokens_bucket", {{"le", "8"}}) == 0);
  CHECK(s.Value("ribbon_ribbon_tokens_bucket", {{"le", "16"}}) == 2);
  CHECK(s.Value("ribbon_ribbon_fill_ratio_sum") == 1.0);  // 0.5 twice
  CHECK(s.Value("ribbon_ribbon_fill_ratio_bucket", {{"le", "0.4"}}) == 0);
  CHECK(s.Value("ribbon_ribbon_fill_ratio_bucket", {{"le", "0.5"}}) == 2);
  CHECK(s.Value("ribbon_ribbon_padding_ratio_sum") == 0.5);  // 4/16 twice
  CHECK(s.Value("ribbon_ribbon_padding_ratio_bucket", {{"le", "0.2"}}) == 0);
  CHECK(s.Value("ribbon_ribbon_padding_ratio_bucket", {{"le", "0.3"}}) == 2);
  CHECK(s.Value("ribbon_step_duration_seconds_count", {{"phase", "forward"}}) == 2);
  CHECK(s.Value("ribbon_step_duration_seconds_sum", {{"phase", "forward"}}) == Approx(0.008));
  CHECK(s.Value("ribbon_step_duration_seconds_bucket", {{"phase", "forward"}, {"le", "0.0025"}}) ==
        0);
  CHECK(s.Value("ribbon_step_duration_seconds_bucket", {{"phase", "forward"}, {"le", "0.005"}}) ==
        2);
  CHECK(s.Value("ribbon_step_duration_seconds_bucket",
                {{"phase", "schedule"}, {"le", "2.5e-05"}}) == 2);
  CHECK(s.Value("ribbon_step_duration_seconds_bucket", {{"phase", "schedule"}, {"le", "1e-05"}}) ==
        0);
  CHECK(s.Value("ribbon_step_duration_seconds_sum", {{"phase", "sample"}}) == Approx(0.0006));
  CHECK(s.Value("ribbon_step_duration_seconds_sum", {{"phase", "host_gap"}}) == Approx(0.00008));
  CHECK(s.Value("ribbon_step_duration_seconds_bucket",
                {{"phase", "host_gap"}, {"le", "2.5e-05"}}) == 0);
}

TEST_CASE("a step with no padding lands in the le=0 padding bucket; an empty one skips ratios") {
  Observed o;
  StepReport full;
  full.ribbon_rows = full.real_tokens = full.capacity = 64;
  o.observer->OnStep(full);
  o.observer->OnStep(StepReport{});
  const Scrape s = o.Read();
  CHECK(s.Value("ribbon_steps_total") == 2);
  CHECK(s.Value("ribbon_ribbon_padding_ratio_bucket", {{"le", "0"}}) == 1);
  CHECK(s.Value("ribbon_ribbon_padding_ratio_count") == 1);
  CHECK(s.Value("ribbon_ribbon_fill_ratio_bucket", {{"le", "0.99"}}) == 0);
  CHECK(s.Value("ribbon_ribbon_fill_ratio_bucket", {{"le", "1"}}) == 1);
  CHECK(s.Value("ribbon_ribbon_fill_ratio_count") == 1);
  CHECK(s.Value("ribbon_ribbon_tokens_count") == 2);
}

}  // namespace
}  // namespace ribbon::metrics
