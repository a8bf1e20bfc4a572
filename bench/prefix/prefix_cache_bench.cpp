// prefix_cache_bench: what prefix caching buys and costs on the CPU (docs/perf/prefix-cache-*.md).
//
//   prefix_cache_bench MODEL_DIR [--only shared,chat,nosharing] [--threads 2] [--dtype float32]
//                      [--kv-blocks 512] [--prefix 1000] [--requests 32] [--chat-first 1000]
//                      [--rounds 9]
// Prints one JSON object per workload (bench/prefix/scenarios.h): the shared-prefix speed-ups
// (TTFT p50, total) and hit rate, the chat replay's speed-up and whether the blocks holding
// generated tokens were found again, and the no-sharing rounds' forward-row counts and times.
#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/prefix/scenarios.h"

namespace {

using ribbon::bench::BenchOptions;

struct Args {
  BenchOptions bench;
  std::set<std::string> only = {"shared", "chat", "nosharing"};
  ribbon::bench::SharedPrefixSpec shared;
  ribbon::bench::ChatSpec chat;
  ribbon::bench::NoSharingSpec nosharing;
};

bool ParseInt(const std::string& value, int32_t& out) {
  return absl::SimpleAtoi(value, &out) && out > 0;
}

bool ParseFlag(const std::string& k, const std::string& v, Args& a) {
  if (k == "--only") {
    a.only.clear();
    for (auto part : absl::StrSplit(v, ',')) a.only.insert(std::string(part));
    return true;
  }
  if (k == "--dtype") {
    a.bench.dtype = v;
    return true;
  }
  if (k == "--threads") return ParseInt(v, a.bench.threads);
  if (k == "--kv-blocks") return ParseInt(v, a.bench.kv_blocks);
  if (k == "--prefix") return ParseInt(v, a.shared.prefix);
  if (k == "--requests") return ParseInt(v, a.shared.requests);
  if (k == "--chat-first") return ParseInt(v, a.chat.first_prompt);
  if (k == "--rounds") return ParseInt(v, a.nosharing.rounds);
  return false;
}

bool Parse(int argc, char** argv, Args& a) {
  if (argc < 2) return false;
  a.bench.model = argv[1];
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc || !ParseFlag(argv[i], argv[i + 1], a)) {
      std::fprintf(stderr, "bad or incomplete flag: %s\n", argv[i]);
      return false;
    }
  }
  return true;
}

int Print(const absl::StatusOr<nlohmann::ordered_json>& result) {
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", result->dump().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: prefix_cache_bench MODEL_DIR [--only shared,chat,nosharing] "
                 "[--threads N] [--dtype D] [--kv-blocks N] [--prefix N] [--requests N] "
                 "[--chat-first N] [--rounds N]\n");
    return 2;
  }
  int rc = 0;
  if (a.only.count("shared")) rc |= Print(RunSharedPrefix(a.bench, a.shared));
  if (a.only.count("chat")) rc |= Print(RunChat(a.bench, a.chat));
  if (a.only.count("nosharing")) rc |= Print(RunNoSharing(a.bench, a.nosharing));
  return rc;
}
