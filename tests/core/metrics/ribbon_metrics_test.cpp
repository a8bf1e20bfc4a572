#include "core/metrics/ribbon_metrics.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "tests/core/metrics/scrape_parser.h"

namespace ribbon::metrics {
namespace {

using testing::ParseScrape;
using testing::Scrape;

struct Catalogued {
  Registry registry;
  RibbonMetrics metrics;

  explicit Catalogued(RibbonMetricsOptions options = {}) {
    options.build = {"0.1.0", "abc123", "2.11.0", "12.4"};
    auto registered = RibbonMetrics::Register(registry, options);
    REQUIRE(registered.ok());
    metrics = *registered;
  }
  Scrape Read() const { return ParseScrape(registry.Serialize()); }
};

// The label names (le excluded) seen on a family's samples.
std::set<std::string> LabelNames(const Scrape& scrape, const std::string& family) {
  std::set<std::string> names;
  for (const auto& sample : scrape.samples) {
    if (sample.name.rfind(family, 0) != 0) continue;
    const std::string suffix = sample.name.substr(family.size());
    if (!suffix.empty() && suffix != "_bucket" && suffix != "_sum" && suffix != "_count") continue;
    for (const auto& [name, value] : sample.labels) {
      if (name != "le") names.insert(name);
    }
  }
  return names;
}

TEST_CASE("the catalogue has the issue's names, types and labels, and nothing else") {
  const std::map<std::string, std::pair<std::string, std::set<std::string>>> expected = {
      {"ribbon_prompt_tokens_total", {"counter", {}}},
      {"ribbon_generation_tokens_total", {"counter", {}}},
      {"ribbon_requests_total", {"counter", {"code"}}},
      {"ribbon_request_success_total", {"counter", {"finish_reason"}}},
      {"ribbon_preemptions_total", {"counter", {}}},
      {"ribbon_oom_recoveries_total", {"counter", {}}},
      {"ribbon_steps_total", {"counter", {}}},
      {"ribbon_prefix_cache_queries_total", {"counter", {}}},
      {"ribbon_prefix_cache_hits_total", {"counter", {}}},
      {"ribbon_prefix_cache_evictions_total", {"counter", {}}},
      {"ribbon_prefix_cache_blocks", {"gauge", {}}},
      {"ribbon_requests_running", {"gauge", {}}},
      {"ribbon_requests_waiting", {"gauge", {}}},
      {"ribbon_kv_cache_usage_ratio", {"gauge", {}}},
      {"ribbon_kv_blocks", {"gauge", {"state"}}},
      {"ribbon_probe_max_ribbon_tokens", {"gauge", {}}},
      {"ribbon_memory_bytes", {"gauge", {"kind"}}},
      {"ribbon_build_info", {"gauge", {"version", "commit", "torch", "cuda"}}},
      {"ribbon_time_to_first_token_seconds", {"histogram", {}}},
      {"ribbon_inter_token_latency_seconds", {"histogram", {}}},
      {"ribbon_e2e_request_latency_seconds", {"histogram", {}}},
      {"ribbon_request_queue_time_seconds", {"histogram", {}}},
      {"ribbon_step_duration_seconds", {"histogram", {"phase"}}},
      {"ribbon_ribbon_tokens", {"histogram", {}}},
      {"ribbon_ribbon_fill_ratio", {"histogram", {}}},
      {"ribbon_ribbon_padding_ratio", {"histogram", {}}},
      {"ribbon_request_prompt_tokens", {"histogram", {}}},
      {"ribbon_request_generation_tokens", {"histogram", {}}},
  };
  Catalogued c;
  const Scrape scrape = c.Read();
  CHECK(scrape.types.size() == expected.size());
  for (const auto& [name, type_and_labels] : expected) {
    INFO(name);
    REQUIRE(scrape.types.count(name) == 1);
    CHECK(scrape.types.at(name) == type_and_labels.first);
    CHECK(LabelNames(scrape, name) == type_and_labels.second);
  }
}

TEST_CASE("every series of the catalogue exists, at 0, before anything is recorded") {
  Catalogued c;
  const Scrape scrape = c.Read();
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "OK"}}) == 0);
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "RESOURCE_EXHAUSTED"}}) == 0);
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "UNAUTHENTICATED"}}) == 0);
  for (const char* reason : {"stop", "length", "stop_string", "cancelled", "deadline", "error"}) {
    CHECK(scrape.Value("ribbon_request_success_total", {{"finish_reason", reason}}) == 0);
  }
  for (const char* phase : {"schedule", "forward", "sample", "host_gap"}) {
    CHECK(scrape.Value("ribbon_step_duration_seconds_count", {{"phase", phase}}) == 0);
  }
  for (const char* kind : {"weights", "kv_cache", "activations"}) {
    CHECK(scrape.Value("ribbon_memory_bytes", {{"kind", kind}}) == 0);
  }
  CHECK(scrape.Value("ribbon_oom_recoveries_total") == 0);
  CHECK(scrape.Value("ribbon_time_to_first_token_seconds_count") == 0);
  CHECK(scrape.Value(
            "ribbon_build_info",
            {{"version", "0.1.0"}, {"commit", "abc123"}, {"torch", "2.11.0"}, {"cuda", "12.4"}}) ==
        1);
}

