"""Shared by the SmolLM2 tests: where the converted default model lives, the GGUF it comes from,
and a cache for transformers references (keyed by a hash of everything they depend on).

The converted model is the one setup writes ($RIBBON_BUILD/models/smollm2-135m-instruct, via
scripts/convert_gguf.py); converted_model() runs the converter first, which does nothing when the
stamp matches, under a lock so that tests run in parallel by ctest do not convert at once.
"""
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

SOURCE = Path(os.environ.get("RIBBON_SOURCE", Path(__file__).resolve().parents[3]))
BUILD = Path(os.environ.get("RIBBON_BUILD", SOURCE / "build"))
PYTHON = os.environ.get("RIBBON_PYTHON", sys.executable)
MODEL_DIR = BUILD / "models" / "smollm2-135m-instruct"
CACHE_DIR = BUILD / "test-cache" / "smollm2"
CONVERTER = SOURCE / "scripts" / "convert_gguf.py"

sys.path.insert(0, str(SOURCE / "scripts"))
import convert_gguf  # noqa: E402


def gguf_path():
    return convert_gguf.default_gguf()


def run_converter(out):
    done = subprocess.run([PYTHON, str(CONVERTER), "--out", str(out)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def converted_model():
    MODEL_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(MODEL_DIR.parent / ".smollm2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run_converter(MODEL_DIR)
    return MODEL_DIR


def transformers_gguf_tokenizer():
    """The tokenizer transformers builds from the GGUF file itself (no conversion of ours)."""
    from transformers import AutoTokenizer

    path = gguf_path()
    return AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))


def cached(name, key_parts, compute):
    """compute() once per distinct key; the value (JSON) is kept under the build folder."""
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:20]
    path = CACHE_DIR / f"{name}-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    tmp.rename(path)
    return value


def model_stamp():
    return (converted_model() / convert_gguf.STAMP).read_text().strip()
