// tokenizer_bench: encode throughput of ribbon's tokenizer on one thread, printed as JSON
// lines for run_tokenizer_bench.py, which runs the Python `tokenizers` library on the same
// inputs in the same run and prints the comparison.
//
//   tokenizer_bench <model_dir> corpus <corpus.jsonl>   one JSON string per line; encodes them
//                                                        all (no special tokens), best of 5
//   tokenizer_bench <model_dir> scaling <text.json>      one JSON string; encodes prefixes of
//                                                        1/8, 1/4, 1/2 and all of it
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void BenchCorpus(const ribbon::Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  size_t bytes = 0;
  for (const auto& text : texts) bytes += text.size();
  size_t tokens = 0;
  for (const auto& text : texts) tokens += tokenizer.Encode(text, false).size();  // warm-up
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto start = Clock::now();
    size_t round_tokens = 0;
    for (const auto& text : texts) round_tokens += tokenizer.Encode(text, false).size();
    best = std::min(best, Seconds(start));
    tokens = round_tokens;
  }
  std::cout << nlohmann::json{{"bytes", bytes},
                              {"tokens", tokens},
                              {"seconds", best},
                              {"mb_per_s", bytes / best / 1e6}}
                   .dump()
            << "\n";
}

void BenchScaling(const ribbon::Tokenizer& tokenizer, const std::string& text) {
  for (const size_t divisor : {8, 4, 2, 1}) {
    // Cut at a character boundary.
    size_t size = text.size() / divisor;
    while (size < text.size() && (static_cast<unsigned char>(text[size]) & 0xC0) == 0x80) ++size;
    const std::string prefix = text.substr(0, size);
    double best = 1e30;
    size_t tokens = 0;
    for (int round = 0; round < 3; ++round) {
      const auto start = Clock::now();
      tokens = tokenizer.Encode(prefix, false).size();
      best = std::min(best, Seconds(start));
    }
    std::cout << nlohmann::json{{"bytes", size}, {"tokens", tokens}, {"seconds", best}}.dump()
              << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <model_dir> corpus|scaling <input>\n", argv[0]);
    return 2;
  }
  auto tokenizer = ribbon::Tokenizer::Load(argv[1]);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tokenizer.status().ToString()).c_str());
    return 1;
  }
  std::ifstream in(argv[3]);
  const std::string mode = argv[2];
  if (mode == "scaling") {
    BenchScaling(**tokenizer, nlohmann::json::parse(in).get<std::string>());
    return 0;
  }
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) texts.push_back(nlohmann::json::parse(line).get<std::string>());
  BenchCorpus(**tokenizer, texts);
  return 0;
}
