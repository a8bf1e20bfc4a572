// tokenize_tool: runs ribbon's tokenizer over JSON lines on stdin and writes one JSON line per
// input on stdout, for the parity tests against the Python `tokenizers` library
// (tests/python/tokenizer/).
//
//   tokenize_tool <model_dir> <mode> < in.jsonl > out.jsonl
//
// Modes (input line -> output line):
//   encode       "text"                -> {"ids": [...], "ids_special": [...],
//                                          "decoded": "...", "decoded_skip": "..."}
//   decode       [ids]                 -> {"text": "...", "text_skip": "..."}
//   stream       {"context": [ids], "ids": [ids], "skip": bool}
//                                      -> {"deltas": ["..." or null per id], "flush": "..."}
//   normalize    "text"                -> {"text": "..."}            (tokenizer.json only)
//   pretokenize  "text"                -> {"pieces": ["...", ...]}   (tokenizer.json only)
//   info         (no input)            -> {"vocab_size": n, "bos": id|null, "eos": [ids]}
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/hf_tokenizer.h"
#include "core/tokenizer/tokenizer.h"

namespace {

using nlohmann::json;

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Encode(const ribbon::Tokenizer& tokenizer, const json& input) {
  const std::string text = input.get<std::string>();
  const std::vector<int32_t> ids = tokenizer.Encode(text, false);
  return {{"ids", ids},
          {"ids_special", tokenizer.Encode(text, true)},
          {"decoded", tokenizer.Decode(ids, false)},
          {"decoded_skip", tokenizer.Decode(ids, true)}};
}

json Decode(const ribbon::Tokenizer& tokenizer, const json& input) {
  const std::vector<int32_t> ids = input.get<std::vector<int32_t>>();
  return {{"text", tokenizer.Decode(ids, false)}, {"text_skip", tokenizer.Decode(ids, true)}};
}

json Stream(const std::shared_ptr<const ribbon::Tokenizer>& tokenizer, const json& input) {
  const std::vector<int32_t> context = input.at("context").get<std::vector<int32_t>>();
  ribbon::IncrementalDecoder decoder(tokenizer, context, input.value("skip", true));
  json deltas = json::array();
  for (const int32_t id : input.at("ids").get<std::vector<int32_t>>()) {
    const std::string delta = decoder.Push(std::span<const int32_t>(&id, 1));
    deltas.push_back(delta.empty() ? json(nullptr) : json(delta));
  }
  return {{"deltas", deltas}, {"flush", decoder.Flush()}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <model_dir> <mode> < in.jsonl > out.jsonl\n", argv[0]);
    return 2;
  }
  auto loaded = ribbon::Tokenizer::Load(argv[1]);
  if (!loaded.ok()) {
    std::fprintf(stderr, "load failed: %s\n", std::string(loaded.status().ToString()).c_str());
    return 1;
  }
  const std::shared_ptr<const ribbon::Tokenizer> tokenizer = *loaded;
  const auto* hf = dynamic_cast<const ribbon::HfTokenizer*>(tokenizer.get());
  const std::string mode = argv[2];
  std::ios::sync_with_stdio(false);
  if (mode == "info") {
    const auto bos = tokenizer->bos_token_id();
    std::cout << Dump({{"vocab_size", tokenizer->vocab_size()},
                       {"bos", bos ? json(*bos) : json(nullptr)},
                       {"eos", tokenizer->eos_token_ids()}})
              << "\n";
    return 0;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    const json input = json::parse(line);
    json output;
    if (mode == "encode") {
      output = Encode(*tokenizer, input);
    } else if (mode == "decode") {
      output = Decode(*tokenizer, input);
    } else if (mode == "stream") {
      output = Stream(tokenizer, input);
    } else if (mode == "normalize" && hf != nullptr) {
      output = {{"text", hf->NormalizeForTest(input.get<std::string>())}};
    } else if (mode == "pretokenize" && hf != nullptr) {
      output = {{"pieces", hf->PreTokenizeForTest(input.get<std::string>())}};
    } else {
      std::fprintf(stderr, "unknown mode '%s' for this tokenizer\n", mode.c_str());
      return 2;
    }
    std::cout << Dump(output) << "\n";
  }
  return 0;
}
