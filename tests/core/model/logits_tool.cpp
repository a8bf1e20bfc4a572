// logits_tool: runs ONE packed ribbon (every sequence's whole prompt laid end to end) through a
// checkpoint and writes the float32 logits of every row, for the transformers parity tests.
//
//   logits_tool MODEL_DIR INPUT.json OUTPUT.bin [DTYPE]
// INPUT.json: {"sequences": [[ids...], ...]}. OUTPUT.bin: rows in ribbon order, [rows, vocab].
#include <cstdio>
#include <fstream>
#include <iostream>

#include "core/kv/block_manager.h"
#include "core/model/model_runner.h"
#include "nlohmann/json.hpp"

namespace {

ribbon::StepPlan PackAll(const std::vector<std::vector<int32_t>>& seqs,
                         ribbon::BlockManager& blocks) {
  ribbon::StepPlan plan;
  plan.block_size = blocks.block_size();
  plan.num_seqs = static_cast<int32_t>(seqs.size());
  plan.cu_seqlens = {0};
  int32_t max_blocks = 1;
  for (size_t s = 0; s < seqs.size(); ++s) {
    if (!blocks.EnsureCapacity(s, static_cast<int32_t>(seqs[s].size())).ok()) std::abort();
    max_blocks = std::max(max_blocks, blocks.BlocksHeld(s));
  }
  plan.max_blocks_per_seq = max_blocks;
  plan.block_tables.assign(seqs.size() * max_blocks, 0);
  for (size_t s = 0; s < seqs.size(); ++s) {
    for (size_t p = 0; p < seqs[s].size(); ++p) {
      plan.sample_rows.push_back(static_cast<int32_t>(plan.token_ids.size()));
      plan.token_ids.push_back(seqs[s][p]);
      plan.positions.push_back(static_cast<int32_t>(p));
      plan.slot_mapping.push_back(blocks.Slot(s, static_cast<int32_t>(p)));
    }
    plan.cu_seqlens.push_back(static_cast<int32_t>(plan.token_ids.size()));
    plan.kv_lens.push_back(static_cast<int32_t>(seqs[s].size()));
    const auto table = blocks.BlockTable(s);
    std::copy(table.begin(), table.end(), plan.block_tables.begin() + s * max_blocks);
  }
  plan.num_rows = static_cast<int32_t>(plan.token_ids.size());
  plan.real_tokens = plan.num_rows;
  return plan;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::cerr << "usage: logits_tool MODEL_DIR INPUT.json OUTPUT.bin [float32|bfloat16]\n";
    return 2;
  }
  auto model =
      ribbon::LoadModel({.path = argv[1], .dtype = argc == 5 ? argv[4] : "auto", .num_threads = 2});
  if (!model.ok()) {
    std::cerr << model.status() << "\n";
    return 1;
  }
  std::ifstream in(argv[2]);
  const auto seqs = nlohmann::json::parse(in)["sequences"].get<std::vector<std::vector<int32_t>>>();
  int32_t tokens = 0;
  for (const auto& s : seqs) tokens += static_cast<int32_t>(s.size());
  const int32_t block_size = 16;
  ribbon::BlockManager blocks(
      {.num_blocks = tokens / block_size + static_cast<int32_t>(seqs.size()) + 1,
       .block_size = block_size});
  if (auto st = (*model)->AllocateKvCache(blocks.total_blocks(), block_size); !st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  const ribbon::StepPlan plan = PackAll(seqs, blocks);
  std::vector<float> logits(static_cast<size_t>(plan.num_rows) * (*model)->config().vocab_size);
  if (auto st = (*model)->Forward(plan, logits); !st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  std::ofstream out(argv[3], std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data()),
            static_cast<std::streamsize>(logits.size() * sizeof(float)));
  std::cout << "{\"rows\": " << plan.num_rows << ", \"vocab\": " << (*model)->config().vocab_size
            << "}\n";
  return 0;
}
