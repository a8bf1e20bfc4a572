#include "core/metrics/registry.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

namespace ribbon::metrics {
namespace {

TEST_CASE("an unlabelled counter is exported as 0 from registration and counts exactly") {
  Registry registry;
  auto family = registry.AddCounter({"jobs_total", "Jobs done.", {}});
  REQUIRE(family.ok());
  CHECK(registry.Serialize() ==
        "# HELP jobs_total Jobs done.\n"
        "# TYPE jobs_total counter\n"
        "jobs_total 0\n");
  auto counter = (*family)->WithLabels({});
  REQUIRE(counter.ok());
  (*counter)->Inc();
  (*counter)->Inc(41);
  CHECK((*counter)->Value() == 42);
  CHECK(registry.Serialize() ==
        "# HELP jobs_total Jobs done.\n"
        "# TYPE jobs_total counter\n"
        "jobs_total 42\n");
}

TEST_CASE("labelled children appear when first used, sorted by label values, escaped") {
  Registry registry;
  auto family = registry.AddCounter({"http_requests_total", "Requests.", {"code", "path"}});
  REQUIRE(family.ok());
  CHECK(registry.Serialize() ==
        "# HELP http_requests_total Requests.\n"
        "# TYPE http_requests_total counter\n");
  (*(*family)->WithLabels({"500", "/a"}))->Inc(2);
  (*(*family)->WithLabels({"200", "say \"x\"\\\n"}))->Inc(1);
  CHECK(registry.Serialize() ==
        "# HELP http_requests_total Requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{code=\"200\",path=\"say \\\"x\\\"\\\\\\n\"} 1\n"
        "http_requests_total{code=\"500\",path=\"/a\"} 2\n");
}

TEST_CASE("the same label values give the same child, at a stable address") {
  Registry registry;
  auto family = registry.AddGauge({"temperature", "Degrees.", {"room"}});
  REQUIRE(family.ok());
  Gauge* kitchen = *(*family)->WithLabels({"kitchen"});
  for (int i = 0; i < 100; ++i) {
    REQUIRE((*family)->WithLabels({"room" + std::to_string(i)}).ok());
  }
  CHECK(*(*family)->WithLabels({"kitchen"}) == kitchen);
}

TEST_CASE("gauges set, add and print as doubles; families print in registration order") {
  Registry registry;
  Gauge* b = *(*registry.AddGauge({"b_ratio", "B.", {}}))->WithLabels({});
  Gauge* a = *(*registry.AddGauge({"a_bytes", "A.", {}}))->WithLabels({});
  b->Set(0.25);
  a->Set(1e10);
  a->Add(-0.5);
  CHECK(registry.Serialize() ==
        "# HELP b_ratio B.\n# TYPE b_ratio gauge\nb_ratio 0.25\n"
        "# HELP a_bytes A.\n# TYPE a_bytes gauge\na_bytes 9.9999999995e+09\n");
}

TEST_CASE("callback gauges are read at scrape time") {
  Registry registry;
  auto family = registry.AddCallbackGauge({"queue_depth", "Queued.", {"queue"}});
  REQUIRE(family.ok());
  double depth = 3;
  (*(*family)->WithLabels({"main"}))->SetCallback([&depth] { return depth; });
  (*(*family)->WithLabels({"unset"}))->SetCallback(nullptr);
  const std::string expected_prefix = "# HELP queue_depth Queued.\n# TYPE queue_depth gauge\n";
  CHECK(registry.Serialize() ==
        expected_prefix + "queue_depth{queue=\"main\"} 3\nqueue_depth{queue=\"unset\"} 0\n");
  depth = 7.5;
  CHECK(registry.Serialize() ==
        expected_prefix + "queue_depth{queue=\"main\"} 7.5\nqueue_depth{queue=\"unset\"} 0\n");
}

TEST_CASE("a histogram writes cumulative buckets, +Inf, _sum and _count") {
  Registry registry;
  auto family = registry.AddHistogram({"latency_seconds", "Latency.", {"phase"}}, {0.125, 0.5, 1});
  REQUIRE(family.ok());
  Histogram* h = *(*family)->WithLabels({"fwd"});
  // Binary-exact values, so the sum prints exactly whatever the order of addition.
  for (double v : {0.0625, 0.125, 0.25, 2.0, 0.75}) h->Observe(v);
  CHECK(registry.Serialize() ==
        "# HELP latency_seconds Latency.\n"
        "# TYPE latency_seconds histogram\n"
        "latency_seconds_bucket{phase=\"fwd\",le=\"0.125\"} 2\n"
        "latency_seconds_bucket{phase=\"fwd\",le=\"0.5\"} 3\n"
        "latency_seconds_bucket{phase=\"fwd\",le=\"1\"} 4\n"
        "latency_seconds_bucket{phase=\"fwd\",le=\"+Inf\"} 5\n"
        "latency_seconds_sum{phase=\"fwd\"} 3.1875\n"
        "latency_seconds_count{phase=\"fwd\"} 5\n");
}

TEST_CASE("an unlabelled histogram has only le on its buckets") {
  Registry registry;
  auto family = registry.AddHistogram({"size_bytes", "Size.", {}}, {1024});
  REQUIRE(family.ok());
  (*(*family)->WithLabels({}))->Observe(4096);
  CHECK(registry.Serialize() ==
        "# HELP size_bytes Size.\n"
        "# TYPE size_bytes histogram\n"
        "size_bytes_bucket{le=\"1024\"} 0\n"
        "size_bytes_bucket{le=\"+Inf\"} 1\n"
        "size_bytes_sum 4096\n"
        "size_bytes_count 1\n");
}

TEST_CASE("help text with newlines and backslashes is escaped") {
  Registry registry;
  REQUIRE(registry.AddGauge({"g", "line one\nline \\two", {}}).ok());
  CHECK(registry.Serialize() == "# HELP g line one\\nline \\\\two\n# TYPE g gauge\ng 0\n");
}

TEST_CASE("bad names, labels and buckets are rejected") {
  Registry registry;
  CHECK(registry.AddCounter({"bad-name", "x", {}}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddCounter({"c_total", "x", {"__reserved"}}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddCounter({"c_total", "x", {"a", "a"}}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddHistogram({"h", "x", {"le"}}, {1}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddHistogram({"h", "x", {}}, {1, 1}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddHistogram({"h", "x", {}}, {2, 1}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddHistogram({"h", "x", {}}, {1, INFINITY}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(registry.AddHistogram({"h", "x", {}}, {NAN}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // None of the rejected families was registered.
  CHECK(registry.Serialize().empty());
}

TEST_CASE("series names may not collide, histogram suffixes included") {
  Registry registry;
  REQUIRE(registry.AddHistogram({"req_seconds", "x", {}}, {1}).ok());
  CHECK(registry.AddCounter({"req_seconds_count", "x", {}}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(registry.AddGauge({"req_seconds", "x", {}}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  REQUIRE(registry.AddGauge({"other", "x", {}}).ok());
  CHECK(registry.AddHistogram({"other", "x", {}}, {1}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(registry.AddGauge({"other", "x", {}}).status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(registry.AddGauge({"other_sum", "x", {}}).ok());  // "other" is no histogram
}

TEST_CASE("label value count must match the label names") {
  Registry registry;
  auto family = registry.AddCounter({"c_total", "x", {"a", "b"}});
  REQUIRE(family.ok());
  CHECK((*family)->WithLabels({"only one"}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK((*family)->WithLabels({"1", "2", "3"}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK((*family)->WithLabels({"1", "2"}).ok());
}

}  // namespace
}  // namespace ribbon::metrics
