#include "core/model/rope.h"

#include <cmath>
#include <numbers>

namespace ribbon {

std::vector<double> RopeInverseFrequencies(const ModelConfig& config) {
  const int64_t half = config.head_dim / 2;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    // transformers computes the exponent in float32: arange(0, dim, 2).float() / dim.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(config.head_dim);
    inv[i] = 1.0 / std::pow(config.rope_theta, static_cast<double>(exponent));
  }
  const RopeScaling& s = config.rope_scaling;
  if (s.type == "linear") {
    for (double& f : inv) f /= s.factor;
  } else if (s.type == "llama3") {
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor;
    const double high_wavelen = old_len / s.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    }
  }
  return inv;
}

RopeTables BuildRopeTables(const ModelConfig& config, int64_t max_positions) {
  const std::vector<double> inv = RopeInverseFrequencies(config);
  const int64_t half = static_cast<int64_t>(inv.size());
  RopeTables t;
  t.cos.resize(max_positions * half);
  t.sin.resize(max_positions * half);
  for (int64_t p = 0; p < max_positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      // transformers multiplies in float32 (position.float() * inv_freq.float()).
      const float angle = static_cast<float>(p) * static_cast<float>(inv[i]);
      t.cos[p * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      t.sin[p * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
  return t;
}

}  // namespace ribbon
