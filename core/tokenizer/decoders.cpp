#include "core/tokenizer/decoders.h"

#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/pattern.h"
#include "core/tokenizer/unicode.h"

namespace ribbon::tok {
namespace {

// Maps every token's characters back to bytes (a token with a character outside the
// alphabet contributes its raw UTF-8) and decodes all of them as one lossy UTF-8 string.
class ByteLevelDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
    std::string bytes;
    std::string token_bytes;
    for (const std::string& token : tokens) {
      token_bytes.clear();
      bool all_mapped = true;
      for (size_t pos = 0; pos < token.size();) {
        const Utf8Step step = DecodeUtf8(token, pos);
        pos += step.length;
        const auto byte = step.valid ? alphabet.ByteFor(step.code_point) : std::nullopt;
        if (!byte) {
          all_mapped = false;
          break;
        }
        token_bytes.push_back(static_cast<char>(*byte));
      }
      bytes.append(all_mapped ? token_bytes : token);
    }
    tokens.assign(1, ToUtf8Lossy(bytes));
  }
};

// Replacement characters become spaces, except in the first token when a prefix was prepended.
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool drop_in_first)
      : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    const Pattern pattern = Pattern::Literal(replacement_);
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = ReplaceAll(tokens[i], pattern, i == 0 && drop_in_first_ ? "" : " ");
    }
  }

 private:
  std::string replacement_;
  bool drop_in_first_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) token = ReplaceAll(token, pattern_, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Runs of <0xXX> tokens become the text of their bytes, or one U+FFFD per byte when the run
// is not valid UTF-8.
class ByteFallbackDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    const auto flush = [&] {
      if (pending.empty()) return;
      if (IsValidUtf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementUtf8);
      }
      pending.clear();
    };
    for (std::string& token : tokens) {
      if (const auto byte = ParseByteToken(token)) {
        pending.push_back(static_cast<char>(*byte));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static std::optional<uint8_t> ParseByteToken(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>')
      return std::nullopt;
    int value = 0;
    for (int i = 3; i < 5; ++i) {
      const char c = token[i];
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit < 0) return std::nullopt;
      value = value * 16 + digit;
    }
    return static_cast<uint8_t>(value);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::string fused;
    for (const std::string& token : tokens) fused.append(token);
    tokens.assign(1, std::move(fused));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      std::vector<std::pair<size_t, char32_t>> chars;  // byte offset, code point
      for (size_t pos = 0; pos < token.size();) {
        const Utf8Step step = DecodeUtf8(token, pos);
        chars.push_back({pos, step.code_point});
        pos += step.length;
      }
      size_t first = 0;
      while (first < start_ && first < chars.size() && chars[first].second == content_) ++first;
      size_t last = chars.size();
      for (size_t i = 0; i < stop_ && last > first && chars[last - 1].second == content_; ++i)
        --last;
      const size_t begin_byte = first < chars.size() ? chars[first].first : token.size();
      const size_t end_byte = last < chars.size() ? chars[last].first : token.size();
      token = token.substr(begin_byte, end_byte - begin_byte);
    }
  }

 private:
  char32_t content_;
  size_t start_;
  size_t stop_;
};

// The suffix marking a word end becomes a space, except in the last token.
class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    const Pattern pattern = Pattern::Literal(suffix_);
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = ReplaceAll(tokens[i], pattern, i + 1 == tokens.size() ? "" : " ");
    }
  }

 private:
  std::string suffix_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Strip's `start` / `stop`: how many characters to strip, a non-negative integer (0 when
// absent). Checked before the conversion: get<size_t>() of a float such as 1e86 is undefined.
absl::StatusOr<size_t> StripCount(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return size_t{0};
  const nlohmann::json& count = config.at(key);
  if (!count.is_number_integer() || (!count.is_number_unsigned() && count.get<int64_t>() < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Strip ", key, " must be a non-negative integer, got ", count.dump()));
  }
  return count.get<size_t>();
}

absl::StatusOr<std::unique_ptr<Decoder>> MetaspaceFromJson(const nlohmann::json& config) {
  const std::string replacement = config.value("replacement", std::string("\xE2\x96\x81"));
  RETURN_IF_ERROR(ParseSingleChar(replacement, "Metaspace replacement").status());
  bool prepends = config.value("add_prefix_space", true);
  if (config.contains("prepend_scheme")) prepends = config.at("prepend_scheme") != "never";
  return std::make_unique<MetaspaceDecoder>(replacement, prepends);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const nlohmann::json& config) {
  const std::string type = config.at("type").get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return MetaspaceFromJson(config);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "BPEDecoder") {
    return std::make_unique<BpeDecoder>(config.value("suffix", std::string("</w>")));
  }
  if (type == "Replace") {
    ASSIGN_OR_RETURN(Pattern pattern, Pattern::FromJson(config.at("pattern")));
    return std::make_unique<ReplaceDecoder>(std::move(pattern),
                                            config.at("content").get<std::string>());
  }
  if (type == "Strip") {
    ASSIGN_OR_RETURN(const char32_t content,
                     ParseSingleChar(config.at("content").get<std::string>(), "Strip content"));
    ASSIGN_OR_RETURN(const size_t start, StripCount(config, "start"));
    ASSIGN_OR_RETURN(const size_t stop, StripCount(config, "stop"));
    return std::make_unique<StripDecoder>(content, start, stop);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& step_config : config.at("decoders")) {
      ASSIGN_OR_RETURN(std::unique_ptr<Decoder> step, DecoderFromJson(step_config));
      steps.push_back(std::move(step));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  return absl::UnimplementedError(absl::StrCat("unsupported decoder type '", type, "'"));
}

}  // namespace ribbon::tok
