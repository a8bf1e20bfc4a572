"""Loading is memory-mapped and releases the mapped pages as each tensor is copied: the resident
memory that loading adds stays under 1.3x the bytes of the loaded weights, for float32 and
bfloat16 checkpoint files (the CPU computes in float32, so a bfloat16 file is widened)."""
import json
import os
import subprocess
import sys
import tempfile

import pytest
import torch

SOURCE = os.environ.get("RIBBON_SOURCE", os.path.join(os.path.dirname(__file__), "../../.."))
BUILD = os.environ.get("RIBBON_BUILD", os.path.join(SOURCE, "build"))
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
import make_models  # noqa: E402

TOOL = os.path.join(BUILD, "tests/core/model/load_memory_tool")


@pytest.fixture(scope="module")
def model_dirs():
    torch.set_num_threads(2)
    # ~70M parameters: large enough that the loader's own overheads do not hide a second copy.
    model = make_models.llama(seed=3, hidden_size=768, intermediate_size=2048, num_hidden_layers=8,
                              num_attention_heads=12, num_key_value_heads=4, vocab_size=8192,
                              max_position_embeddings=512, tie_word_embeddings=False)
    with tempfile.TemporaryDirectory() as d:
        dirs = {}
        for dtype in (torch.float32, torch.bfloat16):
            path = os.path.join(d, str(dtype).split(".")[-1])
            make_models.save(model.to(dtype), path)
            dirs[dtype] = path
        del model
        yield dirs


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_peak_rss_while_loading_is_under_1_3x_weights(model_dirs, dtype):
    out = subprocess.run([TOOL, model_dirs[dtype]], check=True, capture_output=True, text=True).stdout
    m = json.loads(out)
    added = m["peak_during"] - m["rss_before"]
    ratio = added / m["weight_bytes"]
    print(f"{dtype}: weights {m['weight_bytes'] / 2**20:.0f} MiB, peak added {added / 2**20:.0f} MiB, "
          f"ratio {ratio:.2f}")
    assert m["weight_bytes"] > 200 * 2**20
    assert ratio < 1.3, f"loading peaked at {ratio:.2f}x the weight bytes"
