// The CPU ModelRunner for Llama-family decoders (Llama, Mistral, Qwen2): float32 or bfloat16
// weights, float32 arithmetic. One step = four packed GEMMs per layer (kernels/cpu/packed_gemm)
// plus hand-written loops (core/model/cpu_ops) and one attention kernel over the whole ribbon.
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/InferenceMode.h>

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <span>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"
#include "core/model/cpu_huge_pages.h"
#include "core/model/cpu_model.h"
#include "core/model/cpu_ops.h"
#include "core/model/cpu_packed_weights.h"
#include "core/model/host_sampling_runner.h"
#include "core/model/llama_weights.h"
#include "core/model/rope.h"
#include "core/model/torch_guard.h"
#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/paged_attention.h"

namespace ribbon {
namespace {

// The hot part of the KV cache goes in huge pages: the first kHotKvSlots slots of every layer,
// kHotKvBytes for both caches at most (plus the 2 MiB pages each layer's part ends in). The block
// manager hands out the lowest free blocks first, so the blocks of up to that many cached tokens
// lie inside it, and a decode's scattered block reads there spare the TLB misses of 4 KiB pages
// (llama-100m, batch-8 decode, 2 threads, Intel Xeon, 2026-12-05: the step's attention 10 % faster,
// 55-57 against 58-68 ms over 33 steps). Not the whole cache: it is sized to most of the machine's
// memory, and a huge-page fault may compact memory synchronously (THP defrag "madvise"); under
// another process's memory pressure, faulting a whole cache so held a daemon's start-up for minutes
// (9bc09de).
constexpr int64_t kHotKvSlots = 8192;
constexpr int64_t kHotKvBytes = int64_t{256} << 20;

// The mean number of keys a query row of the step attends to (causal, within the window; at
// least 1): what one attention item costs, to decide whether the step's attention is worth
// splitting across threads.
int64_t MeanVisibleKeys(const StepPlan& plan, int64_t sliding_window) {
  const int64_t rows = plan.cu_seqlens[plan.num_seqs];
  if (rows == 0) return 1;
  int64_t keys = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t visible = static_cast<int64_t>(plan.positions[r]) + 1;
    keys += sliding_window > 0 ? std::min(visible, sliding_window) : visible;
  }
  return std::max<int64_t>(1, keys / rows);
}

// KV heads per attention item: as many as still give the threads equal shares (two items each,
// or the same number each). More heads per item read more of each token row of the cache in
// one run (memory serves a contiguous run faster than strides): a one-row decode over 4 KV
// heads on 2 threads ran its attention 10 % faster as two items of 2 heads than as four of 1.
int32_t KvHeadsPerItem(int64_t rows, int64_t num_kv_heads, int64_t threads) {
  for (int64_t n = num_kv_heads; n > 1; --n) {
    if (num_kv_heads % n != 0) continue;
    const int64_t items = rows * (num_kv_heads / n);
    if (items >= 2 * threads || (items >= threads && items % threads == 0)) {
      return static_cast<int32_t>(n);
    }
  }
  return 1;
}

// The GEMM weights of one layer, packed for kernels/cpu/packed_gemm in the compute dtype: one
// kernel for every step size, so a row's result never depends on the rest of the step (float32
// and bfloat16 alike).
struct CpuLayerLinears {
  PackedLinear qkv, o, gate_up, down;
};

class LlamaCpuRunner final : public HostSamplingRunner {
 public:
  // `gemm_dtype` is float32, or bfloat16 for GEMM weights in bf16 (activations, products and
  // sums stay float32); `kv_dtype` is the KV cache's element type.
  LlamaCpuRunner(ModelConfig config, LlamaWeights weights, kernels::PackedDtype gemm_dtype,
                 kernels::KvDtype kv_dtype)
      : c_(std::move(config)),
        w_(std::move(weights)),
        gemm_dtype_(gemm_dtype),
        kv_dtype_(kv_dtype),
        rope_(BuildRopeTables(c_, c_.max_position_embeddings)) {}

