"""Greedy goldens on the default model (SmolLM2-135M-Instruct, converted at setup): ribbond's
output equals transformers' float32 greedy decoding on the same converted weights, token for
token, for 20 chat prompts of the project's own (tests/python/smollm2/chat_prompts.py, rendered
with transformers' apply_chat_template and sent to ribbond as token ids over gRPC), 64 new tokens
each (EOS ignored, so every case runs the full 64):

  * alone: one request at a time;
  * packed: 16 concurrent requests at a time (two waves covering all 20), which /metrics shows
    ran in shared steps (far fewer engine steps than 16 x 64);
  * bfloat16 compute dtype (model.dtype, the same option ribbond takes): teacher-forced on the
    reference sequences, ribbon's argmax agrees with transformers' float32 greedy token at >= 98%
    of the 1,280 positions.

The transformers references are computed here and cached under $RIBBON_BUILD/test-cache/smollm2,
keyed by a hash of the model's conversion stamp, the prompts and the library versions.
"""
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import smollm2_model as sm
from chat_prompts import CHAT_PROMPTS

sys.path.insert(0, str(sm.SOURCE / "tests" / "python" / "server"))
import ribbond_harness as h  # noqa: E402
from ribbond_harness import pb  # noqa: E402

NEW_TOKENS = 64
PACK = 16
BF16_AGREEMENT = 0.98
LOGITS_TOOL = sm.BUILD / "tests" / "core" / "model" / "logits_tool"


def render(tokenizer, messages):
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    ids = rendered["input_ids"] if isinstance(rendered, dict) or hasattr(rendered, "keys") else rendered
    return [int(i) for i in ids]


def greedy(model, prompt, steps):
    """transformers float32 greedy decoding with its KV cache; the top-1/top-2 margin per step
    says how close each choice was (for the failure message)."""
    import torch

    ids, margins = [], []
    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=True)
        # transformers 5 names the KV cache `cache` (`past_key_values` before it).
        cache_name = "cache" if "cache" in out else "past_key_values"
        for _ in range(steps):
            top = torch.topk(out.logits[0, -1], 2)
            ids.append(int(top.indices[0]))
            margins.append(float(top.values[0] - top.values[1]))
            out = model(torch.tensor([[ids[-1]]]), use_cache=True, **{cache_name: out[cache_name]})
    return ids, margins


def compute_references():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # One thread: the reference does not depend on how busy the machine is (two threads spend
    # most of their time waiting for each other when ctest runs other tests beside this one).
    torch.set_num_threads(1)
    model_dir = str(sm.converted_model())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    cases = []
    for messages in CHAT_PROMPTS:
        prompt = render(tokenizer, messages)
        ids, margins = greedy(model, prompt, NEW_TOKENS)
        cases.append({"prompt_ids": prompt, "ids": ids, "margins": margins,
                      "text": tokenizer.decode(ids)})
    return cases


@pytest.fixture(scope="module")
def references():
    import torch
    import transformers

    key = [sm.model_stamp(), CHAT_PROMPTS, NEW_TOKENS, transformers.__version__,
           torch.__version__, "greedy-v1", "threads-1"]
    cases = sm.cached("goldens", key, compute_references)
    assert len(cases) == 20 and all(len(c["ids"]) == NEW_TOKENS for c in cases)
    assert "Paris" in cases[0]["text"], cases[0]["text"]  # a real model, really answering
    return cases


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ribbond")
    # Default engine configuration; the harness turns the start-up memory probe off.
    process = h.Ribbond(str(workdir), model=str(sm.converted_model()))
    try:
        yield process.start(timeout=180)
    finally:
        process.kill()


def request(case):
    return pb.GenerateRequest(token_ids=pb.TokenIds(ids=case["prompt_ids"]),
                              max_new_tokens=NEW_TOKENS, ignore_eos=True)


