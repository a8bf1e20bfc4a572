#include "core/memory/capacity.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/common/status_macros.h"
#include "core/common/time.h"
#include "core/memory/device_memory.h"
#include "core/memory/host_memory.h"
#include "core/memory/probe_runner.h"
#include "spdlog/spdlog.h"

namespace ribbon::memory {
namespace {

constexpr int32_t kCpuStartRows = 16;
constexpr int32_t kCudaStartRows = 256;

// -1 for "cpu", N for "cuda" (0) or "cuda:N".
absl::StatusOr<int> DeviceIndex(const std::string& device) {
  if (device == "cpu") return -1;
  absl::string_view rest = device;
  int index = 0;
  if (absl::ConsumePrefix(&rest, "cuda") &&
      (rest.empty() ||
       (absl::ConsumePrefix(&rest, ":") && absl::SimpleAtoi(rest, &index) && index >= 0))) {
    return index;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("capacity probe: unknown device \"", device, "\""));
}

ProbePlanOptions PlanOptions(const ModelRunner& runner, const MeasureOptions& o) {
  ProbePlanOptions plan;
  const int64_t context =
      o.context_tokens > 0 ? o.context_tokens : runner.config().max_position_embeddings;
  plan.context_tokens = static_cast<int32_t>(std::min<int64_t>(context, INT32_MAX));
  plan.block_size = o.block_size;
  plan.max_sample_rows = o.max_sample_rows;
  return plan;
}

absl::Status MeasureOnCpu(ModelRunner& runner, const MeasureOptions& o, ProbePassRunner& passes,
                          CapacityReport& report) {
  MemoryBudget budget{o.budget_bytes, "configured"};
  if (o.budget_bytes <= 0) {
    ASSIGN_OR_RETURN(budget, DetectMemoryBudget());
  }
  RETURN_IF_ERROR(passes.ReleaseKv());
  ASSIGN_OR_RETURN(const ProcessMemory before, ReadProcessMemory());
  CpuProbeOptions c;
  c.budget_bytes = budget.bytes;
  // Weights not yet resident (mapped, untouched) will be once used.
  c.baseline_bytes = std::max(before.resident_bytes, runner.weight_bytes());
  c.memory_fraction = o.memory_fraction;
  c.start_rows = o.start_rows > 0 ? o.start_rows : kCpuStartRows;
  c.max_rows = o.max_ribbon_tokens;
  c.align = o.align;
  c.safety_margin = o.safety_margin;
  c.verify_tolerance = o.verify_tolerance;
  c.plan = PlanOptions(runner, o);
  c.kv_bytes_per_block = runner.KvBytesPerBlock(o.block_size);
  CpuRunnerTarget target(passes, before.resident_bytes);
  ASSIGN_OR_RETURN(const CpuProbeResult r, ProbeCpuCapacity(target, c));
  report.baseline_bytes = c.baseline_bytes;
  report.activation_bytes_per_token = r.fit.bytes_per_row;
  report.activation_fixed_bytes = static_cast<int64_t>(r.fit.fixed_bytes);
  report.activation_bytes = r.reserved_activation_bytes;
  report.predicted_activation_bytes = r.predicted_activation_bytes;
  report.measured_activation_bytes = r.measured_activation_bytes;
  report.prediction_error = r.prediction_error;
  report.max_ribbon_tokens = r.max_ribbon_rows;
  report.memory_limit_tokens = r.memory_limit_rows;
  report.kv_blocks = r.kv_blocks;
  report.kv_bytes = r.kv_bytes;
  report.budget_bytes = budget.bytes;
  report.budget_source = budget.source;
  report.usable_bytes = r.usable_bytes;
  report.planned_peak_bytes = r.planned_peak_bytes;
  if (!r.fallback.empty()) {
    report.note = absl::StrCat(
        r.fallback, "; using the largest ribbon measured (", r.max_ribbon_rows,
        " tokens). To choose yourself, set engine.max_ribbon_tokens and engine.num_kv_blocks "
        "with memory.probe=false");
    spdlog::warn("memory probe: {}", report.note);
  }
  return absl::OkStatus();
}

absl::Status MeasureOnDevice(ModelRunner& runner, const MeasureOptions& o, DeviceMemory& memory,
                             ProbePassRunner& passes, CapacityReport& report) {
  RETURN_IF_ERROR(passes.ReleaseKv());
  RETURN_IF_ERROR(memory.EmptyCache());
  ASSIGN_OR_RETURN(const CudaMemoryInfo before, memory.Info());
  ProbeOptions p;
  p.start_rows = o.start_rows > 0 ? o.start_rows : kCudaStartRows;
  p.max_rows = o.max_ribbon_tokens;
  p.align = o.align;
  p.tolerance_rows = std::max(o.tolerance_rows, o.align);
  p.safety_margin = o.safety_margin;
  p.memory_fraction = o.memory_fraction;
  p.kv_bytes_per_block = runner.KvBytesPerBlock(o.block_size);
  p.min_kv_blocks = ProbeKvBlocks(o.align, PlanOptions(runner, o));
  RunnerProbeDevice device(passes, memory);
  auto result = ProbeMaxRibbon(device, p);
  RETURN_IF_ERROR(device.status());
  RETURN_IF_ERROR(result.status());
  const ProbeResult& r = *result;
  report.baseline_bytes = before.total_bytes - before.free_bytes;
  report.activation_bytes_per_token = static_cast<double>(r.activation_bytes) / r.max_ribbon_rows;
  report.activation_bytes = report.measured_activation_bytes = r.activation_bytes;
  report.max_ribbon_tokens = r.max_ribbon_rows;
  report.memory_limit_tokens = r.smallest_oom_rows > 0 ? r.largest_fit_rows : 0;
  report.kv_blocks = r.kv_blocks;
  report.kv_bytes = r.kv_bytes;
  report.budget_bytes = r.total_bytes;
  report.budget_source = memory.Source();
  report.smallest_oom_tokens = r.smallest_oom_rows;
  report.safety_margin = o.safety_margin;
  report.usable_bytes = r.usable_bytes;
  report.planned_peak_bytes = r.used_bytes + r.activation_bytes + r.kv_bytes;
  return absl::OkStatus();
}

std::string Bytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (std::abs(b) >= 1024.0 * 1024 * 1024)
    return absl::StrFormat("%.2f GiB", b / (1024.0 * 1024 * 1024));
  if (std::abs(b) >= 1024.0 * 1024) return absl::StrFormat("%.2f MiB", b / (1024.0 * 1024));
  if (std::abs(b) >= 1024.0) return absl::StrFormat("%.2f KiB", b / 1024.0);
  return absl::StrFormat("%d B", bytes);
}

// Both probes: the report's common part, the measurement, and the KV release after it.
absl::StatusOr<CapacityReport> Measure(ModelRunner& runner, const MeasureOptions& options,
                                       DeviceMemory* memory) {
  const TimeNs start = SteadyNowNs();
  if (options.block_size <= 0 || options.align <= 0 || options.max_sample_rows <= 0) {
    return absl::InvalidArgumentError(
        "capacity probe: block_size, align and max_sample_rows must be positive");
  }
  CapacityReport report;
  report.device = runner.Describe();
  report.weight_bytes = runner.weight_bytes();
  report.block_size = options.block_size;
  ProbePassRunner passes(runner, PlanOptions(runner, options), options.cancelled);
  const absl::Status measured = memory == nullptr
                                    ? MeasureOnCpu(runner, options, passes, report)
                                    : MeasureOnDevice(runner, options, *memory, passes, report);
  const absl::Status released = passes.ReleaseKv();
  RETURN_IF_ERROR(measured);
  RETURN_IF_ERROR(released);
  report.passes = passes.passes();
  report.seconds = NsToSeconds(SteadyNowNs() - start);
  spdlog::info(
      "capacity probe on {}: max ribbon {} tokens, activations {:.0f} B/token, {} KV blocks ({} "
      "B), "
      "weights {} B, budget {} B ({}), {} passes in {:.2f} s",
      report.device, report.max_ribbon_tokens, report.activation_bytes_per_token, report.kv_blocks,
      report.kv_bytes, report.weight_bytes, report.budget_bytes, report.budget_source,
      report.passes, report.seconds);
  return report;
}

}  // namespace

