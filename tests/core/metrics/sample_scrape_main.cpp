// metrics_sample_scrape: prints a scrape of the full RibbonMetrics catalogue after a small
// sample load. The PromQL test checks that every metric the dashboard and the alerts name is
// in it; it is also handy for eyeballing the exposition.
#include <iostream>

#include "core/metrics/registry.h"
#include "core/metrics/ribbon_metrics.h"
#include "tests/core/metrics/sample_traffic.h"

int main() {
  ribbon::metrics::Registry registry;
  auto metrics =
      ribbon::metrics::RibbonMetrics::Register(registry, ribbon::metrics::testing::SampleOptions());
  if (!metrics.ok()) {
    std::cerr << metrics.status() << "\n";
    return 1;
  }
  ribbon::metrics::testing::RecordSampleTraffic(*metrics);
  std::cout << registry.Serialize();
  return 0;
}