def first_difference(got, case):
    want = case["ids"]
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    margin = case["margins"][at] if at < len(case["margins"]) else None
    return (f"first difference at token {at}: ours {got[at:at + 5]} transformers "
            f"{want[at:at + 5]} (transformers' top-2 logit margin there: {margin})")


def steps_total(daemon):
    url = f"http://127.0.0.1:{daemon.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    match = re.search(r"^ribbon_steps_total(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    assert match, "ribbon_steps_total not in /metrics"
    return float(match.group(1))


def test_greedy_alone_matches_transformers(references, daemon):
    stub = daemon.stub()
    failures = []
    for index, case in enumerate(references):
        result = stub.Complete(request(case), timeout=120)
        got = list(result.token_ids)
        assert result.usage.prompt_tokens == len(case["prompt_ids"])
        if got != case["ids"]:
            failures.append(f"prompt {index}: {first_difference(got, case)}")
    assert not failures, "\n".join(failures)


def run_wave(stub, cases):
    barrier = threading.Barrier(len(cases))

    def one(case):
        barrier.wait(timeout=60)
        ids, _, messages = h.collect_stream(stub.Generate(request(case), timeout=300))
        return ids, messages[-1].finish_reason

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        return list(pool.map(one, cases))


def test_greedy_packed_16_at_a_time_matches_transformers(references, daemon):
    stub = daemon.stub()
    failures = []
    for wave in (range(0, PACK), range(len(references) - PACK, len(references))):
        cases = [references[i] for i in wave]
        before = steps_total(daemon)
        results = run_wave(stub, cases)
        steps = steps_total(daemon) - before
        # One request at a time would take PACK * NEW_TOKENS steps; packed, about NEW_TOKENS.
        assert steps <= 3 * NEW_TOKENS, f"{steps} steps for {PACK} requests: not packed"
        print(f"prompts {wave.start}..{wave.stop - 1}: {PACK} concurrent requests in {steps:.0f} steps")
        for index, case, (ids, reason) in zip(wave, cases, results):
            assert reason == pb.FINISH_REASON_LENGTH
            if ids != case["ids"]:
                failures.append(f"prompt {index}: {first_difference(ids, case)}")
    daemon.wait_kv_released()
    assert not failures, "\n".join(failures)


def ribbon_argmax(sequences, tmp_path, dtype):
    """logits_tool (one packed forward, LoadModel with this compute dtype) -> argmax per row."""
    inp, out = tmp_path / "in.json", tmp_path / "out.bin"
    inp.write_text(json.dumps({"sequences": sequences}))
    done = subprocess.run([str(LOGITS_TOOL), str(sm.converted_model()), str(inp), str(out), dtype],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    meta = json.loads(done.stdout)
    logits = np.fromfile(out, dtype=np.float32).reshape(meta["rows"], meta["vocab"])
    os.unlink(out)
    return np.split(logits.argmax(-1), np.cumsum([len(s) for s in sequences])[:-1])


def test_bfloat16_teacher_forced_agreement(references, tmp_path):
    assert LOGITS_TOOL.exists(), f"build logits_tool first ({LOGITS_TOOL})"
    agree = total = 0
    for start in range(0, len(references), 5):  # 5 sequences per forward keeps the output small
        chunk = references[start:start + 5]
        sequences = [c["prompt_ids"] + c["ids"][:-1] for c in chunk]
        for case, argmax in zip(chunk, ribbon_argmax(sequences, tmp_path, "bfloat16")):
            predicted = argmax[len(case["prompt_ids"]) - 1:]
            agree += int(np.sum(predicted == np.array(case["ids"])))
            total += len(case["ids"])
    assert total == 20 * NEW_TOKENS
    rate = agree / total
    print(f"bfloat16 teacher-forced argmax agreement: {agree}/{total} = {rate:.4f}")
    assert rate >= BF16_AGREEMENT, f"bfloat16 agreement {rate:.4f} < {BF16_AGREEMENT}"
