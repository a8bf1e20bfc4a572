#include "core/tokenizer/post_processors.h"

#include <climits>
#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace ribbon::tok {
namespace {

// The ids to put before and after the sequence.
class WrapProcessor final : public PostProcessor {
 public:
  WrapProcessor(std::vector<int32_t> before, std::vector<int32_t> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  void Process(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), before_.begin(), before_.end());
    ids.insert(ids.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<int32_t> before_;
  std::vector<int32_t> after_;
};

class IdentityProcessor final : public PostProcessor {
 public:
  void Process(std::vector<int32_t>& ids) const override {}
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  void Process(std::vector<int32_t>& ids) const override {
    for (const auto& step : steps_) step->Process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// A special-token id of a post-processor: an integer in [0, 2^31 - 1), checked before the
// conversion (get<int32_t>() of a float such as 1e86 is undefined). Whether it lies inside the
// vocabulary is checked once the whole tokenizer is loaded.
absl::StatusOr<int32_t> SpecialId(const nlohmann::json& id, const std::string& what) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": a special-token id must be an integer in [0, 2147483647), got ", id.dump()));
  }
  return static_cast<int32_t>(id.get<int64_t>());
}

// TemplateProcessing's "single" template, e.g. [SpecialToken <s>, Sequence A].
absl::StatusOr<std::unique_ptr<PostProcessor>> TemplateFromJson(const nlohmann::json& config) {
  std::vector<int32_t> before, after;
  bool seen_sequence = false;
  for (const auto& item : config.at("single")) {
    if (item.contains("Sequence")) {
      const std::string id = item.at("Sequence").at("id").get<std::string>();
      if (id != "A" || seen_sequence) {
        return absl::InvalidArgumentError(
            absl::StrCat("TemplateProcessing single template uses sequence '", id, "'"));
      }
      seen_sequence = true;
      continue;
    }
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    const auto& specials = config.at("special_tokens");
    if (!specials.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("TemplateProcessing special token '", name, "' is not defined"));
    }
    for (const auto& id : specials.at(name).at("ids")) {
      ASSIGN_OR_RETURN(const int32_t checked, SpecialId(id, "TemplateProcessing " + name));
      (seen_sequence ? after : before).push_back(checked);
    }
  }
  return std::make_unique<WrapProcessor>(std::move(before), std::move(after));
}

// RobertaProcessing / BertProcessing: cls = [token, id] before, sep = [token, id] after.
absl::StatusOr<std::unique_ptr<PostProcessor>> ClsSepFromJson(const nlohmann::json& config) {
  ASSIGN_OR_RETURN(const int32_t cls, SpecialId(config.at("cls").at(1), "cls"));
  ASSIGN_OR_RETURN(const int32_t sep, SpecialId(config.at("sep").at(1), "sep"));
  return std::make_unique<WrapProcessor>(std::vector<int32_t>{cls}, std::vector<int32_t>{sep});
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessorFromJson(const nlohmann::json& config) {
  const std::string type = config.at("type").get<std::string>();
  if (type == "TemplateProcessing") return TemplateFromJson(config);
  if (type == "ByteLevel") return std::make_unique<IdentityProcessor>();
  if (type == "RobertaProcessing" || type == "BertProcessing") return ClsSepFromJson(config);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const auto& step_config : config.at("processors")) {
      ASSIGN_OR_RETURN(std::unique_ptr<PostProcessor> step, PostProcessorFromJson(step_config));
      steps.push_back(std::move(step));
    }
    return std::make_unique<SequenceProcessor>(std::move(steps));
  }
  return absl::UnimplementedError(absl::StrCat("unsupported post_processor type '", type, "'"));
}

}  // namespace ribbon::tok
