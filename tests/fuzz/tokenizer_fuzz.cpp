// libFuzzer target for ribbon_tokenizer: arbitrary bytes are encoded (as text, invalid UTF-8
// included), decoded back, streamed, and also read as an id sequence and decoded. It checks,
// besides the sanitizers' own checks:
//   * every id is in [0, vocab_size);
//   * every decode and every streamed delta is valid UTF-8;
//   * byte-level tokenizers without a normalizer give valid UTF-8 input back exactly;
//   * the streamed deltas of encoded text add up to its decode.
// Built and run by tests/fuzz/run_fuzz.sh tokenizer (clang-14, -fsanitize=fuzzer,address); see
// docs/tokenizer.md. Tokenizers: $RIBBON_SHARED_DATA's by default, or the model directories
// listed in RIBBON_FUZZ_TOKENIZERS (colon-separated).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

constexpr size_t kMaxStreamedIds = 160;

struct Loaded {
  std::string dir;
  std::shared_ptr<const ribbon::Tokenizer> tokenizer;
  bool lossless;  // gives any valid UTF-8 back exactly
};

void Fail(const Loaded& loaded, const char* what) {
  std::fprintf(stderr, "tokenizer %s: %s\n", loaded.dir.c_str(), what);
  std::abort();
}

std::vector<Loaded> LoadAll() {
  std::vector<std::string> dirs;
  if (const char* listed = std::getenv("RIBBON_FUZZ_TOKENIZERS")) {
    std::string all = listed;
    for (size_t start = 0; start <= all.size();) {
      const size_t end = std::min(all.find(':', start), all.size());
      if (end > start) dirs.push_back(all.substr(start, end - start));
      start = end + 1;
    }
  } else {
    const std::string shared = ribbon::fuzz::SharedData();
    dirs = {shared + "/tokenizers/gpt2", shared + "/tokenizers/llama-spm", shared + "/stories260k"};
  }
  std::vector<Loaded> loaded;
  for (const std::string& dir : dirs) {
    auto tokenizer = ribbon::Tokenizer::Load(dir);
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", dir.c_str(),
                   std::string(tokenizer.status().message()).c_str());
      std::abort();
    }
    loaded.push_back({dir, *tokenizer, dir.find("gpt2") != std::string::npos});
  }
  return loaded;
}

void CheckText(const Loaded& loaded, std::string_view text) {
  const ribbon::Tokenizer& tokenizer = *loaded.tokenizer;
  for (const bool special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer.Encode(text, special);
    for (const int32_t id : ids) {
      if (id < 0 || id >= tokenizer.vocab_size()) Fail(loaded, "id out of range");
    }
    const std::string decoded = tokenizer.Decode(ids, false);
    if (!ribbon::tok::IsValidUtf8(decoded)) Fail(loaded, "decode is not UTF-8");
    if (!special && loaded.lossless && ribbon::tok::IsValidUtf8(text) && decoded != text) {
      Fail(loaded, "byte-level round trip lost text");
    }
    // Streaming re-decodes its window with every id; long inputs would make the run mostly
    // that, so only the first ids of long inputs are streamed.
    if (ids.size() > kMaxStreamedIds) continue;
    ribbon::IncrementalDecoder stream(loaded.tokenizer, {}, /*skip_special_tokens=*/false);
    std::string streamed;
    for (const int32_t id : ids) {
      const std::string delta = stream.Push(std::span<const int32_t>(&id, 1));
      if (!ribbon::tok::IsValidUtf8(delta)) Fail(loaded, "stream delta is not UTF-8");
      streamed += delta;
    }
    streamed += stream.Flush();
    if (streamed != decoded) Fail(loaded, "stream does not add up to the decode");
  }
}

void CheckIds(const Loaded& loaded, const uint8_t* data, size_t size) {
  const ribbon::Tokenizer& tokenizer = *loaded.tokenizer;
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < size; i += 2) {
    // Mostly valid ids, some just outside the vocabulary or negative.
    const int32_t raw = static_cast<int32_t>(data[i]) << 8 | data[i + 1];
    ids.push_back(raw % (tokenizer.vocab_size() + 8) - 4);
  }
  for (const bool skip : {false, true}) {
    if (!ribbon::tok::IsValidUtf8(tokenizer.Decode(ids, skip))) Fail(loaded, "decode of ids");
    const size_t streamed = std::min(ids.size(), kMaxStreamedIds);
    const std::span<const int32_t> context = std::span<const int32_t>(ids).first(streamed / 2);
    ribbon::IncrementalDecoder stream(loaded.tokenizer, context, skip);
    for (size_t i = streamed / 2; i < streamed; ++i) {
      if (!ribbon::tok::IsValidUtf8(stream.Push(std::span<const int32_t>(&ids[i], 1)))) {
        Fail(loaded, "stream delta of ids");
      }
    }
    if (!ribbon::tok::IsValidUtf8(stream.Flush())) Fail(loaded, "stream flush of ids");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Loaded> tokenizers = LoadAll();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const Loaded& loaded : tokenizers) {
    CheckText(loaded, text);
    CheckIds(loaded, data, size);
  }
  return 0;
}
