#include "server/output_processor.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "nlohmann/json.hpp"

using namespace ribbon;
using namespace ribbon::server;

namespace {

std::string Stories() { return std::string(std::getenv("RIBBON_SHARED_DATA")) + "/stories260k"; }

std::shared_ptr<const Tokenizer> LoadTokenizer() {
  auto tokenizer = Tokenizer::Load(Stories());
  REQUIRE(tokenizer.ok());
  return *tokenizer;
}

nlohmann::json GoldenCase(const std::string& name) {
  std::ifstream in(Stories() + "/golden.json");
  const nlohmann::json golden = nlohmann::json::parse(in);
  for (const auto& c : golden["cases"]) {
    if (c["name"] == name) return c;
  }
  FAIL("no golden case " << name);
  return {};
}

std::vector<SampledToken> Sampled(const std::vector<int32_t>& ids) {
  std::vector<SampledToken> out;
  for (int32_t id : ids) out.push_back({.token = id, .logprob = -1.0f, .top = {}});
  return out;
}

struct Streamed {
  std::vector<int32_t> ids;
  std::string text;
  bool stop_string = false;
};

// Feeds `ids` one step at a time, then finishes with `reason`.
Streamed Run(OutputProcessor& processor, const std::vector<int32_t>& ids, FinishReason reason) {
  Streamed out;
  const auto take = [&](const OutputChunk& chunk) {
    for (const SampledToken& t : chunk.tokens) out.ids.push_back(t.token);
    out.text += chunk.text;
    out.stop_string |= chunk.stop_string_matched;
  };
  for (const SampledToken& token : Sampled(ids)) take(processor.OnTokens({&token, 1}));
  take(processor.OnFinish(reason));
  return out;
}

OutputProcessorOptions Options(const nlohmann::json& golden_case,
                               std::shared_ptr<const Tokenizer> tokenizer) {
  OutputProcessorOptions options;
  options.prompt = golden_case["prompt_ids"].get<std::vector<int32_t>>();
  options.special_tokens = FindSpecialTokens(*tokenizer);
  return options;
}

}  // namespace

TEST_CASE("special tokens of stories260k are found", "[output]") {
  auto special = FindSpecialTokens(*LoadTokenizer());
  REQUIRE(special->size() == 512);
  CHECK((*special)[0]);
  CHECK((*special)[1]);
  CHECK((*special)[2]);
  CHECK(std::count(special->begin(), special->end(), true) == 3);
}

TEST_CASE("text deltas join to llama2.c's text (the engine withholds the stop token)", "[output]") {
  auto tokenizer = LoadTokenizer();
  for (const char* name : {"once_upon", "bos_only", "non_ascii_bytes", "quotes"}) {
    INFO(name);
    const nlohmann::json c = GoldenCase(name);
    const nlohmann::json& cont = c["continuations"][1];  // 200 tokens
    const auto until_stop = cont["ids_until_stop"].get<std::vector<int32_t>>();
    const bool stopped = until_stop.size() < cont["ids"].size();
    OutputProcessor processor(tokenizer, Options(c, tokenizer));
    const Streamed out =
        Run(processor, until_stop, stopped ? FinishReason::kStopToken : FinishReason::kLength);
    CHECK(out.ids == until_stop);
    CHECK(out.text == cont["text_until_stop"].get<std::string>());
    CHECK(processor.emitted_tokens() == static_cast<int32_t>(until_stop.size()));
  }
}

TEST_CASE("every token given is output, an EOS id included, at once", "[output]") {
  auto tokenizer = LoadTokenizer();
  const nlohmann::json c = GoldenCase("once_upon");
  // With ignore_eos the engine delivers EOS (2) like any token: it is output, adds no text,
  // and is not held back (the engine alone decides what ends a request).
  OutputProcessor first(tokenizer, Options(c, tokenizer));
  const SampledToken eos{.token = 2};
  CHECK(first.OnTokens({&eos, 1}).tokens.size() == 1);
  OutputProcessor processor(tokenizer, Options(c, tokenizer));
  const Streamed out = Run(processor, {432, 2, 383}, FinishReason::kLength);
  CHECK(out.ids == std::vector<int32_t>{432, 2, 383});
  // With the prompt as context the first piece keeps its leading space, if it has one.
  CHECK(out.text ==
        tokenizer->Decode(std::vector<int32_t>{1, 403, 407, 261, 378, 432, 383}, true)
            .substr(tokenizer->Decode(std::vector<int32_t>{1, 403, 407, 261, 378}, true).size()));
}

TEST_CASE("a stop string cuts the text and drops later tokens", "[output]") {
  auto tokenizer = LoadTokenizer();
  const nlohmann::json c = GoldenCase("once_upon");
  const nlohmann::json& cont = c["continuations"][0];
  const std::string full = cont["text_until_stop"];
  OutputProcessorOptions options = Options(c, tokenizer);
  options.stop_strings = {"named Lily"};
  OutputProcessor processor(tokenizer, options);
  const Streamed out =
      Run(processor, cont["ids"].get<std::vector<int32_t>>(), FinishReason::kLength);
  CHECK(out.stop_string);
  CHECK(processor.stop_string_matched());
  CHECK(out.text == full.substr(0, full.find("named Lily")));
  REQUIRE(!out.ids.empty());
  CHECK(out.ids.size() < 20);
  // The last id output is the one that completed the stop string.
  const std::string decoded =
      tokenizer->Decode(std::vector<int32_t>(out.ids.begin(), out.ids.end()), true);
  CHECK(decoded.find("named Lily") != std::string::npos);
  const std::string one_less =
      tokenizer->Decode(std::vector<int32_t>(out.ids.begin(), out.ids.end() - 1), true);
  CHECK(one_less.find("named Lily") == std::string::npos);
}
