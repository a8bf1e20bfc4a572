// Lints scrapes with Prometheus' own checker, `promtool check metrics` (RIBBON_PROMTOOL, set by
// CMake; Debian's prometheus package). Any problem it reports fails the test.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/metrics/registry.h"
#include "core/metrics/ribbon_metrics.h"
#include "tests/core/metrics/sample_traffic.h"

namespace ribbon::metrics {
namespace {

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

std::string Promtool() {
  const char* configured = std::getenv("RIBBON_PROMTOOL");
  return configured != nullptr && *configured != '\0' ? configured : "promtool";
}

// Writes `scrape` to a file (kept next to the test for inspection) and lints it.
PromtoolResult CheckMetrics(const std::string& scrape, const std::string& file_name) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "_" + file_name);
  std::ofstream(path) << scrape;
  const std::string command = Promtool() + " check metrics < '" + path.string() + "' 2>&1";
  PromtoolResult result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(path);
  return result;
}

TEST_CASE("promtool accepts a scrape of the whole catalogue under a sample load") {
  Registry registry;
  auto metrics = RibbonMetrics::Register(registry, testing::SampleOptions());
  REQUIRE(metrics.ok());
  testing::RecordSampleTraffic(*metrics);
  const std::string scrape = registry.Serialize();
  REQUIRE(scrape.find("ribbon_generation_tokens_total 24\n") != std::string::npos);

  const PromtoolResult result = CheckMetrics(scrape, "ribbon_catalogue.prom");
  INFO("promtool (" << Promtool() << ") said:\n" << result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.empty());
}

TEST_CASE("promtool accepts escaped label values and special float values") {
  Registry registry;
  auto gauges = registry.AddGauge({"ribbon_test_odd_values", "Odd \"values\\\n.", {"text"}});
  REQUIRE(gauges.ok());
  (*(*gauges)->WithLabels({"quote\" backslash\\ newline\n"}))->Set(INFINITY);
  (*(*gauges)->WithLabels({"nan"}))->Set(NAN);
  (*(*gauges)->WithLabels({"tiny"}))->Set(5e-324);
  const PromtoolResult result = CheckMetrics(registry.Serialize(), "odd_values.prom");
  INFO("promtool said:\n" << result.output);
  CHECK(result.exit_code == 0);
}

TEST_CASE("the promtool check does fail on a problem (control)") {
  Registry registry;
  REQUIRE(registry.AddCounter({"ribbon_test_requests", "Counter without _total.", {}}).ok());
  const PromtoolResult result = CheckMetrics(registry.Serialize(), "control.prom");
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("_total") != std::string::npos);
}

}  // namespace
}  // namespace ribbon::metrics
