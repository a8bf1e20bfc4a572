// ribbon-bench: ribbon's serving load generator. See bench/serving/README.md for the flags and
// the JSON it writes; the figures' definitions are in report.h.
//
//   ribbon-bench --target grpc://127.0.0.1:9300 --num-requests 64 --concurrency 8
//                --input fixed:128 --output fixed:64 --out result.json
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/serving/client.h"
#include "bench/serving/report.h"
#include "bench/serving/runner.h"
#include "bench/serving/workload.h"

namespace ribbon::bench {
namespace {

struct Args {
  Args() { client.target = "grpc://127.0.0.1:9300"; }
  ClientOptions client;
  WorkloadOptions workload;
  RunOptions run;
  ReportOptions report;
  int warmup = 4;
  std::string out;
  std::string label;
};

const char* kUsage =
    "usage: ribbon-bench [--target grpc://HOST:PORT|http://HOST:PORT] [--model NAME]\n"
    "  [--num-requests N] [--warmup N] [--concurrency N | --rate REQ_PER_S [--burstiness K]\n"
    "  [--max-in-flight N]] [--input SPEC] [--output SPEC] (SPEC: fixed:N, uniform:LO:HI,\n"
    "  lognormal:MEDIAN:SIGMA[:LO:HI]) [--vocab N] [--seed N] [--goodput-ttft-ms X]\n"
    "  [--goodput-tpot-ms X] [--timeout-s X] [--label TEXT] [--out FILE] [--no-progress]\n";

absl::Status Number(const std::string& flag, const std::string& v, double& out) {
  if (!absl::SimpleAtod(v, &out)) return absl::InvalidArgumentError(flag + ": not a number: " + v);
  return absl::OkStatus();
}
absl::Status Integer(const std::string& flag, const std::string& v, int& out) {
  if (!absl::SimpleAtoi(v, &out) || out < 0) {
    return absl::InvalidArgumentError(flag + ": not a non-negative integer: " + v);
  }
  return absl::OkStatus();
}

absl::Status Apply(Args& a, const std::string& k, const std::string& v) {
  auto& w = a.workload;
  if (k == "--target") return a.client.target = v, absl::OkStatus();
  if (k == "--model") return a.client.model = v, absl::OkStatus();
  if (k == "--out") return a.out = v, absl::OkStatus();
  if (k == "--label") return a.label = a.run.label = v, absl::OkStatus();
  if (k == "--num-requests") return Integer(k, v, w.num_requests);
  if (k == "--warmup") return Integer(k, v, a.warmup);
  if (k == "--concurrency") return Integer(k, v, a.run.concurrency);
  if (k == "--max-in-flight") return Integer(k, v, a.run.max_in_flight);
  if (k == "--vocab") return Integer(k, v, w.vocab);
  if (k == "--rate") return Number(k, v, w.rate);
  if (k == "--burstiness") return Number(k, v, w.burstiness);
  if (k == "--goodput-ttft-ms") return Number(k, v, a.report.goodput_ttft_ms);
  if (k == "--goodput-tpot-ms") return Number(k, v, a.report.goodput_tpot_ms);
  if (k == "--timeout-s") return Number(k, v, a.client.timeout_s);
  if (k == "--seed") {
    if (!absl::SimpleAtoi(v, &w.seed)) return absl::InvalidArgumentError(k + ": not a seed: " + v);
    return absl::OkStatus();
  }
  if (k == "--input" || k == "--output") {
    auto spec = ParseLengthSpec(v, k);
    if (!spec.ok()) return spec.status();
    (k == "--input" ? w.input : w.output) = *spec;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown flag " + k);
}

absl::Status Parse(int argc, char** argv, Args& a) {
  a.workload.num_requests = 32;
  a.workload.input = *ParseLengthSpec("fixed:128", "--input");
  a.workload.output = *ParseLengthSpec("fixed:64", "--output");
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i], v;
    if (k == "--no-progress") {
      a.run.progress = false;
      continue;
    }
    if (const size_t eq = k.find('='); eq != std::string::npos) {
      v = k.substr(eq + 1);
      k = k.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      return absl::InvalidArgumentError(k + ": needs a value");
    }
    if (auto s = Apply(a, k, v); !s.ok()) return s;
  }
  a.run.rate = a.workload.rate;
  if (a.run.concurrency < 1) return absl::InvalidArgumentError("--concurrency: must be >= 1");
  return absl::OkStatus();
}

nlohmann::json ConfigJson(const Args& a, const std::string& kind) {
  const auto& w = a.workload;
  return {{"target", a.client.target},
          {"transport", kind},
          {"label", a.label},
          {"num_requests", w.num_requests},
          {"warmup", a.warmup},
          {"mode", w.rate > 0 ? "open" : "closed"},
          {"concurrency", a.run.concurrency},
          {"rate", w.rate},
          {"burstiness", w.burstiness},
          {"max_in_flight", a.run.max_in_flight},
          {"input", DescribeLengthSpec(w.input)},
          {"output", DescribeLengthSpec(w.output)},
          {"vocab", w.vocab},
          {"seed", w.seed}};
}

int Main(int argc, char** argv) {
  Args a;
  if (auto s = Parse(argc, argv, a); !s.ok()) {
    std::fprintf(stderr, "ribbon-bench: %s\n%s", std::string(s.message()).c_str(), kUsage);
    return 2;
  }
  auto client = MakeClient(a.client);
  if (!client.ok()) {
    std::fprintf(stderr, "ribbon-bench: %s\n", std::string(client.status().message()).c_str());
    return 2;
  }
  if (a.workload.vocab == 0) a.workload.vocab = (*client)->VocabSize();
  if (a.workload.vocab == 0) {
    std::fprintf(stderr, "ribbon-bench: --vocab: the server did not say; give it\n");
    return 2;
  }
  WorkloadOptions warm = a.workload;
  warm.num_requests = a.warmup;
  warm.rate = 0;
  warm.seed = a.workload.seed + 0x9e3779b97f4a7c15ULL;  // other prompts than the measured ones
  auto warm_requests = MakeWorkload(warm);
  auto requests = MakeWorkload(a.workload);
  if (!requests.ok() || !warm_requests.ok()) {
    const absl::Status s = requests.ok() ? warm_requests.status() : requests.status();
    std::fprintf(stderr, "ribbon-bench: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  RunOptions warm_run = a.run;
  warm_run.rate = 0;
  warm_run.label = a.run.label + " warm-up";
  RunRequests(**client, *warm_requests, warm_run);
  const double cpu0 = ProcessCpuSeconds();
  const auto records = RunRequests(**client, *requests, a.run);
  const double cpu = ProcessCpuSeconds() - cpu0;
  nlohmann::json report = BuildReport(records, a.report, cpu);
  report["config"] = ConfigJson(a, (*client)->Kind());
  const std::string text = report.dump(1);
  if (a.out.empty()) {
    std::cout << text << "\n";
  } else {
    std::ofstream(a.out) << text << "\n";
  }
  const bool clean = report["failed"] == 0 && report["token_check"]["mismatches"] == 0;
  return clean ? 0 : 1;
}

}  // namespace
}  // namespace ribbon::bench

int main(int argc, char** argv) { return ribbon::bench::Main(argc, argv); }
