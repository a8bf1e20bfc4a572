#include "core/tokenizer/pre_tokenizers.h"

#include <functional>
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

// The GPT-2 pattern that the ByteLevel pre-tokenizer uses when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

using SpanFinder = std::function<std::vector<MatchSpan>(std::string_view)>;

// Replaces each piece by the spans `find_spans` keeps of it, dropping empty ones.
void SplitEach(std::vector<PreToken>& pieces, const SpanFinder& find_spans) {
  std::vector<PreToken> out;
  out.reserve(pieces.size() * 2);
  for (PreToken& piece : pieces) {
    for (const auto& [start, end] : find_spans(piece.text)) {
      if (start == end) continue;
      out.push_back({piece.text.substr(start, end - start), piece.at_input_start && start == 0});
    }
  }
  pieces = std::move(out);
}

SpanFinder PatternSplitter(std::shared_ptr<const Pattern> pattern, SplitBehavior behavior,
                           bool invert) {
  return [pattern = std::move(pattern), behavior, invert](std::string_view text) {
    std::vector<MatchSpan> matches;
    pattern->FindAll(text, matches);
    std::vector<Segment> segments;
    SegmentsFromMatches(text.size(), matches, segments);
    return ApplySplitBehavior(std::move(segments), behavior, invert);
  };
}

SpanFinder CharSplitter(std::function<bool(char32_t)> predicate, SplitBehavior behavior) {
  return [predicate = std::move(predicate), behavior](std::string_view text) {
    std::vector<Segment> segments;
    SegmentsFromCharPredicate(text, predicate, segments);
    return ApplySplitBehavior(std::move(segments), behavior, /*invert=*/false);
  };
}

// Splits with a fixed rule; covers Split, Digits, WhitespaceSplit and CharDelimiterSplit, which
// differ only in what they match.
class SplittingPreTokenizer final : public PreTokenizer {
 public:
  explicit SplittingPreTokenizer(SpanFinder finder) : finder_(std::move(finder)) {}
  void PreTokenize(std::vector<PreToken>& pieces) const override { SplitEach(pieces, finder_); }

 private:
  SpanFinder finder_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::shared_ptr<const Pattern> gpt2_pattern)
      : add_prefix_space_(add_prefix_space), gpt2_pattern_(std::move(gpt2_pattern)) {}

  void PreTokenize(std::vector<PreToken>& pieces) const override {
    if (add_prefix_space_) {
      for (PreToken& piece : pieces) {
        if (piece.text.empty() || piece.text[0] != ' ') piece.text.insert(piece.text.begin(), ' ');
      }
    }
    if (gpt2_pattern_) {
      SplitEach(pieces, PatternSplitter(gpt2_pattern_, SplitBehavior::kIsolated, false));
    }
    const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
    for (PreToken& piece : pieces) {
      std::string encoded;
      alphabet.AppendEncoded(piece.text, encoded);
      piece.text = std::move(encoded);
    }
  }

 private:
  bool add_prefix_space_;
  std::shared_ptr<const Pattern> gpt2_pattern_;  // null when use_regex is false
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : scheme_(scheme), split_(split) {
    AppendUtf8(replacement, replacement_);
    splitter_ = PatternSplitter(std::make_shared<Pattern>(Pattern::Literal(replacement_)),
                                SplitBehavior::kMergedWithNext, false);
  }

  void PreTokenize(std::vector<PreToken>& pieces) const override {
    const Pattern space = Pattern::Literal(" ");
    for (PreToken& piece : pieces) {
      piece.text = ReplaceAll(piece.text, space, replacement_);
      const bool starts_with_replacement = piece.text.rfind(replacement_, 0) == 0;
      const bool prepend = scheme_ == PrependScheme::kAlways ||
                           (scheme_ == PrependScheme::kFirst && piece.at_input_start);
      if (prepend && !starts_with_replacement) piece.text.insert(0, replacement_);
    }
    if (split_) SplitEach(pieces, splitter_);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
  SpanFinder splitter_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void PreTokenize(std::vector<PreToken>& pieces) const override {
    for (const auto& step : steps_) step->PreTokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

absl::StatusOr<std::unique_ptr<PreTokenizer>> MetaspaceFromJson(const nlohmann::json& config) {
  ASSIGN_OR_RETURN(const char32_t replacement,
                   ParseSingleChar(config.value("replacement", std::string("\xE2\x96\x81")),
                                   "Metaspace replacement"));
  PrependScheme scheme = PrependScheme::kAlways;
  if (config.contains("prepend_scheme")) {
    const std::string name = config.at("prepend_scheme").get<std::string>();
    if (name == "first") {
      scheme = PrependScheme::kFirst;
    } else if (name == "never") {
      scheme = PrependScheme::kNever;
    } else if (name != "always") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown Metaspace prepend_scheme '", name, "'"));
    }
  } else if (!config.value("add_prefix_space", true)) {
    scheme = PrependScheme::kNever;  // the older form of the same setting
  }
  return std::make_unique<MetaspacePreTokenizer>(replacement, scheme, config.value("split", true));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> SplitFromJson(const nlohmann::json& config) {
  ASSIGN_OR_RETURN(Pattern pattern, Pattern::FromJson(config.at("pattern")));
  ASSIGN_OR_RETURN(SplitBehavior behavior,
                   SplitBehaviorFromName(config.at("behavior").get<std::string>()));
  return std::make_unique<SplittingPreTokenizer>(PatternSplitter(
      std::make_shared<Pattern>(std::move(pattern)), behavior, config.value("invert", false)));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ByteLevelFromJson(const nlohmann::json& config) {
  std::shared_ptr<const Pattern> gpt2;
  if (config.value("use_regex", true)) {
    ASSIGN_OR_RETURN(Pattern pattern, Pattern::FromJson({{"Regex", std::string(kGpt2Pattern)}}));
    gpt2 = std::make_shared<Pattern>(std::move(pattern));
  }
  return std::make_unique<ByteLevelPreTokenizer>(config.value("add_prefix_space", true),
                                                 std::move(gpt2));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const nlohmann::json& config) {
  const std::string type = config.at("type").get<std::string>();
  if (type == "ByteLevel") return ByteLevelFromJson(config);
  if (type == "Split") return SplitFromJson(config);
  if (type == "Metaspace") return MetaspaceFromJson(config);
  if (type == "Digits") {
    const SplitBehavior behavior = config.value("individual_digits", false)
                                       ? SplitBehavior::kIsolated
                                       : SplitBehavior::kContiguous;
    return std::make_unique<SplittingPreTokenizer>(CharSplitter(IsNumeric, behavior));
  }
  if (type == "WhitespaceSplit") {
    return std::make_unique<SplittingPreTokenizer>(
        CharSplitter(IsWhiteSpace, SplitBehavior::kRemoved));
  }
  if (type == "CharDelimiterSplit") {
    ASSIGN_OR_RETURN(const char32_t delimiter,
                     ParseSingleChar(config.at("delimiter").get<std::string>(), "delimiter"));
    return std::make_unique<SplittingPreTokenizer>(
        CharSplitter([delimiter](char32_t c) { return c == delimiter; }, SplitBehavior::kRemoved));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& step_config : config.at("pretokenizers")) {
      ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> step, PreTokenizerFromJson(step_config));
      steps.push_back(std::move(step));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  return absl::UnimplementedError(absl::StrCat("unsupported pre_tokenizer type '", type, "'"));
}

}  // namespace ribbon::tok
