// Test helper: records a small, varied load into a RibbonMetrics (finished requests of every
// kind, steps, rejections, engine stats, memory and probe gauges), so that every family of the
// catalogue has samples. Used by the promtool test and by the sample-scrape tool.
#pragma once

#include "core/metrics/ribbon_metrics.h"

namespace ribbon::metrics::testing {

RibbonMetricsOptions SampleOptions();
void RecordSampleTraffic(const RibbonMetrics& metrics);

}  // namespace ribbon::metrics::testing