  // Puts every GEMM weight in the form its kernel reads (once, at load).
  absl::Status PrepareGemmWeights();

  const ModelConfig& config() const override { return c_; }
  std::string Describe() const override {
    return absl::StrFormat(
        "cpu %s packed GEMMs (%s%s), float32 activations, %s KV, %d threads, "
        "attention=cpu-paged",
        gemm_dtype_ == kernels::PackedDtype::kBFloat16 ? "bfloat16" : "float32",
        kernels::PackedGemmIsa(), packed_ && packed_->huge_pages() ? ", huge pages" : "",
        kv_dtype_ == kernels::KvDtype::kFloat16 ? "float16" : "float32", at::get_num_threads());
  }
  int64_t weight_bytes() const override { return w_.bytes; }
  int64_t KvBytesPerBlock(int32_t block_size) const override {
    return 2 * c_.num_layers * block_size * c_.kv_size() * KvElementBytes();
  }

  absl::Status AllocateKvCache(int32_t num_blocks, int32_t block_size) override {
    if (block_size <= 0 || block_size > 64)
      return absl::InvalidArgumentError("block_size must be in [1, 64]");
    if (num_blocks < 0) return absl::InvalidArgumentError("num_blocks must not be negative");
    ForgetPreviousStep();
    k_cache_ = at::Tensor();  // the old cache is freed before the new one is allocated
    v_cache_ = at::Tensor();
    num_blocks_ = 0;
    block_size_ = block_size;
    if (num_blocks == 0) return absl::OkStatus();
    absl::Status status = GuardTorch("allocating the KV cache", [&] {
      c10::InferenceMode guard;
      const int64_t slots = static_cast<int64_t>(num_blocks) * block_size;
      const at::ScalarType type = kv_dtype_ == kernels::KvDtype::kFloat16 ? at::kHalf : at::kFloat;
      k_cache_ = at::empty({c_.num_layers, slots, c_.kv_size()}, type);
      v_cache_ = at::empty({c_.num_layers, slots, c_.kv_size()}, type);
      AdviseHotKvHugePages(k_cache_);
      AdviseHotKvHugePages(v_cache_);
      k_cache_.zero_();  // touched now: the memory is held from the start, as the probe sized it
      v_cache_.zero_();
      return absl::OkStatus();
    });
    if (!status.ok()) {
      k_cache_ = at::Tensor();
      v_cache_ = at::Tensor();
      return status;
    }
    num_blocks_ = num_blocks;
    return absl::OkStatus();
  }

 protected:
  PlanLimits Limits() const override {
    return {c_.vocab_size, c_.max_position_embeddings, num_blocks_, block_size_};
  }
  bool HasKvCache() const override { return k_cache_.defined(); }
  absl::Status ComputeLogits(const StepPlan& plan, std::span<const int32_t> row_tokens,
                             std::span<float> logits) override {
    return GuardTorch("CPU forward step", [&] { return Forward(plan, row_tokens, logits); });
  }

 private:
  void Embed(std::span<const int32_t> tokens, float* out);
  absl::Status Forward(const StepPlan& plan, std::span<const int32_t> row_tokens,
                       std::span<float> logits);
  void EnsureWorkspace(int64_t rows);
  void Attention(const StepPlan& plan, int64_t layer, float* qkv, float* out) const;
  void Layer(const StepPlan& plan, int64_t layer);
  int64_t KvElementBytes() const { return kv_dtype_ == kernels::KvDtype::kFloat16 ? 2 : 4; }
  void AdviseHotKvHugePages(const at::Tensor& cache) const;
  // Layer `layer`'s part of a [layers, slots, kv_width] cache.
  void* LayerCache(const at::Tensor& cache, int64_t layer) const {
    return static_cast<char*>(cache.data_ptr()) + layer * cache.stride(0) * KvElementBytes();
  }

