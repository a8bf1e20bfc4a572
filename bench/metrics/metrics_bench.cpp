// metrics_bench: what recording metrics costs on the hot path.
//   - ns per Counter::Inc and Histogram::Observe, on one thread and on 2 threads hammering the
//     same child (next to a single shared atomic, the design the per-thread shards avoid);
//   - ns to record one engine step (MetricsObserver::OnStep) and one finished request
//     (OnRequestFinished), and their share of a typical 5 ms step;
//   - the cost of one scrape (Registry::Serialize) of the whole catalogue, off the hot path.
// Figures are medians of 5 runs. Usage: metrics_bench [iterations_per_run]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/metrics/metrics_observer.h"
#include "core/metrics/registry.h"
#include "core/metrics/ribbon_metrics.h"

namespace ribbon::metrics {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRuns = 5;
constexpr double kTypicalStepSeconds = 5e-3;

// Median over kRuns of the ns per operation when `threads` threads each run `op` `iterations`
// times at once (the wall time of a run divided by the operations of one thread).
template <typename Op>
double NsPerOp(int threads, int64_t iterations, const Op& op) {
  std::vector<double> runs;
  for (int run = 0; run < kRuns; ++run) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) {
        }
        for (int64_t i = 0; i < iterations; ++i) op(i);
      });
    }
    while (ready.load() < threads) {
    }
    const auto start = Clock::now();
    go.store(true, std::memory_order_release);
    for (auto& worker : workers) worker.join();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    runs.push_back(ns / static_cast<double>(iterations));
  }
  std::sort(runs.begin(), runs.end());
  return runs[kRuns / 2];
}

StepReport TypicalStep(int64_t i) {
  StepReport step;
  step.capacity = 2048;
  step.real_tokens = 1500 + static_cast<int32_t>(i % 400);
  step.ribbon_rows = step.real_tokens + static_cast<int32_t>(i % 64);
  step.prompt_tokens = step.real_tokens - 64;
  step.decode_tokens = 64;
  step.preempted = i % 100 == 0 ? 1 : 0;
  step.schedule_seconds = 3e-5;
  step.forward_seconds = 4.6e-3 + 1e-6 * static_cast<double>(i % 100);
  step.sample_seconds = 3e-4;
  return step;
}

FinishInfo TypicalFinish(int64_t i) {
  FinishInfo info;
  info.status = absl::OkStatus();
  info.reason = i % 3 == 0 ? FinishReason::kStopToken : FinishReason::kLength;
  info.prompt_tokens = 200 + static_cast<int32_t>(i % 300);
  info.generated_tokens = 1 + static_cast<int32_t>(i % 256);
  info.arrival = 1'000'000'000 + i;
  info.first_scheduled = info.arrival + 2'000'000;
  info.first_token = info.arrival + 40'000'000;
  info.finished = info.first_token + 12'000'000LL * info.generated_tokens;
  return info;
}

void Report(const char* what, double ns) { std::printf("  %-52s %8.1f ns\n", what, ns); }

}  // namespace

int Main(int64_t iterations) {
  Registry registry;
  auto registered = RibbonMetrics::Register(registry, {});
  if (!registered.ok()) {
    std::fprintf(stderr, "%s\n", registered.status().ToString().c_str());
    return 1;
  }
  const RibbonMetrics& m = *registered;
  MetricsObserver observer(m);
  std::atomic<uint64_t> shared_atomic{0};
  alignas(64) std::atomic<uint64_t> padding_guard{0};  // keeps shared_atomic's line to itself
  (void)padding_guard;

  std::printf(
      "ribbon_metrics hot path (%lld iterations per run, median of %d runs, %u hw threads)\n",
      static_cast<long long>(iterations), kRuns, std::thread::hardware_concurrency());
  Report("Counter::Inc, 1 thread", NsPerOp(1, iterations, [&](int64_t) { m.steps->Inc(); }));
  Report("Counter::Inc, 2 threads, same counter",
         NsPerOp(2, iterations, [&](int64_t) { m.steps->Inc(); }));
  Report("(reference) one shared atomic fetch_add, 2 threads", NsPerOp(2, iterations, [&](int64_t) {
           shared_atomic.fetch_add(1, std::memory_order_relaxed);
         }));
  Report("Gauge::Set, 1 thread",
         NsPerOp(1, iterations, [&](int64_t i) { m.requests_running->Set(i); }));
  auto observe = [&](int64_t i) {
    m.time_to_first_token->Observe(1e-3 * static_cast<double>(i % 5000));
  };
  Report("Histogram::Observe (22 bounds), 1 thread", NsPerOp(1, iterations, observe));
  Report("Histogram::Observe (22 bounds), 2 threads, same child", NsPerOp(2, iterations, observe));

  const int64_t step_iterations = std::max<int64_t>(iterations / 10, 1000);
  const double step_ns =
      NsPerOp(1, step_iterations, [&](int64_t i) { observer.OnStep(TypicalStep(i)); });
  const double finish_ns = NsPerOp(1, step_iterations, [&](int64_t i) {
    observer.OnRequestFinished(GenerationRequest{}, TypicalFinish(i));
  });
  Report("MetricsObserver::OnStep (one step)", step_ns);
  Report("MetricsObserver::OnRequestFinished (one request)", finish_ns);
  constexpr int kFinishesPerStep = 8;  // generous: most steps finish no request at all
  const double per_step_ns = step_ns + kFinishesPerStep * finish_ns;
  std::printf(
      "  one step + %d finished requests = %.0f ns = %.4f%% of a %.0f ms step (goal < 1%%)\n",
      kFinishesPerStep, per_step_ns, 100.0 * per_step_ns * 1e-9 / kTypicalStepSeconds,
      kTypicalStepSeconds * 1e3);

  std::vector<double> scrapes;
  size_t bytes = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto start = Clock::now();
    bytes = registry.Serialize().size();
    scrapes.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(scrapes.begin(), scrapes.end());
  std::printf("  Registry::Serialize, full catalogue: %.1f us for %zu bytes (scrape path)\n",
              scrapes[kRuns / 2], bytes);
  return 0;
}

}  // namespace ribbon::metrics

int main(int argc, char** argv) {
  const int64_t iterations = argc > 1 ? std::atoll(argv[1]) : 20'000'000;
  return ribbon::metrics::Main(iterations);
}
