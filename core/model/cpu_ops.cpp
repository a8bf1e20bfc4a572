#include "core/model/cpu_ops.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/half.h"

namespace ribbon::cpu {
namespace {

// Rows per task: enough work per task to amortise scheduling.
int64_t Grain(int64_t work_per_row) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_row));
}

}  // namespace

void ParallelItems(int64_t items, int64_t work_per_item, const std::function<void(int64_t)>& fn) {
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), items);
  if (threads <= 1 || items * work_per_item < (int64_t{1} << 18)) {
    for (int64_t item = 0; item < items; ++item) fn(item);
    return;
  }
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    for (int64_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) fn(item);
  });
}

void RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t dim,
             int64_t x_stride, int64_t out_stride, float eps) {
  at::parallel_for(0, rows, Grain(dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * x_stride;
      float* o = out + r * out_stride;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < dim; ++i) sum += xr[i] * xr[i];
      const float inv = 1.0f / std::sqrt(sum / static_cast<float>(dim) + eps);
#pragma omp simd
      for (int64_t i = 0; i < dim; ++i) o[i] = xr[i] * inv * weight[i];
    }
  });
}

void ApplyRope(float* x, int64_t rows, int64_t row_stride, int64_t num_heads, int64_t head_dim,
               const int32_t* positions, const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  at::parallel_for(0, rows, Grain(num_heads * head_dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* c = cos + static_cast<int64_t>(positions[r]) * half;
      const float* s = sin + static_cast<int64_t>(positions[r]) * half;
      for (int64_t h = 0; h < num_heads; ++h) {
        float* head = x + r * row_stride + h * head_dim;
#pragma omp simd
        for (int64_t i = 0; i < half; ++i) {
          const float a = head[i];
          const float b = head[i + half];
          head[i] = a * c[i] - b * s[i];
          head[i + half] = b * c[i] + a * s[i];
        }
      }
    }
  });
}

void SiluMulColumns(const float* gate_up, float* out, int64_t rows, int64_t inter, int64_t c0,
                    int64_t c1) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = gate_up + r * 2 * inter;
    const float* u = g + inter;
    float* o = out + r * inter;
    // silu(x) = x / (1 + exp(-x)), with exp taken only of -|x| (ExpNonPositive, which
    // vectorises; the scalar libm call was 4 % of a llama-100m batch-8 decode step): for
    // x < 0, x / (1 + exp(-x)) = x * e / (1 + e) with e = exp(x).
#pragma omp simd
    for (int64_t i = c0; i < c1; ++i) {
      const float x = g[i];
      const float e = kernels::ExpNonPositive(-std::fabs(x));
      o[i] = (x >= 0.0f ? x : x * e) / (1.0f + e) * u[i];
    }
  }
}

void SiluMul(const float* gate_up, float* out, int64_t rows, int64_t inter) {
  // An element costs about as much as eight of a copy's (the exp polynomial and a division).
  at::parallel_for(0, rows, Grain(8 * inter), [&](int64_t begin, int64_t end) {
    SiluMulColumns(gate_up + begin * 2 * inter, out + begin * inter, end - begin, inter, 0, inter);
  });
}

void GatherRows(const float* table, const int32_t* ids, float* out, int64_t rows, int64_t dim) {
  at::parallel_for(0, rows, Grain(dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::memcpy(out + r * dim, table + static_cast<int64_t>(ids[r]) * dim, dim * sizeof(float));
    }
  });
}

void WriteKv(const float* k_src, const float* v_src, int64_t src_stride, const int32_t* slots,
             int64_t rows, int64_t kv_width, kernels::KvDtype dtype, void* k_cache, void* v_cache) {
  at::parallel_for(0, rows, Grain(2 * kv_width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (slots[r] < 0) continue;
      const int64_t dst = static_cast<int64_t>(slots[r]) * kv_width;
      const float* k = k_src + r * src_stride;
      const float* v = v_src + r * src_stride;
      if (dtype == kernels::KvDtype::kFloat16) {
        uint16_t* kd = static_cast<uint16_t*>(k_cache) + dst;
        uint16_t* vd = static_cast<uint16_t*>(v_cache) + dst;
        for (int64_t i = 0; i < kv_width; ++i) {
          kd[i] = kernels::FloatToHalfBits(k[i]);
          vd[i] = kernels::FloatToHalfBits(v[i]);
        }
      } else {
        std::memcpy(static_cast<float*>(k_cache) + dst, k, kv_width * sizeof(float));
        std::memcpy(static_cast<float*>(v_cache) + dst, v, kv_width * sizeof(float));
      }
    }
  });
}

void AddBias(float* out, const float* bias, int64_t rows, int64_t width, int64_t stride) {
  at::parallel_for(0, rows, Grain(width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * stride;
#pragma omp simd
      for (int64_t i = 0; i < width; ++i) o[i] += bias[i];
    }
  });
}

}  // namespace ribbon::cpu