  ModelConfig c_;
  LlamaWeights w_;
  kernels::PackedDtype gemm_dtype_;
  kernels::KvDtype kv_dtype_;
  RopeTables rope_;
  std::vector<CpuLayerLinears> linears_;
  PackedLinear lm_head_;  // also the float32 embedding table when the two are tied
  std::optional<PackedWeights> packed_;
  at::Tensor k_cache_, v_cache_;  // [layers, slots, kv_heads * head_dim] of kv_dtype_
  int64_t mean_keys_ = 1;         // of the step being run (MeanVisibleKeys)
  int32_t num_blocks_ = 0;
  int32_t block_size_ = 16;
  // Workspaces sized for `capacity_` rows, reused every step.
  int64_t capacity_ = 0;
  at::Tensor x_, h_, qkv_, attn_, gate_up_, act_;
  int64_t rows_ = 0;  // rows of the step in flight
};

void LlamaCpuRunner::AdviseHotKvHugePages(const at::Tensor& cache) const {
  const int64_t row_bytes = c_.kv_size() * KvElementBytes();
  const int64_t slots = cache.size(1);
  const int64_t hot = std::min({slots, kHotKvSlots, kHotKvBytes / (2 * c_.num_layers * row_bytes)});
  const std::span<std::byte> all(static_cast<std::byte*>(cache.data_ptr()), cache.nbytes());
  for (int64_t layer = 0; layer < c_.num_layers; ++layer) {
    AdviseHugePages(all, layer * slots * row_bytes, hot * row_bytes);
  }
}

// Every GEMM weight goes into one huge-page mapping, released tensor by tensor. A tied float32
// embedding is not kept twice: token rows are read back out of the packed LM head (Embed). A
// bfloat16 LM head would round the embedding, so then the float32 table stays.
absl::Status LlamaCpuRunner::PrepareGemmWeights() {
  c10::InferenceMode guard;
  const bool tied = w_.lm_head.data_ptr() == w_.embed.data_ptr();
  w_.bytes = w_.final_norm.nbytes();
  for (const LlamaLayerWeights& layer : w_.layers) {
    for (const at::Tensor* t : {&layer.attn_norm, &layer.qkv_bias, &layer.mlp_norm}) {
      if (t->defined()) w_.bytes += t->nbytes();
    }
  }
  std::vector<at::Tensor*> tensors;
  for (LlamaLayerWeights& layer : w_.layers) {
    for (at::Tensor* t : {&layer.qkv, &layer.o, &layer.gate_up, &layer.down}) tensors.push_back(t);
  }
  tensors.push_back(&w_.lm_head);
  std::vector<PackedLinear> packed;
  ASSIGN_OR_RETURN(PackedWeights weights, PackedWeights::Pack(tensors, gemm_dtype_, &packed));
  for (size_t l = 0; l < w_.layers.size(); ++l) {
    linears_.push_back({packed[4 * l], packed[4 * l + 1], packed[4 * l + 2], packed[4 * l + 3]});
  }
  lm_head_ = packed.back();
  if (tied && gemm_dtype_ == kernels::PackedDtype::kFloat32) w_.embed = at::Tensor();
  w_.bytes += weights.bytes() + (w_.embed.defined() ? w_.embed.nbytes() : 0);
  packed_ = std::move(weights);
  return absl::OkStatus();
}

void LlamaCpuRunner::Embed(std::span<const int32_t> tokens, float* out) {
  const int64_t rows = static_cast<int64_t>(tokens.size());
  if (w_.embed.defined()) {
    cpu::GatherRows(w_.embed.data_ptr<float>(), tokens.data(), out, rows, c_.hidden_size);
  } else {
    GatherPackedRows(lm_head_, tokens.data(), out, rows);
  }
}

void LlamaCpuRunner::EnsureWorkspace(int64_t rows) {
  if (rows <= capacity_) return;
  capacity_ = std::max<int64_t>(rows, 2 * capacity_);
  const int64_t d = c_.hidden_size;
  x_ = at::empty({capacity_, d}, at::kFloat);
  h_ = at::empty({capacity_, d}, at::kFloat);
  qkv_ = at::empty({capacity_, c_.q_size() + 2 * c_.kv_size()}, at::kFloat);
  attn_ = at::empty({capacity_, c_.q_size()}, at::kFloat);
  gate_up_ = at::empty({capacity_, 2 * c_.intermediate_size}, at::kFloat);
  act_ = at::empty({capacity_, c_.intermediate_size}, at::kFloat);
}

void LlamaCpuRunner::Attention(const StepPlan& plan, int64_t layer, float* qkv, float* out) const {
  const int64_t qkv_width = c_.q_size() + 2 * c_.kv_size();
  kernels::PagedAttentionArgs a;
  a.q = qkv;
  a.q_row_stride = qkv_width;
  a.k_cache = LayerCache(k_cache_, layer);
  a.v_cache = LayerCache(v_cache_, layer);
  a.kv_dtype = kv_dtype_;
  a.out = out;
  a.cu_seqlens = plan.cu_seqlens.data();
  a.positions = plan.positions.data();
  a.block_tables = plan.block_tables.data();
  a.num_seqs = plan.num_seqs;
  a.max_blocks_per_seq = plan.max_blocks_per_seq;
  a.num_heads = static_cast<int32_t>(c_.num_heads);
  a.num_kv_heads = static_cast<int32_t>(c_.num_kv_heads);
  a.head_dim = static_cast<int32_t>(c_.head_dim);
  a.block_size = block_size_;
  a.sliding_window = static_cast<int32_t>(c_.sliding_window);
  a.scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
  a.kv_heads_per_item =
      KvHeadsPerItem(plan.cu_seqlens[plan.num_seqs], c_.num_kv_heads, at::get_num_threads());
  // An item's work: the keys its row sees (the mean over the step), times two passes (scores,
  // values) over head_dim for each query head of its KV heads.
  const int64_t items = kernels::PagedAttentionWorkItems(a);
  const int64_t work_per_item =
      mean_keys_ * 2 * c_.head_dim * (c_.num_heads / c_.num_kv_heads) * a.kv_heads_per_item;
  cpu::ParallelItems(items, work_per_item,
                     [&](int64_t item) { kernels::PagedAttentionCpu(a, item, item + 1); });
}

void LlamaCpuRunner::Layer(const StepPlan& plan, int64_t layer) {
  const LlamaLayerWeights& w = w_.layers[layer];
  const CpuLayerLinears& lin = linears_[layer];
  const int64_t t = rows_, d = c_.hidden_size, q = c_.q_size(), kv = c_.kv_size();
  const int64_t qkv_width = q + 2 * kv, f = c_.intermediate_size;
  float* x = x_.data_ptr<float>();
  float* h = h_.data_ptr<float>();
  float* qkv = qkv_.data_ptr<float>();
  const float eps = static_cast<float>(c_.rms_norm_eps);

  cpu::RmsNorm(x, w.attn_norm.data_ptr<float>(), h, t, d, d, d, eps);
  PackedGemm(lin.qkv, h, qkv, t, /*accumulate=*/false);
  if (w.qkv_bias.defined())
    cpu::AddBias(qkv, w.qkv_bias.data_ptr<float>(), t, qkv_width, qkv_width);
  cpu::ApplyRope(qkv, t, qkv_width, c_.num_heads, c_.head_dim, plan.positions.data(),
                 rope_.cos.data(), rope_.sin.data());
  cpu::ApplyRope(qkv + q, t, qkv_width, c_.num_kv_heads, c_.head_dim, plan.positions.data(),
                 rope_.cos.data(), rope_.sin.data());
  cpu::WriteKv(qkv + q, qkv + q + kv, qkv_width, plan.slot_mapping.data(), t, kv, kv_dtype_,
               LayerCache(k_cache_, layer), LayerCache(v_cache_, layer));
  float* attn = attn_.data_ptr<float>();
  Attention(plan, layer, qkv, attn);
  PackedGemm(lin.o, attn, x, t, /*accumulate=*/true);

  cpu::RmsNorm(x, w.mlp_norm.data_ptr<float>(), h, t, d, d, d, eps);
  float* gate_up = gate_up_.data_ptr<float>();
  float* act = act_.data_ptr<float>();
  if (!PackedGemmSiluMul(lin.gate_up, h, gate_up, act, t, f)) {
    PackedGemm(lin.gate_up, h, gate_up, t, /*accumulate=*/false);
    cpu::SiluMul(gate_up, act, t, f);
  }
  PackedGemm(lin.down, act, x, t, /*accumulate=*/true);
}

absl::Status LlamaCpuRunner::Forward(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                     std::span<float> logits) {
  c10::InferenceMode guard;
  // The trailing alignment rows exist for GPU tiles; they produce nothing, and on the CPU a GEMM
  // costs in proportion to its rows (a one-row decode padded to 16 rows cost 4x), so they are
  // not run here.
  rows_ = plan.cu_seqlens.back();
  EnsureWorkspace(rows_);
  const int64_t d = c_.hidden_size;
  mean_keys_ = MeanVisibleKeys(plan, c_.sliding_window);  // the same for every layer
  Embed(row_tokens.first(rows_), x_.data_ptr<float>());
  for (int64_t layer = 0; layer < c_.num_layers; ++layer) Layer(plan, layer);

  const int64_t s = static_cast<int64_t>(plan.sample_rows.size());
  if (s == 0) return absl::OkStatus();
  float* h = h_.data_ptr<float>();
  cpu::GatherRows(x_.data_ptr<float>(), plan.sample_rows.data(), h, s, d);
  cpu::RmsNorm(h, w_.final_norm.data_ptr<float>(), h, s, d, d, d,
               static_cast<float>(c_.rms_norm_eps));
  PackedGemm(lm_head_, h, logits.data(), s, /*accumulate=*/false);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadCpuModel(const ModelLoadOptions& options) {
  // "auto" is float32 on the CPU: bfloat16 weights halve what a decode streams but the products
  // still run in float32, so a prefill gains nothing.
  const std::optional<ComputeDtype> dtype = ParseComputeDtype(options.dtype);
  if (!dtype || *dtype == ComputeDtype::kFloat16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype \"", options.dtype, "\" is not supported on the CPU (float32 or bfloat16)"));
  }
  const kernels::PackedDtype gemm_dtype = *dtype == ComputeDtype::kBFloat16
                                              ? kernels::PackedDtype::kBFloat16
                                              : kernels::PackedDtype::kFloat32;
  // "auto" is float32: a float16 cache halves what attention reads but rounds every key and
  // value once, so it is asked for (llama.cpp's default is float16).
  kernels::KvDtype kv_dtype = kernels::KvDtype::kFloat32;
  if (options.kv_cache_dtype == "float16") {
    kv_dtype = kernels::KvDtype::kFloat16;
  } else if (options.kv_cache_dtype != "auto" && options.kv_cache_dtype != "float32") {
    return absl::InvalidArgumentError(
        absl::StrCat("model.kv_cache_dtype: \"", options.kv_cache_dtype,
                     "\" is not supported on the CPU (auto, float32 or float16)"));
  }
  if (options.num_threads > 0) at::set_num_threads(options.num_threads);
  // Large buffers always come from mmap and go back to the system when freed; glibc's adaptive
  // threshold would otherwise keep loading's temporaries resident (and tensors are large).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::Open(options.path));
  c10::InferenceMode guard;
  ASSIGN_OR_RETURN(LlamaWeights weights, LoadLlamaWeights(*checkpoint, {at::kFloat, at::kCPU}));
  auto runner = std::make_unique<LlamaCpuRunner>(checkpoint->config(), std::move(weights),
                                                 gemm_dtype, kv_dtype);
  RETURN_IF_ERROR(
      GuardTorch("preparing the CPU weights", [&] { return runner->PrepareGemmWeights(); }));
  return std::unique_ptr<ModelRunner>(std::move(runner));
}

}  // namespace ribbon
