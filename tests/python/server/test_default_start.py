"""ribbond starts with its default configuration (the memory probe on) and answers a request on
every model shape it supports, not only the tiny test ones: stories260K, the llama-100m shape,
a Qwen2-style model with q/k/v biases, a Mistral-style model with a sliding window, and a Llama
with head dim 128. The checkpoints are random weights generated here (scripts/make_models.py
shape KIND), cached in the build folder by the generator's hash."""
import hashlib
import os
import subprocess
import sys

import pytest

import ribbond_harness as h
from ribbond_harness import pb

SHAPES = ["llama-100m", "qwen2-bias", "mistral-window", "llama-hd128"]
MAKE_MODELS = os.path.join(h.SOURCE, "scripts", "make_models.py")


def shape_model(kind):
    with open(MAKE_MODELS, "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()[:16]
    out = os.path.join(h.BUILD, "models", "shapes", kind)
    stamp_file = os.path.join(out, ".stamp")
    if not (os.path.exists(stamp_file) and open(stamp_file).read() == stamp):
        subprocess.run([sys.executable, MAKE_MODELS, "shape", kind, "--out", out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(stamp_file, "w") as f:
            f.write(stamp)
    return out


@pytest.mark.parametrize("kind", ["stories260k"] + SHAPES)
def test_starts_with_the_probe_on_and_answers(kind, start_ribbond):
    model = h.STORIES if kind == "stories260k" else shape_model(kind)
    # The harness turns the probe off for speed; the last flag wins, so this is the default again.
    daemon = start_ribbond("--memory.probe", "true", model=model, wait=False).start(timeout=600)
    info = daemon.server_info()
    assert info.probe_seconds > 0, "the memory probe did not run"
    assert info.max_ribbon_tokens >= 16 and info.kv_blocks_total > 0
    request = pb.GenerateRequest(text=b"Once upon a time", max_new_tokens=8, ignore_eos=True)
    result = daemon.stub().Complete(request, timeout=120)
    assert len(result.token_ids) == 8
    assert result.usage.generated_tokens == 8
    assert not any("probe failed" in line for line in daemon.stderr().splitlines())


def test_sigterm_during_the_memory_probe_stops_it_promptly(start_ribbond):
    """A daemon told to stop while it measures stops between two probe passes and exits 0, rather
    than finishing the probe: with a 16384-token cap the llama-100m shape's climb runs passes of
    up to 16384 rows, minutes on two cores; the early passes it is stopped in take a second."""
    import signal
    import time
    daemon = start_ribbond("--memory.probe", "true", "--engine.max_ribbon_tokens", "16384",
                           model=shape_model("llama-100m"), wait=False)
    h.wait_until(lambda: os.path.exists(daemon.port_file), 120, what="ribbond listening")
    time.sleep(3)  # the model is loading or the probe is running
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    code = daemon.proc.wait(timeout=60)
    assert code == 0, daemon.stderr()
    assert time.monotonic() - started < 15, "the probe ran on after SIGTERM"


def test_auto_step_budget_is_the_knee_of_the_curve_it_timed(start_ribbond):
    """engine.max_ribbon_tokens = auto: after the memory probe the daemon times doubling step
    sizes and runs with the smallest one within 5% of the best tokens/s it measured; the curve is
    in GetServerInfo and the log, and the resolved configuration still says "auto"."""
    import json
    daemon = start_ribbond("--memory.probe", "true", "--engine.max_ribbon_tokens", "auto",
                           wait=False).start(timeout=600)
    info = daemon.server_info()
    curve = [(point.tokens, point.tokens_per_second) for point in info.step_curve]
    assert len(curve) >= 2, curve
    sizes = [tokens for tokens, _ in curve]
    assert sizes[0] == 64 and sizes == sorted(set(sizes)), sizes
    assert all(rate > 0 for _, rate in curve), curve
    best = max(rate for _, rate in curve)
    assert info.max_ribbon_tokens == min(t for t, rate in curve if rate >= 0.95 * best), curve
    assert json.loads(info.config_json)["engine"]["max_ribbon_tokens"] == "auto"
    logged = daemon.log_events("step_budget")
    assert logged and logged[0]["max_ribbon_tokens"] == info.max_ribbon_tokens, logged
    result = daemon.stub().Complete(
        pb.GenerateRequest(text=b"Once upon a time", max_new_tokens=8, ignore_eos=True), timeout=60)
    assert len(result.token_ids) == 8
