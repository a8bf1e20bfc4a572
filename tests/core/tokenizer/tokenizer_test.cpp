// Unit tests of ribbon_tokenizer against the recorded vectors in ../shared/data (cases.json,
// tokenizer_cases.json), plus loading, errors, streaming and UTF-8 handling. Parity with the
// Python `tokenizers` library on a large corpus is in tests/python/tokenizer/.
#include "core/tokenizer/tokenizer.h"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/unicode.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ribbon::IncrementalDecoder;
using ribbon::Tokenizer;

fs::path SharedData() {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  return env != nullptr ? fs::path(env) : fs::path("/work/shared/data");
}

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return json::parse(in);
}

std::shared_ptr<const Tokenizer> LoadOrFail(const fs::path& dir) {
  auto tokenizer = Tokenizer::Load(dir.string());
  INFO(dir.string() << ": " << tokenizer.status().ToString());
  REQUIRE(tokenizer.ok());
  return *tokenizer;
}

// A fresh directory under the test's temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("ribbon_tok_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void Write(const std::string& file, const std::string& text) const {
    std::ofstream(path / file) << text;
  }
};

void CheckCases(const Tokenizer& tokenizer, const json& cases, bool with_bos) {
  for (const auto& c : cases) {
    const std::string text = c.at("text");
    const auto expected = c.at("ids").get<std::vector<int32_t>>();
    INFO("text: " << text);
    const std::vector<int32_t> ids = tokenizer.Encode(text, with_bos);
    CHECK(ids == expected);
    CHECK(tokenizer.Decode(ids, /*skip_special_tokens=*/true) == text);
  }
}

// Streams `ids` one at a time after `context` and returns the concatenated deltas, checking
// that each delta is valid UTF-8 on its own.
std::string StreamAll(const std::shared_ptr<const Tokenizer>& tokenizer,
                      const std::vector<int32_t>& context, const std::vector<int32_t>& ids) {
  IncrementalDecoder decoder(tokenizer, context);
  std::string streamed;
  for (const int32_t id : ids) {
    const std::string delta = decoder.Push(std::span<const int32_t>(&id, 1));
    CHECK(ribbon::tok::IsValidUtf8(delta));
    streamed += delta;
  }
  const std::string rest = decoder.Flush();
  CHECK(ribbon::tok::IsValidUtf8(rest));
  return streamed + rest;
}

}  // namespace

TEST_CASE("gpt2 tokenizer.json reproduces the llama.cpp vectors", "[tokenizer]") {
  const auto tokenizer = LoadOrFail(SharedData() / "tokenizers/gpt2");
  const json cases = ReadJson(SharedData() / "tokenizers/gpt2/cases.json");
  REQUIRE(cases.at("cases").size() >= 40);
  CheckCases(*tokenizer, cases.at("cases"), false);
  CHECK(tokenizer->vocab_size() == 50257);
  CHECK(tokenizer->bos_token_id() == 50256);
  CHECK(tokenizer->eos_token_ids() == std::vector<int32_t>{50256});
}

TEST_CASE("llama-spm tokenizer.json reproduces llama.cpp and llama2.c vectors", "[tokenizer]") {
  const auto tokenizer = LoadOrFail(SharedData() / "tokenizers/llama-spm");
  const json cases = ReadJson(SharedData() / "tokenizers/llama-spm/cases.json");
  CheckCases(*tokenizer, cases.at("llama_cpp_vectors").at("cases"), false);
  CheckCases(*tokenizer, cases.at("llama2c_test_c").at("cases"), true);
  CHECK(tokenizer->bos_token_id() == 1);
  CHECK(tokenizer->eos_token_ids() == std::vector<int32_t>{2});
  CHECK(tokenizer->TokenToId("<0x0A>") == 13);
  CHECK(tokenizer->IdToToken(29871) == "\xE2\x96\x81");
}

TEST_CASE("stories260k tokenizer reproduces its 373 cases", "[tokenizer]") {
  const auto tokenizer = LoadOrFail(SharedData() / "stories260k");
  const json cases = ReadJson(SharedData() / "stories260k/tokenizer_cases.json");
  REQUIRE(cases.at("cases").size() == 373);
  CheckCases(*tokenizer, cases.at("cases"), true);
  CHECK(tokenizer->vocab_size() == 512);
  CHECK(tokenizer->bos_token_id() == 1);
  CHECK(tokenizer->eos_token_ids() == std::vector<int32_t>{2});
}

