// The workloads of ribbon_gpu_bench (bench/gpu/gpu_bench.cpp). Each returns its figures as JSON
// ({"error": ...} when the model cannot be created or run) and prints a line as it finishes.
// Threads: the caller's; one workload at a time (each owns the GPU while it runs).
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace ribbon::bench {

// Median device-to-device copy bandwidth (bytes read + bytes written per second) of a buffer of
// `bytes`; fills `out`. Returns 0 when the buffers cannot be allocated.
double MeasureCopyBandwidth(int64_t bytes, nlohmann::json& out);

struct DecodeOptions {
  std::string backend = "flash";
  int32_t steps = 256;
  double bandwidth_bytes_per_s = 0;  // the measured roofline
  bool small = false;                // a toy shape instead of Llama-3.2-1B (smoke runs)
};
// Single-stream decode after a 128-token prompt: per-step Forward time, tokens/s, roofline.
nlohmann::json RunDecode(const DecodeOptions& options);

struct PrefillOptions {
  std::string backend = "flash";
  int32_t layers = 28;     // of Qwen2.5-7B's 28 (fewer when memory or time requires)
  int32_t sequences = 64;  // prompts, lengths uniform in [32, max_len]
  int32_t batch = 8;       // sequences per step, in arrival order
  bool small = false;      // a toy shape instead of Qwen2.5-7B (smoke runs)
};
// Offline prefill, packed vs padded over the same batches, with the ideal ratio.
nlohmann::json RunPrefill(const PrefillOptions& options);

}  // namespace ribbon::bench
