"""bfloat16 agreement with transformers on the same GPU.

A Llama-shaped model (head dim 64, GQA 4, random weights scaled for sharp logits by
scripts/make_models.py) is saved in bfloat16. transformers (sdpa attention, bfloat16, on the GPU)
generates a 128-token greedy continuation of each random prompt, then gives its next-token argmax
at every continuation position under teacher forcing. ribbon's CUDA runner (flash attention)
does the same three ways: one prefill per sequence, one packed ribbon of all sequences, and
prompt prefill plus decode steps. Each way must agree with transformers in >= 98% of positions
(>= 95% for the reference attention kernel, reported beside it).
A negative control must fall below the bar, so the comparison can fail: transformers with an
off-by-one causal mask (each position also sees the next token), the kind of bug a varlen
attention kernel can have.

Without a CUDA device this module is skipped ("SKIPPED: no CUDA device"). Results go to
$RIBBON_GPU_OUT/hf_agreement.json when that variable is set (scripts/gpu-check.sh sets it).
"""
import json
import os
import subprocess
import sys
import tempfile

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("SKIPPED: no CUDA device", allow_module_level=True)

SOURCE = os.environ.get("RIBBON_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("RIBBON_BUILD", os.path.join(SOURCE, "build"))
TOOL = os.environ.get("RIBBON_TEACHER_FORCE", os.path.join(BUILD, "tests/gpu/ribbon_teacher_force"))
sys.path.insert(0, os.environ.get("RIBBON_MAKE_MODELS_DIR", os.path.join(SOURCE, "scripts")))
import make_models  # noqa: E402

NUM_SEQUENCES = 8
CONTINUATION = 128
# flash is the default backend and carries the requirement; the reference kernel keeps attention
# probabilities in float32 where transformers' flash kernel rounds them to bfloat16, so it gets a
# slightly lower bar.
THRESHOLDS = {"flash": 0.98, "reference": 0.95}
SHAPE = dict(hidden_size=512, intermediate_size=1536, num_hidden_layers=4, num_attention_heads=8,
             num_key_value_heads=2, head_dim=64, vocab_size=2048, max_position_embeddings=1024,
             tie_word_embeddings=False)


@pytest.fixture(scope="module")
def checkpoint():
    with tempfile.TemporaryDirectory() as tmp:
        torch.set_num_threads(4)
        model = make_models.llama(seed=20261127, **SHAPE)
        make_models.scale_for_sharp_logits(model)
        model = model.to(torch.bfloat16)
        make_models.save(model, tmp)
        yield tmp


@pytest.fixture(scope="module")
def reference(checkpoint):
    """transformers on the GPU: prompts, greedy continuations, teacher-forced argmax."""
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.bfloat16, attn_implementation="sdpa")
    model = model.cuda().eval()
    gen = torch.Generator().manual_seed(3)
    sequences, argmax, control, margins = [], [], [], []
    with torch.no_grad():
        for _ in range(NUM_SEQUENCES):
            n = int(torch.randint(8, 65, (1,), generator=gen))
            prompt = torch.randint(2, SHAPE["vocab_size"], (n,), generator=gen).tolist()
            ids = list(prompt)
            for _ in range(CONTINUATION):
                ids.append(int(model(torch.tensor([ids], device="cuda")).logits[0, -1].argmax()))
            forced = torch.tensor([ids[:-1]], device="cuda")
            logits = model(forced).logits[0, n - 1:]
            top2 = logits.float().topk(2, dim=-1).values
            length = forced.shape[1]
            off_by_one = torch.ones(length, length, dtype=torch.bool, device="cuda").tril(1)[None, None]
            sequences.append({"prompt": prompt, "continuation": ids[n:]})
            argmax.append(logits.argmax(-1).tolist())
            control.append(model(forced, attention_mask=off_by_one).logits[0, n - 1:].argmax(-1).tolist())
            margins.append((top2[:, 0] - top2[:, 1]).tolist())
    return {"sequences": sequences, "argmax": argmax, "control": control, "margins": margins,
            "device": torch.cuda.get_device_name(0), "torch": torch.__version__}


def run_ribbon(checkpoint, sequences, backend):
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(inp, "w") as f:
            json.dump({"sequences": sequences}, f)
        proc = subprocess.run([TOOL, checkpoint, "bfloat16", backend, inp, out], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        with open(out) as f:
            return json.load(f)


def agreement(ours, theirs):
    same = sum(a == b for xs, ys in zip(ours, theirs) for a, b in zip(xs, ys))
    return same / sum(len(ys) for ys in theirs)


def record(results):
    out_dir = os.environ.get("RIBBON_GPU_OUT")
    if out_dir:
        path = os.path.join(out_dir, "hf_agreement.json")
        previous = json.load(open(path)) if os.path.exists(path) else {}
        previous.update(results)
        with open(path, "w") as f:
            json.dump(previous, f, indent=1)


@pytest.mark.parametrize("backend", ["flash", "reference"])
def test_bf16_argmax_agrees_with_transformers(checkpoint, reference, backend):
    ours = run_ribbon(checkpoint, reference["sequences"], backend)
    print(f"ribbon runner: {ours['describe']}")
    assert f"attention={backend}" in ours["describe"]
    theirs = reference["argmax"]
    scores = {mode: agreement(ours[mode], theirs) for mode in ("prefill", "packed", "decode")}
    control = agreement(ours["prefill"], reference["control"])
    disagreeing_margins = sorted(m for xs, ys, ms in zip(ours["prefill"], theirs, reference["margins"])
                                 for a, b, m in zip(xs, ys, ms) if a != b)
    result = {"backend": backend, "describe": ours["describe"], "agreement": scores,
              "negative_control_off_by_one_mask": control, "threshold": THRESHOLDS[backend],
              "positions": NUM_SEQUENCES * CONTINUATION, "hf_margins_where_prefill_disagrees": disagreeing_margins,
              "device": reference["device"], "torch": reference["torch"]}
    record({backend: result})
    print(json.dumps(result))
    assert control < THRESHOLDS[backend], "the negative control passes: the comparison cannot fail"
    for mode, score in scores.items():
        assert score >= THRESHOLDS[backend], f"{backend} {mode}: agreement {score:.4f} < {THRESHOLDS[backend]}"