TEST_CASE("a directory with only tokenizer.model loads through SentencePiece", "[tokenizer]") {
  TempDir dir("spm");
  fs::copy_file(SharedData() / "tokenizers/llama-spm/tokenizer.model",
                dir.path / "tokenizer.model");
  const auto tokenizer = LoadOrFail(dir.path);
  const json cases = ReadJson(SharedData() / "tokenizers/llama-spm/cases.json");
  CheckCases(*tokenizer, cases.at("llama_cpp_vectors").at("cases"), false);
  CheckCases(*tokenizer, cases.at("llama2c_test_c").at("cases"), true);
  CHECK(tokenizer->vocab_size() == 32000);
  CHECK(tokenizer->bos_token_id() == 1);
  CHECK(tokenizer->eos_token_ids() == std::vector<int32_t>{2});
  CHECK(tokenizer->TokenToId("\xE2\x96\x81Hello") == 15043);
  CHECK_FALSE(tokenizer->TokenToId("no such piece").has_value());
  CHECK(tokenizer->Decode(std::vector<int32_t>{1, 15043, 2}, false) == "<s>Hello</s>");
  CHECK(tokenizer->Decode(std::vector<int32_t>{1, 15043, 2}, true) == "Hello");
}

TEST_CASE("an unsupported tokenizer.json falls back to tokenizer.model", "[tokenizer]") {
  TempDir dir("fallback");
  json unsupported = ReadJson(SharedData() / "tokenizers/llama-spm/tokenizer.json");
  unsupported["model"]["type"] = "Unigram";
  dir.Write("tokenizer.json", unsupported.dump());
  const auto refused = Tokenizer::Load(dir.path.string());
  CHECK(refused.status().code() == absl::StatusCode::kUnimplemented);
  fs::copy_file(SharedData() / "tokenizers/llama-spm/tokenizer.model",
                dir.path / "tokenizer.model");
  const auto tokenizer = LoadOrFail(dir.path);
  const json cases = ReadJson(SharedData() / "tokenizers/llama-spm/cases.json");
  CheckCases(*tokenizer, cases.at("llama2c_test_c").at("cases"), true);
}