absl::StatusOr<CapacityReport> MeasureCapacity(ModelRunner& runner, const MeasureOptions& options) {
  ASSIGN_OR_RETURN(const int device_index, DeviceIndex(options.device));
  if (device_index < 0) return Measure(runner, options, nullptr);
  const std::unique_ptr<DeviceMemory> memory = CudaDeviceMemory(device_index);
  return Measure(runner, options, memory.get());
}

absl::StatusOr<CapacityReport> MeasureCapacityOnDevice(ModelRunner& runner,
                                                       const MeasureOptions& options,
                                                       DeviceMemory& memory) {
  return Measure(runner, options, &memory);
}

std::string FormatCapacityTable(const CapacityReport& r) {
  const std::string limit = r.memory_limit_tokens > 0
                                ? absl::StrCat("memory allows ", r.memory_limit_tokens)
                                : std::string("the cap; memory was not the limit");
  std::string out = "ribbon capacity probe\n";
  auto row = [&out](const char* name, const std::string& value) {
    absl::StrAppendFormat(&out, "  %-26s %s\n", name, value);
  };
  row("device", r.device);
  row("weights", Bytes(r.weight_bytes));
  row("in use before the probe", Bytes(r.baseline_bytes));
  row("activations per token",
      absl::StrFormat("%s (+ %s fixed)", Bytes(static_cast<int64_t>(r.activation_bytes_per_token)),
                      Bytes(r.activation_fixed_bytes)));
  row("max ribbon tokens", absl::StrFormat("%d (%s)", r.max_ribbon_tokens, limit));
  const std::string check =
      r.predicted_activation_bytes > 0
          ? absl::StrFormat("predicted %s, measured %s, %+.1f%%",
                            Bytes(r.predicted_activation_bytes), Bytes(r.measured_activation_bytes),
                            100 * r.prediction_error)
          : absl::StrFormat("measured %s", Bytes(r.measured_activation_bytes));
  row("activations at max ribbon",
      absl::StrFormat("%s reserved (%s)", Bytes(r.activation_bytes), check));
  row("KV cache",
      absl::StrFormat("%d blocks x %d tokens = %d tokens, %s", r.kv_blocks, r.block_size,
                      static_cast<int64_t>(r.kv_blocks) * r.block_size, Bytes(r.kv_bytes)));
  row("budget", absl::StrFormat("%s (%s)", Bytes(r.budget_bytes), r.budget_source));
  row("planned", absl::StrFormat("%s of %s usable at the peak", Bytes(r.planned_peak_bytes),
                                 Bytes(r.usable_bytes)));
  if (r.smallest_oom_tokens > 0) {
    row("out of memory at",
        absl::StrFormat("%d tokens; backed off %.0f%% from %d that ran", r.smallest_oom_tokens,
                        100 * r.safety_margin, r.memory_limit_tokens));
  }
  row("probe", absl::StrFormat("%d passes in %.2f s", r.passes, r.seconds));
  if (!r.note.empty()) row("note", r.note);
  return out;
}

}  // namespace ribbon::memory
