"""Writes the hand-made seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

    python3 tests/fuzz/make_seeds.py      (needs protoc; run from anywhere)

Each seed is small and valid (or nearly so), covering one shape of input the parser accepts, so
that mutation starts from inputs that reach deep into it. Files named seed_* are rewritten; other
files in the corpus folders (inputs that fuzzing found, regression inputs) are left alone.
"""
import json
import pathlib
import struct
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fuzz/corpus"
SEP = b"\n--8<--\n"  # kPartSeparator in tests/fuzz/fuzz_util.h


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed_{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: {name: (dtype, shape, bytes)} -> a .safetensors file."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    write("safetensors", "f32", safetensors({"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))}))
    write("safetensors", "mixed", safetensors(
        {"a": ("F16", [3], b"\x00\x3c" * 3), "b": ("BF16", [1, 2], b"\x80\x3f" * 2),
         "c": ("F32", [0], b"")}, metadata={"format": "pt"}))
    write("safetensors", "empty_header", struct.pack("<Q", 2) + b"{}")
    write("safetensors", "scalar", safetensors({"s": ("F32", [], struct.pack("<f", 7.0))}))


CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8,
          "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
          "num_key_value_heads": 1, "vocab_size": 4, "max_position_embeddings": 32,
          "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True}


def tiny_llama_tensors():
    f32 = lambda *shape: ("F32", list(shape), b"\x00" * 4 * eval("*".join(map(str, shape))))
    return {"model.embed_tokens.weight": f32(4, 8), "model.norm.weight": f32(8),
            "model.layers.0.self_attn.q_proj.weight": f32(8, 8),
            "model.layers.0.self_attn.k_proj.weight": f32(4, 8),
            "model.layers.0.mlp.gate_proj.weight": f32(16, 8),
            "model.layers.0.input_layernorm.weight": f32(8)}


