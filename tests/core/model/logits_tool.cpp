// logits_tool: runs ONE packed ribbon (every sequence's whole prompt laid end to end) through a
// checkpoint and writes the float32 logits of every row, for the transformers parity tests.
//
//   logits_tool MODEL_DIR INPUT.json OUTPUT.bin [DTYPE]
// INPUT.json: {"sequences": [[ids...], ...]}. OUTPUT.bin: rows in ribbon order, [rows, vocab].
#include <cstdio>
#include <fstream>
#include <iostream>

#include "core/kv/block_manager.h"
#include "core/model/host_sampling_runner.h"
#include "core/model/model_runner.h"
#include "core/plan/offline_plan.h"
#include "nlohmann/json.hpp"

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
  // Every row of every sequence samples, so every row's logits come out (ForwardLogits is the
  // runners' test-only door to them; the engine sees sampled tokens only).
  std::vector<ribbon::PlanSegment> segments;
  for (size_t s = 0; s < seqs.size(); ++s)
    segments.push_back({.seq_id = s, .tokens = seqs[s], .sample = ribbon::SampleRows::kAll});
  auto plan_or = ribbon::BuildOfflinePlan(blocks, segments);
  auto* runner = dynamic_cast<ribbon::HostSamplingRunner*>(model->get());
  if (!plan_or.ok() || runner == nullptr) {
    std::cerr << (plan_or.ok() ? "the runner does not expose logits" : plan_or.status().ToString())
              << "\n";
    return 1;
  }
  const ribbon::StepPlan& plan = *plan_or;
  std::vector<float> logits(static_cast<size_t>(plan.num_rows) * (*model)->config().vocab_size);
  if (auto st = runner->ForwardLogits(plan, logits); !st.ok()) {
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