TEST_CASE("a missing tokenizer is NOT_FOUND", "[tokenizer]") {
  TempDir dir("empty");
  const auto tokenizer = Tokenizer::Load(dir.path.string());
  CHECK(tokenizer.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("unsupported components are refused with their names", "[tokenizer]") {
  const json base = ReadJson(SharedData() / "stories260k/tokenizer.json");
  const auto check_refused = [&](const json& file, const std::string& name) {
    TempDir dir("bad");
    dir.Write("tokenizer.json", file.dump());
    const auto tokenizer = Tokenizer::Load(dir.path.string());
    INFO(tokenizer.status().ToString());
    REQUIRE_FALSE(tokenizer.ok());
    CHECK(tokenizer.status().code() == absl::StatusCode::kUnimplemented);
    CHECK(std::string(tokenizer.status().message()).find(name) != std::string::npos);
  };
  json unigram = base;
  unigram["model"]["type"] = "Unigram";
  check_refused(unigram, "Unigram");
  json bert = base;
  bert["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  check_refused(bert, "BertPreTokenizer");
  json precompiled = base;
  precompiled["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AA=="}};
  check_refused(precompiled, "Precompiled");
  // Refused because the reference classifies these with old Unicode tables (see the headers).
  json punctuation = base;
  punctuation["pre_tokenizer"] = {{"type", "Punctuation"}, {"behavior", "Isolated"}};
  check_refused(punctuation, "Punctuation");
  json strip_accents = base;
  strip_accents["normalizer"] = {{"type", "Sequence"},
                                 {"normalizers", {{{"type", "NFD"}}, {{"type", "StripAccents"}}}}};
  check_refused(strip_accents, "StripAccents");
  json wordpiece = base;
  wordpiece["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  check_refused(wordpiece, "WordPiece");

  TempDir dir("malformed");
  dir.Write("tokenizer.json", "{\"model\": ");
  const auto malformed = Tokenizer::Load(dir.path.string());
  CHECK(malformed.status().code() == absl::StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/tokenizer_json_fuzz.cpp: the template's ids went out unchecked, past the
// vocabulary (and the model's embeddings).
TEST_CASE("a post-processor id outside the vocabulary is refused at load", "[tokenizer]") {
  json file = ReadJson(SharedData() / "stories260k/tokenizer.json");
  file["post_processor"]["special_tokens"]["<s>"]["ids"] = {512};
  TempDir dir("post_processor");
  dir.Write("tokenizer.json", file.dump());
  const auto tokenizer = Tokenizer::Load(dir.path.string());
  CHECK(tokenizer.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(tokenizer.status().message()),
             Catch::Contains("post_processor: special token id 512 is outside the vocabulary "
                             "[0, 512)"));
}

// Found by tests/fuzz/tokenizer_json_fuzz.cpp: a float id (4e128) was converted to int32_t,
// which is undefined.
TEST_CASE("a vocabulary id that is not an int32 integer is refused at load", "[tokenizer]") {
  json file = ReadJson(SharedData() / "stories260k/tokenizer.json");
  file["model"]["vocab"]["<unk>"] = 4e128;
  TempDir dir("vocab_id");
  dir.Write("tokenizer.json", file.dump());
  const auto tokenizer = Tokenizer::Load(dir.path.string());
  CHECK(tokenizer.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(tokenizer.status().message()),
             Catch::Contains("the id of '<unk>' must be an integer in [0, 2147483647)"));
}

// Found by tests/fuzz/tokenizer_json_fuzz.cpp: a float Strip count (1.9e86) went through
// get<size_t>(), and a float post-processor id through get<int32_t>(), both undefined.
TEST_CASE("a Strip count or special-token id that is not an integer is refused at load",
          "[tokenizer]") {
  const json base = ReadJson(SharedData() / "stories260k/tokenizer.json");
  const auto check_refused = [&](const json& file, const std::string& message) {
    TempDir dir("not_integer");
    dir.Write("tokenizer.json", file.dump());
    const auto tokenizer = Tokenizer::Load(dir.path.string());
    INFO(tokenizer.status().ToString());
    CHECK(tokenizer.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(tokenizer.status().message()), Catch::Contains(message));
  };
  json strip_float = base;
  strip_float["decoder"]["decoders"][3]["stop"] = 1.88889e86;
  check_refused(strip_float, "decoder: Strip stop must be a non-negative integer, got 1.88889e+86");
  json strip_negative = base;
  strip_negative["decoder"]["decoders"][3]["start"] = -1;
  check_refused(strip_negative, "decoder: Strip start must be a non-negative integer, got -1");
  json template_float = base;
  template_float["post_processor"]["special_tokens"]["<s>"]["ids"] = {1e86};
  check_refused(template_float,
                "post_processor: TemplateProcessing <s>: a special-token id must be an integer");
  json cls_float = base;
  cls_float["post_processor"] = {
      {"type", "BertProcessing"}, {"cls", {"<s>", 2.5}}, {"sep", {"</s>", 2}}};
  check_refused(cls_float, "post_processor: cls: a special-token id must be an integer");
  // The file as shipped (Strip start 1, stop 0) still loads.
  TempDir dir("strip_ok");
  dir.Write("tokenizer.json", base.dump());
  CHECK(Tokenizer::Load(dir.path.string()).ok());
}

TEST_CASE("streaming deltas never split a character and add up to the decode", "[tokenizer]") {
  for (const char* name : {"tokenizers/gpt2", "tokenizers/llama-spm", "stories260k"}) {
    const auto tokenizer = LoadOrFail(SharedData() / name);
    const std::string prompt = "Once upon a time";
    const std::string generated =
        " café 🦙 naïve 東京 — “quoted” ✅\n\tdone 😶‍🌫️!";
    const std::vector<int32_t> context = tokenizer->Encode(prompt, true);
    const std::vector<int32_t> all = tokenizer->Encode(prompt + generated, true);
    REQUIRE(std::equal(context.begin(), context.end() - 1, all.begin()));
    // Generated ids: everything after the prompt's ids that the two encodings share.
    size_t shared = 0;
    while (shared < context.size() && context[shared] == all[shared]) ++shared;
    const std::vector<int32_t> prompt_ids(all.begin(), all.begin() + shared);
    const std::vector<int32_t> new_ids(all.begin() + shared, all.end());
    INFO(name);
    const std::string full = tokenizer->Decode(all, true);
    const std::string before = tokenizer->Decode(prompt_ids, true);
    REQUIRE(full.compare(0, before.size(), before) == 0);
    CHECK(StreamAll(tokenizer, prompt_ids, new_ids) == full.substr(before.size()));
    // Without context the stream equals the plain decode of the generated ids.
    CHECK(StreamAll(tokenizer, {}, new_ids) == tokenizer->Decode(new_ids, true));
  }
}

TEST_CASE("streaming holds back an unfinished character until it completes", "[tokenizer]") {
  const auto tokenizer = LoadOrFail(SharedData() / "stories260k");
  // 🦙 is not in the 512-piece vocabulary: four byte-fallback tokens <0xF0> <0x9F> <0xA6> <0x99>.
  const std::vector<int32_t> ids = tokenizer->Encode("🦙", false);
  REQUIRE(ids.size() == 5);  // dummy-prefix "▁" then the four bytes
  IncrementalDecoder decoder(tokenizer, std::vector<int32_t>{1});
  CHECK(decoder.Push(std::span<const int32_t>(ids.data(), 1)) == "");  // the space is stripped
  for (size_t i = 1; i < 4; ++i) {
    CHECK(decoder.Push(std::span<const int32_t>(ids.data() + i, 1)) == "");
  }
  CHECK(decoder.Push(std::span<const int32_t>(ids.data() + 4, 1)) == "🦙");
  CHECK(decoder.Flush() == "");

  IncrementalDecoder unfinished(tokenizer, std::vector<int32_t>{1});
  CHECK(unfinished.Push(std::span<const int32_t>(ids.data(), 3)) == "");
  CHECK(unfinished.Flush() == tokenizer->Decode(std::span<const int32_t>(ids.data(), 3), true));
}

TEST_CASE("invalid UTF-8 and unknown ids are handled, not fatal", "[tokenizer]") {
  const auto gpt2 = LoadOrFail(SharedData() / "tokenizers/gpt2");
  const std::string invalid = "ok \xE2\x82 then \xFF\xC0\x80 end";
  CHECK(gpt2->Encode(invalid, false) == gpt2->Encode(ribbon::tok::ToUtf8Lossy(invalid), false));
  CHECK(gpt2->Decode(std::vector<int32_t>{-5, 15496, 999999}, false) == "Hello");
  CHECK(gpt2->IdToToken(999999).empty());
  // Byte-level pieces that do not form UTF-8 decode to U+FFFD, one per maximal invalid part.
  const std::vector<int32_t> llama_bytes = gpt2->Encode("🦙", false);
  REQUIRE(llama_bytes.size() >= 2);
  CHECK(gpt2->Decode(std::span<const int32_t>(llama_bytes.data(), 1), false) == "\xEF\xBF\xBD");
}

TEST_CASE("lossy UTF-8 decoding follows Rust's maximal-subpart rule", "[tokenizer]") {
  using ribbon::tok::ToUtf8Lossy;
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(ToUtf8Lossy("a\xE2\x82"
                    "A") == "a" + fffd + "A");                          // truncated 3-byte sequence
  CHECK(ToUtf8Lossy("\xF0\x80") == fffd + fffd);                        // F0 needs 90..BF next
  CHECK(ToUtf8Lossy("\xED\xA0\x80") == fffd + fffd + fffd);             // surrogate
  CHECK(ToUtf8Lossy("\xC0\x80") == fffd + fffd);                        // overlong
  CHECK(ToUtf8Lossy("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
  CHECK(ToUtf8Lossy("\xF0\x9F\xA6\x99") == "🦙");
}

TEST_CASE("concurrent encodes agree with a single thread", "[tokenizer]") {
  const auto tokenizer = LoadOrFail(SharedData() / "tokenizers/gpt2");
  const json cases = ReadJson(SharedData() / "tokenizers/gpt2/cases.json");
  std::vector<std::string> texts;
  for (const auto& c : cases.at("cases")) texts.push_back(c.at("text"));
  std::vector<std::vector<int32_t>> expected;
  for (const auto& text : texts) expected.push_back(tokenizer->Encode(text, false));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (tokenizer->Encode(texts[i], false) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}