TEST_CASE("vLLM's bucket bounds are all kept where the metrics overlap") {
  const std::vector<double> vllm_ttft = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                         0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                         20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
  const std::vector<double> vllm_tpot = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
  const std::vector<double> vllm_request = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                            5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                            60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
  auto keeps = [](const std::vector<double>& ours, const std::vector<double>& theirs) {
    return std::includes(ours.begin(), ours.end(), theirs.begin(), theirs.end());
  };
  CHECK(catalogue_buckets::TimeToFirstToken() == vllm_ttft);
  CHECK(keeps(catalogue_buckets::InterTokenLatency(), vllm_tpot));
  CHECK(keeps(catalogue_buckets::RequestLatency(), vllm_request));
  CHECK(catalogue_buckets::InterTokenLatency().front() == 0.001);
  CHECK(catalogue_buckets::RequestLatency().front() == 0.001);
}

TEST_CASE("token histograms and the ribbon histogram follow the configured sizes") {
  RibbonMetricsOptions options;
  options.max_model_len = 1000;
  options.max_ribbon_tokens = 300;
  Catalogued c(options);
  const Scrape scrape = c.Read();
  std::vector<std::string> prompt_bounds, ribbon_bounds;
  for (const auto& sample : scrape.samples) {
    if (sample.name == "ribbon_request_prompt_tokens_bucket")
      prompt_bounds.push_back(sample.labels.at("le"));
    if (sample.name == "ribbon_ribbon_tokens_bucket")
      ribbon_bounds.push_back(sample.labels.at("le"));
  }
  CHECK(prompt_bounds == std::vector<std::string>{"1", "2", "5", "10", "20", "50", "100", "200",
                                                  "500", "1000", "+Inf"});
  CHECK(ribbon_bounds ==
        std::vector<std::string>{"1", "2", "4", "8", "16", "32", "64", "128", "256", "+Inf"});
}

TEST_CASE("engine stats refresh the state gauges") {
  Catalogued c;
  EngineStats stats;
  stats.running = 5;
  stats.waiting = 9;
  stats.kv_blocks_total = 200;
  stats.kv_blocks_free = 50;
  c.metrics.UpdateFromEngineStats(stats);
  Scrape scrape = c.Read();
  CHECK(scrape.Value("ribbon_requests_running") == 5);
  CHECK(scrape.Value("ribbon_requests_waiting") == 9);
  CHECK(scrape.Value("ribbon_kv_blocks", {{"state", "free"}}) == 50);
  CHECK(scrape.Value("ribbon_kv_blocks", {{"state", "used"}}) == 150);
  CHECK(scrape.Value("ribbon_kv_cache_usage_ratio") == 0.75);

  c.metrics.UpdateFromEngineStats(EngineStats{});  // drained, and no KV cache: no division by 0
  scrape = c.Read();
  CHECK(scrape.Value("ribbon_requests_running") == 0);
  CHECK(scrape.Value("ribbon_requests_waiting") == 0);
  CHECK(scrape.Value("ribbon_kv_cache_usage_ratio") == 0);
}

TEST_CASE("requests are counted by status code name") {
  Catalogued c;
  c.metrics.CountRequest(absl::StatusCode::kResourceExhausted);
  c.metrics.CountRequest(absl::StatusCode::kResourceExhausted);
  c.metrics.CountRequest(absl::StatusCode::kInvalidArgument);
  c.metrics.CountRequest(static_cast<absl::StatusCode>(99));  // not a code: counted as UNKNOWN
  const Scrape scrape = c.Read();
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "RESOURCE_EXHAUSTED"}}) == 2);
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "INVALID_ARGUMENT"}}) == 1);
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "UNKNOWN"}}) == 1);
  CHECK(scrape.Value("ribbon_requests_total", {{"code", "OK"}}) == 0);
}

TEST_CASE("registering the catalogue twice in one registry fails cleanly") {
  Catalogued c;
  CHECK(RibbonMetrics::Register(c.registry, {}).status().code() ==
        absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace ribbon::metrics
