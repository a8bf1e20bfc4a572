#!/usr/bin/env python3
"""Writes the F32 GGUF file llama.cpp runs for the side-by-side benchmarks, from the same
weights ribbon runs, so that both sides compute the same model.

  to_gguf.py --hf DIR --out FILE.gguf     a Hugging Face Llama checkpoint (model.safetensors,
                                          config.json, tokenizer.json with an SPM-style vocab:
                                          stories260K, the llama-100m shape)
  to_gguf.py --gguf FILE --out FILE.gguf  another GGUF file with every tensor dequantized to F32
                                          and its metadata kept (SmolLM2's Q4_1 file: ribbon's
                                          checkpoint is dequantized from the same file)

Layout as llama.cpp's own converter (convert_hf_to_gguf.py, LlamaModel): q_proj and k_proj rows
permuted to the pairing its rope kernel expects (scripts/convert_gguf.py undoes exactly this);
a tied output head is left out (llama.cpp then reuses token_embd). Idempotent: an output newer
than its inputs and this script is kept.
"""
import argparse
import json
import os
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file

LAYER = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
GLOBAL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def permute(w, n_head):
    """HF rotary halves -> llama.cpp's interleaved pairs (convert_hf_to_gguf.LlamaModel.permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def up_to_date(out, inputs):
    return os.path.exists(out) and all(os.path.getmtime(out) >= os.path.getmtime(i) for i in inputs)


def spm_vocab(hf_dir, vocab_size):
    """Tokens, scores and types for llama.cpp's "llama" (SentencePiece) tokenizer."""
    with open(os.path.join(hf_dir, "tokenizer.json")) as f:
        tok = json.load(f)
    by_id = {i: p for p, i in tok["model"]["vocab"].items()}
    special = {t["id"] for t in tok.get("added_tokens", []) if t.get("special")}
    tokens, scores, types = [], [], []
    for i in range(vocab_size):
        piece = by_id.get(i, f"<unused{i}>")
        tokens.append(piece)
        scores.append(-float(i))  # merge rank order: earlier pieces merge first
        if piece == "<unk>":
            types.append(gguf.TokenType.UNKNOWN)
        elif i in special:
            types.append(gguf.TokenType.CONTROL)
        elif piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
    return tokens, scores, types


def from_hf(hf_dir, out):
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "llama":
        sys.exit(f"to_gguf.py: {hf_dir}: model_type {cfg.get('model_type')!r}, expected 'llama'")
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    w = gguf.GGUFWriter(out, "llama")
    w.add_name(os.path.basename(os.path.normpath(hf_dir)))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-5))
    w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens, scores, types = spm_vocab(hf_dir, cfg["vocab_size"])
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(cfg.get("bos_token_id", 1))
    w.add_eos_token_id(cfg.get("eos_token_id", 2))
    w.add_unk_token_id(0)
    w.add_add_bos_token(False)  # prompts are token ids; nothing is added on either side
    weights = load_file(os.path.join(hf_dir, "model.safetensors"))
    for name, t in sorted(weights.items()):
        t = t.astype(np.float32)
        if name == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            continue
        if name in GLOBAL:
            w.add_tensor(GLOBAL[name], t)
            continue
        parts = name.split(".")  # model.layers.N.<rest>
        layer, rest = parts[2], ".".join(parts[3:])
        if rest == "self_attn.q_proj.weight":
            t = permute(t, n_head)
        elif rest == "self_attn.k_proj.weight":
            t = permute(t, n_kv)
        w.add_tensor(f"blk.{layer}.{LAYER[rest]}", np.ascontiguousarray(t))
    write(w)


def from_gguf(src, out):
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"]
    w = gguf.GGUFWriter(out, bytes(arch.parts[arch.data[0]]).decode())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type"):
            continue
        value = field.contents()
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(field.name, value, vtype, sub_type=sub)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, data.reshape([int(d) for d in reversed(t.shape)]))
    write(w)


def write(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--hf", help="Hugging Face Llama checkpoint directory")
    src.add_argument("--gguf", help="GGUF file to rewrite with F32 tensors")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    inputs = [os.path.abspath(__file__)]
    inputs += [os.path.join(a.hf, "model.safetensors")] if a.hf else [a.gguf]
    if up_to_date(a.out, inputs):
        print(f"to_gguf.py: {a.out} is up to date")
        return
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    from_hf(a.hf, tmp) if a.hf else from_gguf(a.gguf, tmp)
    os.replace(tmp, a.out)
    print(f"to_gguf.py: wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
