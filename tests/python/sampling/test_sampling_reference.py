"""ribbon's sampler against the numpy reference (sampling_reference.py): for random logits and
parameters, each filter and penalty alone and all combined, the filtered renormalised
probabilities, the sampled token for the Philox draw, and the logprobs must agree.

Drives tests/core/sampling/sampling_probs_cli (built with the C++ tests) with one batch of
cases per test. Cases are generated from fixed seeds, so the test is deterministic.
"""

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sampling_reference as ref

# The C++ computes weights in float32 (relative error ~3e-6 for probabilities that matter), the
# reference in float64. Cases whose top-p / min-p decision or draw lies closer than this to a
# boundary could legitimately go either way, so they are regenerated (and counted).
BOUNDARY_MARGIN = 1e-5
# With 150k tokens nearly every cumulative sum lies within 1e-5 of some boundary. There the
# cumulative sums themselves are what matters; they agree to ~4e-9 (measured), so 1e-7 is safe.
LARGE_VOCAB_BOUNDARY_MARGIN = 1e-7
PROB_RTOL, PROB_ATOL = 1e-5, 1e-9
LOGPROB_RTOL, LOGPROB_ATOL = 1e-6, 2e-5


def cli_path():
    build = Path(os.environ.get("RIBBON_BUILD", Path(__file__).resolve().parents[3] / "build"))
    path = build / "tests/core/sampling/sampling_probs_cli"
    if not path.exists():
        pytest.fail(f"{path} is not built")
    return path


def encode_logits(logits):
    out = []
    for x in np.asarray(logits, dtype=np.float32).tolist():
        out.append(x if math.isfinite(x) else ("nan" if math.isnan(x) else
                                               ("inf" if x > 0 else "-inf")))
    return out


def run_cli(cases):
    payload = {"cases": [{
        "logits": encode_logits(c["logits"]), "params": c["params"], "prompt": c["prompt"],
        "output": c["output"], "output_index": c["output_index"]} for c in cases]}
    done = subprocess.run([str(cli_path())], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=240, check=True)
    return json.loads(done.stdout)["results"]


# ---- case generation -------------------------------------------------------------------

