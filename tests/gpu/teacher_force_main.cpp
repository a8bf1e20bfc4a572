// ribbon_teacher_force: next-token argmax under teacher forcing through the CUDA runner, for the
// transformers agreement test (tests/gpu/test_hf_agreement.py).
//
//   ribbon_teacher_force MODEL_DIR DTYPE ATTENTION_BACKEND INPUT.json OUTPUT.json
// INPUT.json: {"sequences": [{"prompt": [ids], "continuation": [ids]}, ...]}.
// OUTPUT.json: {"describe": runner, "prefill": [[argmax]], "packed": [[argmax]], "decode":
// [[argmax]]} where each list holds, per sequence, the argmax predicting continuation[0..n): from
// one prefill per sequence, from one ribbon holding every sequence, and from a prompt prefill
// followed by n - 1 decode steps (all sequences batched in each step).
#include <fstream>
#include <iostream>

#include "core/model/cuda/cuda_model.h"
#include "core/plan/offline_plan.h"
#include "nlohmann/json.hpp"

namespace {

using ribbon::PlanSegment;
using ribbon::SampleRows;

struct Sequence {
  std::vector<int32_t> prompt, continuation;
};

// The teacher-forced input of a sequence: the prompt and all but the last continuation token.
std::vector<int32_t> Forced(const Sequence& s) {
  std::vector<int32_t> ids = s.prompt;
  ids.insert(ids.end(), s.continuation.begin(), s.continuation.end() - 1);
  return ids;
}

// Runs the steps on a fresh KV cache; returns the greedy token (the argmax) of every sample row,
// in order: the runner samples, greedy by default.
std::vector<int32_t> Run(ribbon::ModelRunner& model,
                         const std::vector<std::vector<PlanSegment>>& steps) {
  ribbon::BlockManager blocks({.num_blocks = 4096, .block_size = 16});
  if (auto st = model.AllocateKvCache(blocks.total_blocks(), blocks.block_size()); !st.ok()) {
    std::cerr << st << "\n";
    std::exit(1);
  }
  std::vector<int32_t> argmax;
  for (const auto& segments : steps) {
    auto plan = ribbon::BuildOfflinePlan(blocks, segments);
    if (!plan.ok()) {
      std::cerr << plan.status() << "\n";
      std::exit(1);
    }
    ribbon::StepOutput output;
    if (auto st = model.Run(*plan, output); !st.ok()) {
      std::cerr << st << "\n";
      std::exit(1);
    }
    for (const auto& sampled : output.sampled) argmax.push_back(sampled.token);
  }
  return argmax;
}

// The last `n` entries of `all` per sequence, where sequence s contributed `counts[s]` entries.
std::vector<std::vector<int32_t>> Tails(const std::vector<int32_t>& all,
                                        const std::vector<Sequence>& seqs,
                                        const std::vector<size_t>& counts) {
  std::vector<std::vector<int32_t>> out;
  size_t at = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const size_t n = seqs[s].continuation.size();
    out.emplace_back(all.begin() + at + counts[s] - n, all.begin() + at + counts[s]);
    at += counts[s];
  }
  return out;
}

nlohmann::json Prefill(ribbon::ModelRunner& model, const std::vector<Sequence>& seqs, bool packed) {
  std::vector<std::vector<PlanSegment>> steps(packed ? 1 : 0);
  std::vector<size_t> counts;
  for (size_t s = 0; s < seqs.size(); ++s) {
    PlanSegment seg{s, 0, Forced(seqs[s]), 0, SampleRows::kAll};
    counts.push_back(seg.tokens.size());
    if (packed)
      steps[0].push_back(seg);
    else
      steps.push_back({seg});
  }
  return Tails(Run(model, steps), seqs, counts);
}

nlohmann::json Decode(ribbon::ModelRunner& model, const std::vector<Sequence>& seqs) {
  std::vector<std::vector<PlanSegment>> steps(1);
  size_t longest = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    steps[0].push_back({s, 0, seqs[s].prompt, 0, SampleRows::kLast});
    longest = std::max(longest, seqs[s].continuation.size());
  }
  for (size_t k = 1; k < longest; ++k) {
    std::vector<PlanSegment> step;
    for (size_t s = 0; s < seqs.size(); ++s) {
      if (k >= seqs[s].continuation.size()) continue;
      step.push_back({s,
                      static_cast<int32_t>(seqs[s].prompt.size() + k - 1),
                      {seqs[s].continuation[k - 1]},
                      0,
                      SampleRows::kLast});
    }
    steps.push_back(step);
  }
  const std::vector<int32_t> flat = Run(model, steps);  // step-major
  std::vector<std::vector<int32_t>> out(seqs.size());
  size_t at = 0;
  for (size_t k = 0; k < longest; ++k) {
    for (size_t s = 0; s < seqs.size(); ++s) {
      if (k < seqs[s].continuation.size()) out[s].push_back(flat[at++]);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr
        << "usage: ribbon_teacher_force MODEL_DIR DTYPE ATTENTION_BACKEND INPUT.json OUTPUT.json\n";
    return 2;
  }
  auto model = ribbon::LoadCudaModel(
      {.path = argv[1], .device = "cuda", .dtype = argv[2], .attention_backend = argv[3]});
  if (!model.ok()) {
    std::cerr << model.status() << "\n";
    return 1;
  }
  std::ifstream in(argv[4]);
  const auto input = nlohmann::json::parse(in);
  std::vector<Sequence> seqs;
  for (const auto& s : input["sequences"]) {
    seqs.push_back(
        {s["prompt"].get<std::vector<int32_t>>(), s["continuation"].get<std::vector<int32_t>>()});
    if (seqs.back().prompt.empty() || seqs.back().continuation.empty()) {
      std::cerr << "every sequence needs a prompt and a continuation\n";
      return 2;
    }
  }
  nlohmann::json out;
  out["prefill"] = Prefill(**model, seqs, /*packed=*/false);
  out["packed"] = Prefill(**model, seqs, /*packed=*/true);
  out["decode"] = Decode(**model, seqs);
  out["describe"] = (*model)->Describe();
  std::ofstream(argv[5]) << out.dump() << "\n";
  std::cout << out["describe"].get<std::string>() << "\n";
  return 0;
}
