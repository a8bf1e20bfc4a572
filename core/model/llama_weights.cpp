#include "core/model/llama_weights.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace ribbon {
namespace {

at::ScalarType ToScalarType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
  }
  return at::kFloat;
}

// Views the mapped bytes as a tensor without copying (never written).
at::Tensor Borrow(const TensorView& view) {
  return at::from_blob(const_cast<std::byte*>(view.data), view.shape,
                       at::TensorOptions().dtype(ToScalarType(view.dtype)));
}

class Loader {
 public:
  Loader(const Checkpoint& ckpt, const WeightLoadOptions& options)
      : ckpt_(ckpt), options_(options) {}

  // One tensor, copied into the compute dtype and device.
  absl::StatusOr<at::Tensor> One(const std::string& name, std::vector<int64_t> shape) {
    ASSIGN_OR_RETURN(const TensorView* view, ckpt_.Get(name, shape));
    at::Tensor t =
        Borrow(*view).to(options_.device, options_.dtype, false, /*copy=*/true).contiguous();
    ckpt_.Release(*view);
    bytes_ += t.nbytes();
    return t;
  }

  // Several tensors concatenated along dim 0 (e.g. Q, K, V into one QKV matrix), converted
  // straight into their slice of the destination: no temporary copy per piece.
  absl::StatusOr<at::Tensor> Fused(
      const std::vector<std::pair<std::string, std::vector<int64_t>>>& parts) {
    std::vector<const TensorView*> views;
    int64_t rows = 0;
    for (const auto& [name, shape] : parts) {
      ASSIGN_OR_RETURN(const TensorView* view, ckpt_.Get(name, shape));
      views.push_back(view);
      rows += shape[0];
    }
    std::vector<int64_t> shape = views[0]->shape;
    shape[0] = rows;
    at::Tensor t =
        at::empty(shape, at::TensorOptions().dtype(options_.dtype).device(options_.device));
    int64_t row = 0;
    for (const TensorView* view : views) {
      t.narrow(0, row, view->shape[0]).copy_(Borrow(*view));
      row += view->shape[0];
      ckpt_.Release(*view);
    }
    bytes_ += t.nbytes();
    return t;
  }

  int64_t bytes() const { return bytes_; }

 private:
  const Checkpoint& ckpt_;
  WeightLoadOptions options_;
  int64_t bytes_ = 0;
};

absl::StatusOr<LlamaLayerWeights> LoadLayer(Loader& load, const ModelConfig& c, int64_t i) {
  const std::string p = absl::StrCat("model.layers.", i, ".");
  const int64_t d = c.hidden_size, q = c.q_size(), kv = c.kv_size(), f = c.intermediate_size;
  LlamaLayerWeights w;
  ASSIGN_OR_RETURN(w.attn_norm, load.One(p + "input_layernorm.weight", {d}));
  ASSIGN_OR_RETURN(w.qkv, load.Fused({{p + "self_attn.q_proj.weight", {q, d}},
                                      {p + "self_attn.k_proj.weight", {kv, d}},
                                      {p + "self_attn.v_proj.weight", {kv, d}}}));
  if (c.qkv_bias) {
    ASSIGN_OR_RETURN(w.qkv_bias, load.Fused({{p + "self_attn.q_proj.bias", {q}},
                                             {p + "self_attn.k_proj.bias", {kv}},
                                             {p + "self_attn.v_proj.bias", {kv}}}));
  }
  ASSIGN_OR_RETURN(w.o, load.One(p + "self_attn.o_proj.weight", {d, q}));
  ASSIGN_OR_RETURN(w.mlp_norm, load.One(p + "post_attention_layernorm.weight", {d}));
  ASSIGN_OR_RETURN(w.gate_up, load.Fused({{p + "mlp.gate_proj.weight", {f, d}},
                                          {p + "mlp.up_proj.weight", {f, d}}}));
  ASSIGN_OR_RETURN(w.down, load.One(p + "mlp.down_proj.weight", {d, f}));
  return w;
}

}  // namespace

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const Checkpoint& checkpoint,
                                              const WeightLoadOptions& options) {
  const ModelConfig& c = checkpoint.config();
  Loader load(checkpoint, options);
  LlamaWeights w;
  ASSIGN_OR_RETURN(w.embed, load.One("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    ASSIGN_OR_RETURN(LlamaLayerWeights layer, LoadLayer(load, c, i));
    w.layers.push_back(std::move(layer));
  }
  ASSIGN_OR_RETURN(w.final_norm, load.One("model.norm.weight", {c.hidden_size}));
  if (checkpoint.Has("lm_head.weight") && !c.tie_word_embeddings) {
    ASSIGN_OR_RETURN(w.lm_head, load.One("lm_head.weight", {c.vocab_size, c.hidden_size}));
  } else if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    return absl::NotFoundError(
        absl::StrCat(checkpoint.dir(),
                     ": tensor \"lm_head.weight\" is missing and tie_word_embeddings is false"));
  }
  w.bytes = load.bytes();
  return w;
}

}  // namespace ribbon