def checkpoint_seeds():
    config = json.dumps(CONFIG).encode()
    generation = json.dumps({"bos_token_id": 1, "eos_token_id": [2, 3]}).encode()
    tensors = tiny_llama_tensors()
    write("checkpoint", "single", SEP.join([config, generation, b"", safetensors(tensors)]))
    names = list(tensors)
    first, second = names[:3], names[3:]
    index = json.dumps({"metadata": {"total_size": 1},
                        "weight_map": {**{n: "shard-1.safetensors" for n in first},
                                       **{n: "shard-2.safetensors" for n in second}}}).encode()
    shard1 = safetensors({n: tensors[n] for n in first})
    shard2 = safetensors({n: tensors[n] for n in second})
    write("checkpoint", "sharded", SEP.join([config, b"", index, shard1, shard2]))
    qwen = dict(CONFIG, architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                              "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                sliding_window=16, use_sliding_window=True, head_dim=4)
    write("checkpoint", "qwen_rope", SEP.join([json.dumps(qwen).encode(), b"", b"",
                                                 safetensors(tensors)]))
    mistral = {k: v for k, v in CONFIG.items() if k != "architectures"}
    mistral.update(model_type="mistral", rope_parameters={"rope_theta": 5e5, "rope_type": "linear",
                                                          "factor": 2.0}, attention_bias=False)
    write("checkpoint", "mistral_v5", SEP.join([json.dumps(mistral).encode(), generation, b"",
                                                safetensors(tensors)]))


def encode_proto(text):
    return subprocess.run(
        ["protoc", f"--proto_path={ROOT / 'proto'}", "--encode=ribbon.v1.GenerateRequest",
         "ribbon/v1/generation.proto"], input=text.encode(), capture_output=True, check=True).stdout


def generate_request_seeds():
    seeds = {
        "text": 'text: "Once upon a time" max_new_tokens: 8',
        "ids": "token_ids { ids: [1, 403, 9] } min_new_tokens: 2 max_new_tokens: 4 ignore_eos: true",
        "sampling": 'text: "Lily" temperature: 0.8 top_k: 40 top_p: 0.9 min_p: 0.05 '
                    "repetition_penalty: 1.1 presence_penalty: 0.5 frequency_penalty: -0.5 "
                    'seed: 7 n: 3 logprobs: true top_logprobs: 5 priority: -2 '
                    'client_request_id: "abc" cache_salt: "tenant"',
        "stops": 'text: "The cat" stop: "." stop: "\\n" stop_token_ids: [2, 13] '
                 "logit_bias { key: 5 value: -100 } logit_bias { key: 9 value: 2.5 }",
        "chat": 'chat { messages { role: "system" content: "Be brief." } '
                'messages { role: "user" content: "Hi" } add_generation_prompt: true } '
                "max_new_tokens: 16",
        "chat_tools": 'chat { messages { role: "user" content: "Weather?" } '
                      'messages { role: "assistant" content: "" extra_json: '
                      '"{\\"tool_calls\\": [{\\"type\\": \\"function\\", \\"function\\": '
                      '{\\"name\\": \\"get\\", \\"arguments\\": {\\"city\\": \\"Z\\"}}}]}" } '
                      'messages { role: "tool" content: "21" } '
                      'tools_json: "[{\\"type\\": \\"function\\", \\"function\\": {\\"name\\": '
                      '\\"get\\", \\"parameters\\": {\\"type\\": \\"object\\"}}}]" '
                      'template_kwargs_json: "{\\"enable_thinking\\": false}" }',
    }
    for name, text in seeds.items():
        write("generate_request", name, encode_proto(text))


def openai_request_seeds():
    seeds = {
        "chat": {"model": "stories260k", "messages": [{"role": "user", "content": "Hi"}],
                 "max_tokens": 8},
        "chat_full": {"messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                      "temperature": 0.7, "top_p": 0.9, "n": 2, "seed": 3, "stop": ["\n", "."],
                      "presence_penalty": 0.1, "frequency_penalty": 0.2, "logprobs": True,
                      "top_logprobs": 2, "logit_bias": {"5": -100}, "stream": True,
                      "stream_options": {"include_usage": True}, "user": "u", "top_k": 5,
                      "min_p": 0.1, "repetition_penalty": 1.2, "min_tokens": 1,
                      "ignore_eos": False, "stop_token_ids": [2], "priority": 1,
                      "max_completion_tokens": 12, "cache_salt": "s",
                      "chat_template_kwargs": {"enable_thinking": False},
                      "add_generation_prompt": True},
        "chat_tools": {"messages": [{"role": "user", "content": "Weather?"},
                                    {"role": "assistant", "content": None, "tool_calls": [
                                        {"id": "c1", "type": "function", "function": {
                                            "name": "get", "arguments": "{\"city\": \"Z\"}"}}]},
                                    {"role": "tool", "tool_call_id": "c1", "content": "21"}],
                       "tools": [{"type": "function", "function": {
                           "name": "get", "parameters": {"type": "object"}}}],
                       "tool_choice": "auto"},
        "completion": {"model": "stories260k", "prompt": "Once upon a time", "max_tokens": 8,
                       "logprobs": 2, "stop": "."},
        "completion_list": {"prompt": ["Lily", "Tom"], "n": 2, "best_of": 2},
        "completion_ids": {"prompt": [[1, 403, 9], [1, 2]], "echo": False, "suffix": None},
        "unknown_model": {"model": "other", "prompt": "x"},
    }
    for name, body in seeds.items():
        write("openai_request", name, json.dumps(body))


def server_config_seeds():
    config = {"model": {"path": "models/x", "dtype": "auto", "chat_template": ""},
              "server": {"listen": "127.0.0.1:9300", "auth_token": "t", "output_threads": 2,
                         "shutdown_grace_seconds": 5.5, "max_connection_age_seconds": 0},
              "engine": {"num_kv_blocks": 64, "scheduler_policy": "fcfs", "pipeline": True,
                         "max_ribbon_tokens": 512},
              "limits": {"max_stop_strings": 4}, "http": {"listen": ""},
              "openai": {"listen": "[::1]:8000", "served_model_name": "m"},
              "log": {"level": "debug", "format": "json"}, "// comment": "ignored"}
    write("server_config", "file", json.dumps(config, indent=1))
    write("server_config", "flags", b"{}" + SEP + b"--model\nmodels/y\n--engine.block-size=32\n"
          b"--listen=0.0.0.0:1\n--memory.probe=false\n--check-config" + SEP + b"")
    write("server_config", "env", b'{"model": {"path": "m"}}' + SEP + b"--config\nignored.json"
          + SEP + b"RIBBON_ENGINE_PIPELINE=yes\nRIBBON_MEMORY_FRACTION=0.5\n"
          b"RIBBON_OPENAI_LISTEN=127.0.0.1:0\nRIBBON_LOG_ACCESS_LOG=off")
    write("server_config", "probe", b"" + SEP + b"probe\n--model=m\n--engine.max-ribbon-tokens=auto")


def batch_line_seeds():
    lines = [
        {"id": "a1", "prompt": "Once upon a time", "max_new_tokens": 32, "temperature": 0.8,
         "seed": 7},
        {"id": 2, "prompt_ids": [1, 403, 9], "ignore_eos": True, "min_new_tokens": 2},
        {"prompt": "Lily", "top_k": 5, "top_p": 0.5, "min_p": 0.1, "repetition_penalty": 1.3,
         "presence_penalty": 1, "frequency_penalty": -1, "priority": 3, "stop_token_ids": [2]},
        {"id": {"nested": [1, 2]}, "prompt_ids": [5], "max_new_tokens": 1},
    ]
    write("batch_line", "lines", "\n".join(json.dumps(line) for line in lines) + "\n\n  \n")
    write("batch_line", "errors", '{"prompt": "x", "temprature": 1}\n{"prompt_ids": []}\n'
          '{"prompt": 5}\nnot json\n[1]\n')


def tokenizer_json_seeds():
    stories = ROOT.parent / "shared/data/stories260k/tokenizer.json"
    if stories.exists():
        write("tokenizer_json", "stories260k", stories.read_bytes())
    vocab = {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "\u0120": 5, "\u0120a": 6, "<unk>": 7}
    bytelevel = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 8, "content": "<|endoftext|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False,
                          "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
                           "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>",
                                                                "ids": [8],
                                                                "tokens": ["<|endoftext|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": ["a b", "ab c", "\u0120 a"]}}
    write("tokenizer_json", "bytelevel", json.dumps(bytelevel))
    spm = dict(bytelevel)
    spm["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace",
                                                   "pattern": {"String": " "},
                                                   "content": "\u2581"}]}
    spm["pre_tokenizer"] = None
    spm["post_processor"] = None
    spm["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ",
                                                     "start": 1, "stop": 0}]}
    spm["model"] = dict(bytelevel["model"], byte_fallback=True, fuse_unk=True, unk_token="<unk>",
                        vocab={**vocab, "<0x41>": 9, "\u2581": 10},
                        merges=[["a", "b"], ["ab", "c"]])
    write("tokenizer_json", "spm_style", json.dumps(spm))


def main():
    safetensors_seeds()
    checkpoint_seeds()
    generate_request_seeds()
    openai_request_seeds()
    server_config_seeds()
    batch_line_seeds()
    tokenizer_json_seeds()


if __name__ == "__main__":
    main()
