#!/usr/bin/env python3
"""Generates the random Llama-family checkpoints ribbon uses for demos, tests and benchmarks,
deterministically (fixed seeds), in Hugging Face format. No downloads.

  make_models.py demo --out DIR          the built-in demo model served by `make serve`
  make_models.py llama-100m --out DIR    hidden 768, 16 layers, 12 heads / 4 KV heads, vocab 512
  make_models.py parity KIND --out DIR   small test checkpoints for the transformers parity tests
  make_models.py shape KIND --out DIR    start-up shapes (with a tokenizer of the model's vocabulary):
                                         llama-100m, qwen2-bias, mistral-window, llama-hd128

Weights are scaled so that logits are far from flat (standard deviation >= 1), which makes
argmax comparisons and logit tolerances meaningful.
"""
import argparse
import json
import os
import sys

import torch


def byte_level_tokenizer(out_dir, vocab_size=1024):
    """A ByteLevel BPE tokenizer trained on a fixed built-in corpus (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    words = ("the a little girl boy cat dog sun tree house ran saw played found happy big red "
             "blue small friend mom dad park ball sky day night once upon time there was named "
             "she he they it and but so then with in on to of for is said loved wanted").split()
    corpus = []
    for i in range(4000):
        n = 5 + (i * 7) % 11
        corpus.append(" ".join(words[(i * 13 + j * 31) % len(words)] for j in range(n)) + ".")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|bos|>", "<|eos|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B", special_tokens=[("<|bos|>", 0)])
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|bos|>", "eos_token": "<|eos|>", "add_bos_token": True,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
    return tok.get_vocab_size()


def exact_vocab_tokenizer(out_dir, vocab_size):
    """byte_level_tokenizer, topped up with special tokens to exactly `vocab_size` ids, so that
    every id a model of that vocabulary samples decodes."""
    from tokenizers import AddedToken, Tokenizer
    byte_level_tokenizer(out_dir, vocab_size)
    path = os.path.join(out_dir, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    extra = vocab_size - tok.get_vocab_size()
    tok.add_special_tokens([AddedToken(f"<|extra_{i}|>", special=True) for i in range(extra)])
    assert tok.get_vocab_size() == vocab_size, (tok.get_vocab_size(), vocab_size)
    tok.save(path)


def scale_for_sharp_logits(model, target_std=3.0):
    """Rescales the output head so logits have roughly `target_std` standard deviation."""
    with torch.no_grad():
        ids = torch.arange(0, min(64, model.config.vocab_size)).unsqueeze(0)
        logits = model(ids).logits
        std = logits.std().item()
        head = model.get_output_embeddings().weight
        if model.config.tie_word_embeddings:
            model.model.norm.weight.mul_(target_std / std)
        else:
            head.mul_(target_std / std)
        return model(ids).logits.std().item()


def build(config_cls, model_cls, seed, **kwargs):
    torch.manual_seed(seed)
    config = config_cls(**kwargs)
    config._attn_implementation = "eager"
    model = model_cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.5 * torch.randn_like(p))
    return model


def save(model, out_dir, bos=0, eos=1):
    os.makedirs(out_dir, exist_ok=True)
    model.config.bos_token_id = bos
    model.config.eos_token_id = eos
    model.generation_config.bos_token_id = bos
    model.generation_config.eos_token_id = eos
    model.save_pretrained(out_dir, safe_serialization=True)


def llama(seed=0, **kw):
    from transformers import LlamaConfig, LlamaForCausalLM
    return build(LlamaConfig, LlamaForCausalLM, seed, **kw)


PARITY = {
    # name: (family, kwargs)
    "llama-gqa": ("llama", dict(hidden_size=128, intermediate_size=344, num_hidden_layers=3,
                                num_attention_heads=8, num_key_value_heads=2, vocab_size=512,
                                max_position_embeddings=1024, tie_word_embeddings=False)),
    "llama3-rope": ("llama", dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=4, vocab_size=400,
                                  max_position_embeddings=2048, rope_theta=500000.0,
                                  rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                "original_max_position_embeddings": 64},
                                  tie_word_embeddings=True)),
    "mistral-window": ("mistral", dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                       num_attention_heads=8, num_key_value_heads=4, vocab_size=300,
                                       max_position_embeddings=1024, sliding_window=48,
                                       tie_word_embeddings=False)),
    "qwen2-bias": ("qwen2", dict(hidden_size=128, intermediate_size=300, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, vocab_size=600,
                                 max_position_embeddings=1024, tie_word_embeddings=True)),
}


# Shapes ribbond must start on with its default configuration (memory probe on).
SHAPES = {
    "llama-100m": ("llama", dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=16,
                                 num_attention_heads=12, num_key_value_heads=4, vocab_size=512,
                                 max_position_embeddings=2048, tie_word_embeddings=False)),
    "qwen2-bias": PARITY["qwen2-bias"],
    "mistral-window": PARITY["mistral-window"],
    "llama-hd128": ("llama", dict(hidden_size=512, intermediate_size=1024, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2, head_dim=128,
                                  vocab_size=320, max_position_embeddings=4096,
                                  tie_word_embeddings=True)),
    # Llama-3.2-1B's shape (random weights): the GPU serving stage's capacity probe (gpu-check.sh).
    "llama-1b": ("llama", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                               num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                               max_position_embeddings=131072, rope_theta=500000.0,
                               tie_word_embeddings=True)),
}


def parity_model(kind, seed=1, table=None):
    import transformers as tf
    family, kw = (table or PARITY)[kind]
    classes = {"llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
               "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
               "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM)}
    return build(*classes[family], seed, **kw)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["demo", "llama-100m", "parity", "shape"])
    p.add_argument("kind", nargs="?",
                   help="parity kind: " + ", ".join(PARITY) + "; shape kind: " + ", ".join(SHAPES))
    p.add_argument("--out", required=True)
    p.add_argument("--tokenizer-from", help="copy tokenizer files from this directory (llama-100m)")
    args = p.parse_args()
    # 2 by default (the shared CPU machine); the GPU serving stage gives it the machine's cores.
    torch.set_num_threads(int(os.environ.get("RIBBON_MAKE_MODELS_THREADS", "2")))
    os.makedirs(args.out, exist_ok=True)
    if args.what == "demo":
        vocab = byte_level_tokenizer(args.out)
        model = llama(seed=20261127, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                      num_attention_heads=8, num_key_value_heads=4, vocab_size=vocab,
                      max_position_embeddings=2048, tie_word_embeddings=False)
        std = scale_for_sharp_logits(model)
        save(model, args.out, bos=0, eos=1)
    elif args.what == "llama-100m":
        model = llama(seed=100, hidden_size=768, intermediate_size=2048, num_hidden_layers=16,
                      num_attention_heads=12, num_key_value_heads=4, vocab_size=512,
                      max_position_embeddings=2048, tie_word_embeddings=False)
        std = scale_for_sharp_logits(model)
        save(model, args.out, bos=1, eos=2)
        if args.tokenizer_from:
            for f in ("tokenizer.json", "tokenizer_config.json"):
                src = os.path.join(args.tokenizer_from, f)
                if os.path.exists(src):
                    with open(src, "rb") as a, open(os.path.join(args.out, f), "wb") as b:
                        b.write(a.read())
    elif args.what == "shape":
        if args.kind not in SHAPES:
            sys.exit(f"unknown shape {args.kind!r}; choose from {', '.join(SHAPES)}")
        model = parity_model(args.kind, table=SHAPES)
        std = scale_for_sharp_logits(model)
        save(model, args.out)
        exact_vocab_tokenizer(args.out, model.config.vocab_size)
    else:
        if args.kind not in PARITY:
            sys.exit(f"unknown parity kind {args.kind!r}; choose from {', '.join(PARITY)}")
        model = parity_model(args.kind)
        std = scale_for_sharp_logits(model)
        save(model, args.out)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.what} {args.kind or ''}: {params / 1e6:.1f}M parameters, logit std {std:.2f} -> {args.out}")


if __name__ == "__main__":
    main()