def random_logits(rng, vocab):
    scale = rng.choice([0.3, 1.0, 2.0, 4.0, 8.0])
    x = rng.normal(0.0, scale, vocab).astype(np.float32)
    if rng.random() < 0.25:
        x = (np.round(x * 2) / 2).astype(np.float32)  # many exact ties
    if rng.random() < 0.2:
        x[rng.choice(vocab, size=max(1, vocab // 10), replace=False)] = -np.inf
    if rng.random() < 0.1:
        x[rng.integers(vocab)] = np.nan
    return x


def random_tokens(rng, vocab, max_len):
    n = int(rng.integers(0, max_len + 1))
    pool = rng.integers(0, vocab, size=max(1, vocab // 8))  # repeats are likely
    return [int(t) for t in rng.choice(pool, size=n)]


def random_params(rng, vocab, category):
    temperature = float(np.float32(rng.choice([0.05, 0.3, 0.7, 1.0, 1.5, 3.0])))
    params = {"temperature": 1.0}
    if category in ("temperature", "combined"):
        params["temperature"] = temperature
    if category in ("top_k", "combined"):
        params["top_k"] = int(rng.integers(1, vocab + 5))
    if category in ("top_p", "combined"):
        params["top_p"] = float(np.float32(rng.uniform(0.05, 1.0)))
    if category in ("min_p", "combined"):
        params["min_p"] = float(np.float32(rng.uniform(0.0, 0.5)))
    if category in ("repetition", "combined", "greedy"):
        params["repetition_penalty"] = float(np.float32(rng.uniform(0.5, 2.0)))
    if category in ("presence", "combined", "greedy"):
        params["presence_penalty"] = float(np.float32(rng.uniform(-2.0, 2.0)))
    if category in ("frequency", "combined", "greedy"):
        params["frequency_penalty"] = float(np.float32(rng.uniform(-2.0, 2.0)))
    if category == "greedy":
        params["temperature"] = 0.0
    params["seed"] = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
    params["logprobs"] = bool(rng.random() < 0.7)
    params["top_logprobs"] = int(rng.integers(0, 9))
    return params


def make_case(rng, vocab, category):
    """A random case the reference can decide away from any rounding boundary."""
    for attempt in range(100):
        case = {"logits": random_logits(rng, vocab),
                "params": random_params(rng, vocab, category),
                "prompt": random_tokens(rng, vocab, 40),
                "output": random_tokens(rng, vocab, 40),
                "output_index": int(rng.integers(0, 2**40 if rng.random() < 0.3 else 4096))}
        probs, margin = ref.filtered_probabilities(case["logits"], case["params"],
                                                   case["prompt"], case["output"])
        uniform = ref.sampling_uniform(case["params"]["seed"], case["output_index"])
        token, draw_margin = ref.draw(probs, uniform)
        if min(margin, draw_margin) >= BOUNDARY_MARGIN:
            case.update(ref_probs=probs, ref_token=token, ref_uniform=uniform, regenerated=attempt)
            return case
    raise AssertionError("could not generate a case away from the boundaries")


def make_cases(seed, category, count, vocabs):
    rng = np.random.default_rng(seed)
    return [make_case(rng, int(rng.choice(vocabs)), category) for _ in range(count)]


# ---- comparison ------------------------------------------------------------------------

def check_case(case, result):
    label = f"params={case['params']} vocab={len(case['logits'])}"
    got = np.asarray(result["probs"], dtype=np.float64)
    want = case["ref_probs"]
    np.testing.assert_allclose(got, want, rtol=PROB_RTOL, atol=PROB_ATOL, err_msg=label)
    # Filtered means exactly zero; the C++ may only drop what is negligible (float underflow).
    assert np.all(got[want == 0] == 0), label
    assert np.all(want[got == 0] < 1e-30), label
    assert result["uniform"] == case["ref_uniform"], label
    assert result["token"] == case["ref_token"], label
    params = case["params"]
    if params["logprobs"] or params["top_logprobs"] > 0:
        raw = ref.raw_logprobs(case["logits"])
        got_lp = -np.inf if result["logprob"] is None else result["logprob"]
        np.testing.assert_allclose(got_lp, raw[result["token"]], rtol=LOGPROB_RTOL,
                                   atol=LOGPROB_ATOL, err_msg=label)
        want_top = ref.top_logprobs(case["logits"], params["top_logprobs"])
        assert [t for t, _ in result["top"]] == [t for t, _ in want_top], label
        got_top = [-np.inf if lp is None else lp for _, lp in result["top"]]
        np.testing.assert_allclose(got_top, [lp for _, lp in want_top], rtol=LOGPROB_RTOL,
                                   atol=LOGPROB_ATOL, err_msg=label)


def support(probs):
    return int(np.count_nonzero(probs))


def unfiltered_support(case):
    plain = {"temperature": 1.0}
    x = ref.apply_penalties(ref.sanitize(case["logits"]), case["params"], case["prompt"],
                            case["output"])
    return support(ref.filtered_probabilities(x, plain)[0])


CATEGORIES = ["temperature", "top_k", "top_p", "min_p", "repetition", "presence", "frequency",
              "greedy", "combined"]


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_filter_and_penalty_matches_the_reference(category):
    cases = make_cases(seed=1000 + CATEGORIES.index(category), category=category, count=120,
                       vocabs=[2, 3, 7, 16, 50, 100, 257, 1000])
    results = run_cli(cases)
    for case, result in zip(cases, results):
        check_case(case, result)
    regenerated = sum(c["regenerated"] for c in cases)
    assert regenerated < len(cases) // 4, f"{regenerated} cases hit a rounding boundary"
    if category in ("top_k", "top_p", "min_p"):
        # The filter really removed tokens in most cases, so the comparison above tested it.
        narrowed = sum(support(c["ref_probs"]) < unfiltered_support(c) for c in cases)
        assert narrowed > len(cases) // 2


def test_large_vocabularies_match_the_reference():
    # Exercises the paths only large candidate sets take: the nth_element top-k, the top-p
    # prefilter and quickselect, and blocked drawing.
    rng = np.random.default_rng(77)
    specs = [
        (151936, {"temperature": 1.0, "top_p": 0.9}),
        (151936, {"temperature": 0.7, "top_k": 5000, "top_p": 0.95}),
        (151936, {"temperature": 1.0, "top_k": 600}),
        (32000, {"temperature": 1.3, "top_p": 0.99, "min_p": 0.001}),
        (32000, {"temperature": 0.5, "top_p": 0.8, "repetition_penalty": 1.2}),
        (32000, {"temperature": 1.0}),
    ]
    cases = []
    for vocab, params in specs:
        for _ in range(20):
            logits = (rng.normal(0.0, rng.choice([1.0, 3.0]), vocab)).astype(np.float32)
            case = {"logits": logits, "prompt": random_tokens(rng, vocab, 200),
                    "output": random_tokens(rng, vocab, 100),
                    "output_index": int(rng.integers(0, 1 << 20)),
                    "params": dict(params, seed=int(rng.integers(0, 2**62)), logprobs=True,
                                   top_logprobs=3)}
            probs, margin = ref.filtered_probabilities(logits, case["params"], case["prompt"],
                                                       case["output"])
            uniform = ref.sampling_uniform(case["params"]["seed"], case["output_index"])
            token, draw_margin = ref.draw(probs, uniform)
            if min(margin, draw_margin) >= LARGE_VOCAB_BOUNDARY_MARGIN:
                case.update(ref_probs=probs, ref_token=token, ref_uniform=uniform)
                cases.append(case)
                break
        else:
            raise AssertionError(f"no usable case for {params}")
    for case, result in zip(cases, run_cli(cases)):
        check_case(case, result)


def test_the_comparison_detects_a_small_temperature_error():
    cases = make_cases(seed=5, category="temperature", count=20, vocabs=[100])
    results = run_cli(cases)
    mismatches = 0
    for case, result in zip(cases, results):
        if case["params"]["temperature"] > 0:
            wrong = dict(case["params"], temperature=case["params"]["temperature"] * 1.01)
            wrong_probs, _ = ref.filtered_probabilities(case["logits"], wrong, case["prompt"],
                                                        case["output"])
            got = np.asarray(result["probs"])
            mismatches += not np.allclose(got, wrong_probs, rtol=PROB_RTOL, atol=PROB_ATOL)
    assert mismatches >= 15


def test_philox_reference_matches_random123_known_answers():
    assert ref.philox4x32([0, 0, 0, 0], [0, 0]) == [0x6627e8d5, 0xe169c58d, 0xbc57ac4c,
                                                    0x9b00dbd8]
    assert ref.philox4x32([0xffffffff] * 4, [0xffffffff] * 2) == [0x408f276d, 0x41c83b0e,
                                                                  0xa20bc7c6, 0x6d5451fd]
    assert ref.philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                          [0xa4093822, 0x299f31d0]) == [0xd16cfe09, 0x94fdcceb, 0x5001e420,
                                                        0x24126ea1]


def test_uniform_draws_match_for_64_bit_seeds_and_indices():
    rng = np.random.default_rng(9)
    cases = []
    for _ in range(200):
        seed = int(rng.integers(0, 2**63)) * 2 + 1
        index = int(rng.integers(0, 2**63))
        cases.append({"logits": [0.0, 1.0], "params": {"temperature": 1.0, "seed": seed},
                      "prompt": [], "output": [], "output_index": index})
    for case, result in zip(cases, run_cli(cases)):
        assert result["uniform"] == ref.sampling_uniform(case["params"]["seed"],
                                                         case["output_index"])
