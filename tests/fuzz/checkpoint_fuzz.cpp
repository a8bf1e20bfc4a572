// libFuzzer target for opening a checkpoint directory (core/model/checkpoint.h): config.json,
// generation_config.json, model.safetensors.index.json and the shards. The input holds the files
// separated by kPartSeparator lines (tests/fuzz/fuzz_util.h), in this order:
//   config.json, generation_config.json (omitted when empty), the index (when empty, the first
//   shard is written as model.safetensors instead), then shards shard-1.safetensors, ...
// Besides the sanitizers' own checks it requires that an error is a Status with a message (no
// throw, no crash), and for a checkpoint that opens: a positive vocabulary, context and head
// size; a parameter count that does not overflow; and every tensor the llama loader asks for
// either answered (with the shape asked) or refused with a Status.
// Built and run by tests/fuzz/run_fuzz.sh checkpoint; seeds: tests/fuzz/corpus/checkpoint/.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ribbon::fuzz::Require;

constexpr size_t kMaxShards = 4;

std::string WriteCheckpoint(std::string_view input) {
  const std::filesystem::path dir = ribbon::fuzz::ScratchDir() / "checkpoint";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<std::string_view> parts = ribbon::fuzz::SplitParts(input, 3 + kMaxShards);
  ribbon::fuzz::WriteFile(dir / "config.json", parts[0]);
  if (parts.size() > 1 && !parts[1].empty()) {
    ribbon::fuzz::WriteFile(dir / "generation_config.json", parts[1]);
  }
  const bool indexed = parts.size() > 2 && !parts[2].empty();
  if (indexed) ribbon::fuzz::WriteFile(dir / "model.safetensors.index.json", parts[2]);
  for (size_t i = 3; i < parts.size(); ++i) {
    const std::string name =
        indexed ? absl::StrCat("shard-", i - 2, ".safetensors") : "model.safetensors";
    ribbon::fuzz::WriteFile(dir / name, parts[i]);
    if (!indexed) break;
  }
  return dir.string();
}

// The tensors (and shapes) the llama loader asks for, for the first two layers.
std::vector<std::pair<std::string, std::vector<int64_t>>> LlamaTensors(
    const ribbon::ModelConfig& c) {
  const int64_t h = c.hidden_size;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out = {
      {"model.embed_tokens.weight", {c.vocab_size, h}},
      {"model.norm.weight", {h}},
      {"lm_head.weight", {c.vocab_size, h}}};
  for (int64_t layer = 0; layer < std::min<int64_t>(c.num_layers, 2); ++layer) {
    const std::string p = absl::StrCat("model.layers.", layer, ".");
    out.push_back({p + "self_attn.q_proj.weight", {c.q_size(), h}});
    out.push_back({p + "self_attn.k_proj.weight", {c.kv_size(), h}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, h}});
    out.push_back({p + "input_layernorm.weight", {h}});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = WriteCheckpoint(ribbon::fuzz::AsText(data, size));
  auto checkpoint = ribbon::Checkpoint::Open(dir);
  if (!checkpoint.ok()) {
    Require(!checkpoint.status().message().empty(), "an error without a message");
    return 0;
  }
  const ribbon::ModelConfig& config = (*checkpoint)->config();
  Require(config.vocab_size > 0 && config.max_position_embeddings > 0, "non-positive size");
  Require(config.head_dim > 0 && config.head_dim <= 256, "head_dim outside [1, 256]");
  Require(config.parameter_count() > 0, "parameter count not positive");
  Require((*checkpoint)->total_bytes() >= 0, "negative total bytes");
  for (const auto& [name, shape] : LlamaTensors(config)) {
    auto view = (*checkpoint)->Get(name, shape);
    if (!view.ok()) continue;
    Require((*view)->shape == shape, "Get returned another shape for " + name);
    Require((*checkpoint)->Has(name), "Has disagrees with Get for " + name);
  }
  return 0;
}
