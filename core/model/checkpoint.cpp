#include "core/model/checkpoint.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ribbon {
namespace {

// Shard file names listed by model.safetensors.index.json, in first-seen order.
absl::StatusOr<std::vector<std::string>> ShardNames(const std::string& index_path) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(index_path));
  auto index = nlohmann::json::parse(text, nullptr, false);
  if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": invalid JSON or no weight_map"));
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    if (!file.is_string())
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": bad entry for ", tensor));
    const std::string name = file.get<std::string>();
    if (name.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": shard name \"", name, "\" must be a plain file name"));
    }
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat("model directory ", dir, " does not exist"));
  }
  std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
  ckpt->dir_ = dir;
  ASSIGN_OR_RETURN(ckpt->config_, LoadModelConfig(dir));
  std::vector<std::string> shards;
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (std::filesystem::exists(single)) {
    shards.push_back("model.safetensors");
  } else if (std::filesystem::exists(index)) {
    ASSIGN_OR_RETURN(shards, ShardNames(index));
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no model.safetensors or model.safetensors.index.json"));
  }
  for (const auto& shard : shards) {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(dir + "/" + shard));
    ckpt->files_.push_back(std::move(file));
  }
  return ckpt;
}

const TensorView* Checkpoint::Lookup(const std::string& name) const {
  for (const auto& file : files_) {
    if (const TensorView* view = file->Find(name)) return view;
  }
  return nullptr;
}

absl::StatusOr<const TensorView*> Checkpoint::Get(const std::string& name,
                                                  const std::vector<int64_t>& shape) const {
  const TensorView* view = Lookup(name);
  if (view == nullptr)
    return absl::NotFoundError(absl::StrCat(dir_, ": tensor \"", name, "\" is missing"));
  if (view->shape != shape) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir_, ": tensor \"", name, "\" has shape [", absl::StrJoin(view->shape, ", "),
                     "] but config.json implies [", absl::StrJoin(shape, ", "), "]"));
  }
  return view;
}

const SafetensorsFile* Checkpoint::FileOf(const TensorView& view) const {
  for (const auto& file : files_) {
    if (file->Find(view.name) == &view) return file.get();
  }
  return nullptr;
}

void Checkpoint::Release(const TensorView& view) const {
  if (const SafetensorsFile* file = FileOf(view)) file->Release(view);
}

int64_t Checkpoint::total_bytes() const {
  int64_t total = 0;
  for (const auto& file : files_) {
    for (const auto& [name, view] : file->tensors()) total += static_cast<int64_t>(view.nbytes);
  }
  return total;
}

}  // namespace ribbon
