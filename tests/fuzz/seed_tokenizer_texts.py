"""Writes the texts of the shared tokenizer encode vectors, one file each, as fuzz seeds.

    python3 tests/fuzz/seed_tokenizer_texts.py SHARED_DATA_DIR CORPUS_DIR
"""
import json
import pathlib
import sys

shared, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
texts = []
for path in [shared / "tokenizers/gpt2/cases.json", shared / "stories260k/tokenizer_cases.json"]:
    texts += [case["text"] for case in json.loads(path.read_text())["cases"]]
llama = json.loads((shared / "tokenizers/llama-spm/cases.json").read_text())
for group in ("llama_cpp_vectors", "llama2c_test_c"):
    texts += [case["text"] for case in llama[group]["cases"]]
for i, text in enumerate(texts):
    (out / f"seed_{i:04d}").write_bytes(text.encode())
