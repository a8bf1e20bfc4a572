// ribbon_gpu_bench: first GPU figures of the CUDA runner, on random bfloat16 weights generated on
// the GPU (no download).
//   bandwidth  device-to-device copy of a large buffer: the measured HBM roofline
//   decode     single-stream decode tokens/s of a Llama-3.2-1B-shaped model, and its fraction of
//              the roofline (weights + KV read once per token at the measured bandwidth)
//   prefill    offline prefill of a Qwen2.5-7B-shaped model, packed vs padded (same kernels;
//              padded = every prompt extended with pad rows to its batch's longest), with the
//              ideal ratio (padded rows / real rows) beside the measured one, and packed tokens/s
// Prints a table last and writes JSON (--json PATH).
//
//   ribbon_gpu_bench [--json PATH] [--only bandwidth|decode|prefill] [--decode-steps N]
//                    [--prefill-layers L] [--prefill-backends flash,cudnn] [--quick]
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/str_split.h"
#include "bench/gpu/workloads.h"
#include "nlohmann/json.hpp"

namespace ribbon::bench {
namespace {

struct Args {
  std::string json_path;
  std::string only;
  int32_t decode_steps = 256;
  int32_t prefill_layers = 28;
  std::vector<std::string> prefill_backends = {"flash"};
  bool quick = false;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--json")
      a.json_path = value();
    else if (arg == "--only")
      a.only = value();
    else if (arg == "--decode-steps")
      a.decode_steps = std::stoi(value());
    else if (arg == "--prefill-layers")
      a.prefill_layers = std::stoi(value());
    else if (arg == "--prefill-backends")
      a.prefill_backends = absl::StrSplit(value(), ',');
    else if (arg == "--quick")
      a.quick = true;
    else {
      std::cerr << "unknown argument " << arg << "\n";
      std::exit(2);
    }
  }
  return a;
}

void PrintTable(const nlohmann::json& out) {
  std::printf("\n%-44s %14s %14s\n", "figure", "value", "detail");
  if (out.contains("bandwidth")) {
    std::printf("%-44s %11.0f GB/s %14s\n", "HBM copy bandwidth (read + write)",
                out["bandwidth"]["GBps"].get<double>(), "");
  }
  for (const auto& d : out.value("decode", nlohmann::json::array())) {
    if (d.contains("error")) {
      std::printf("%-44s %14s %s\n", ("decode " + d["backend"].get<std::string>()).c_str(),
                  "failed", d["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("%-44s %10.1f tok/s %9.1f%% roof\n",
                ("1B decode, 1 stream, " + d["backend"].get<std::string>()).c_str(),
                d["tokens_per_s"].get<double>(), 100 * d["roofline_fraction"].get<double>());
  }
  for (const auto& p : out.value("prefill", nlohmann::json::array())) {
    const std::string name = "7B prefill " + p["backend"].get<std::string>() + " (" +
                             std::to_string(p["layers"].get<int>()) + " layers)";
    if (p.contains("error")) {
      std::printf("%-44s %14s %s\n", name.c_str(), "failed", p["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("%-44s %10.0f tok/s %14s\n", (name + " packed").c_str(),
                p["packed_tokens_per_s"].get<double>(), "");
    std::printf("%-44s %14.3f ideal %.3f\n", (name + " padded/packed").c_str(),
                p["measured_ratio"].get<double>(), p["ideal_ratio"].get<double>());
  }
}

}  // namespace
}  // namespace ribbon::bench

int main(int argc, char** argv) {
  using namespace ribbon::bench;
  const Args args = Parse(argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: no CUDA device\n");
    return 0;
  }
  nlohmann::json out;
  cudaDeviceProp props{};
  cudaGetDeviceProperties(&props, 0);
  out["device"] = props.name;
  out["commit"] = std::getenv("RIBBON_COMMIT") ? std::getenv("RIBBON_COMMIT") : "unknown";
  out["unix_time"] = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auto flush = [&] {
    if (!args.json_path.empty()) std::ofstream(args.json_path) << out.dump(1) << "\n";
  };
  const double bandwidth =
      MeasureCopyBandwidth(args.quick ? (256ll << 20) : (4ll << 30), out["bandwidth"]);
  flush();
  if (args.only.empty() || args.only == "decode") {
    for (const std::string backend : {"flash", "reference"}) {
      out["decode"].push_back(RunDecode({.backend = backend,
                                         .steps = args.quick ? 32 : args.decode_steps,
                                         .bandwidth_bytes_per_s = bandwidth,
                                         .small = args.quick}));
      flush();
    }
  }
  if (args.only.empty() || args.only == "prefill") {
    for (const std::string& backend : args.prefill_backends) {
      out["prefill"].push_back(RunPrefill({.backend = backend,
                                           .layers = args.quick ? 2 : args.prefill_layers,
                                           .sequences = args.quick ? 16 : 64,
                                           .small = args.quick}));
      flush();
    }
  }
  PrintTable(out);
  return 0;
}
