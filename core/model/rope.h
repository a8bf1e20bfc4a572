// RoPE frequency tables, including the llama3 and linear rope_scaling variants, computed as
// Hugging Face transformers does. Torch-free. Any thread.
#pragma once

#include <vector>

#include "core/model/model_config.h"

namespace ribbon {

// Inverse frequencies [head_dim / 2] after rope_scaling.
std::vector<double> RopeInverseFrequencies(const ModelConfig& config);

struct RopeTables {
  std::vector<float> cos;  // [max_positions, head_dim / 2]
  std::vector<float> sin;
};

RopeTables BuildRopeTables(const ModelConfig& config, int64_t max_positions);

}  // namespace ribbon
