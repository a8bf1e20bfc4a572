"""Reference implementation of ribbon's sampler in numpy, written from the published semantics
(HF transformers' logits processors, vLLM / OpenAI penalties, Random123's Philox) rather than
from the C++ code, for test_sampling_reference.py to compare against.

Each step is written the straightforward way: a full sort where HF sorts, one step after the
other in the documented order, float64 wherever the C++ may round differently.
"""

import numpy as np

FLOAT_MAX = float(np.finfo(np.float32).max)

# Philox4x32-10 (Salmon et al., SC'11).
_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK = 0xFFFFFFFF


def philox4x32(counter, key, rounds=10):
    c = list(counter)
    k0, k1 = key
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        p0, p1 = _M0 * c[0], _M1 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & _MASK, p1 & _MASK, ((p0 >> 32) ^ c[3] ^ k1) & _MASK,
             p0 & _MASK]
    return c


def sampling_uniform(seed, output_index):
    """The draw for output token `output_index`: key = seed, counter = (index, 0, 0)."""
    key = (seed & _MASK, (seed >> 32) & _MASK)
    counter = (output_index & _MASK, (output_index >> 32) & _MASK, 0, 0)
    out = philox4x32(counter, key)
    bits = ((out[1] << 32) | out[0]) >> 11
    return bits / 2.0**53


def sanitize(logits):
    x = np.array(logits, dtype=np.float32)
    x[np.isnan(x)] = -np.inf
    x[x == np.inf] = FLOAT_MAX
    return x


def apply_penalties(logits, params, prompt, output):
    """Penalties in float32, as the model's logits are (HF and vLLM do the same)."""
    x = logits.copy()
    vocab = x.size
    valid = lambda ids: np.array([t for t in ids if 0 <= t < vocab], dtype=np.int64)
    rep = np.float32(params.get("repetition_penalty", 1.0))
    if rep != 1:
        # HF RepetitionPenaltyLogitsProcessor over prompt + output: where(x < 0, x*p, x/p).
        ids = np.unique(valid(list(prompt) + list(output)))
        if ids.size:
            picked = x[ids]
            x[ids] = np.where(picked < 0, picked * rep, picked / rep)
    frequency = np.float32(params.get("frequency_penalty", 0.0))
    presence = np.float32(params.get("presence_penalty", 0.0))
    if frequency != 0 or presence != 0:
        # vLLM apply_penalties over the output tokens.
        counts = np.bincount(valid(output), minlength=vocab).astype(np.float32)
        x = x - frequency * counts
        x = x - presence * (counts > 0).astype(np.float32)
    return x.astype(np.float32)


def softmax(scores):
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return np.zeros_like(scores)
    e = np.exp(scores - finite.max())
    return e / e.sum()


def most_probable_first(probs):
    """Descending probability, ties to the lower token id."""
    return np.lexsort((np.arange(probs.size), -probs))


def top_k(scores, k):
    """HF TopKLogitsWarper: remove scores below the k-th largest (ties with it stay)."""
    if k <= 0 or k >= scores.size:
        return scores
    kth = np.sort(scores)[::-1][k - 1]
    out = scores.copy()
    out[out < kth] = -np.inf
    return out


def top_p(scores, p):
    """HF TopPLogitsWarper: a token is removed when the probability of the tokens ranked before
    it already reaches p; the top token always stays. Also returns the smallest distance of a
    cumulative sum from p, so callers can avoid cases that hinge on rounding."""
    if p >= 1:
        return scores, np.inf
    probs = softmax(scores)
    order = most_probable_first(probs)
    before = np.concatenate([[0.0], np.cumsum(probs[order])[:-1]])
    remove = before >= p
    remove[0] = False
    out = scores.copy()
    out[order[remove]] = -np.inf
    alive = probs[order] > 0
    margin = np.min(np.abs(before[alive] - p)) if alive.any() else np.inf
    return out, margin


def min_p(scores, m):
    """HF MinPLogitsWarper: remove tokens whose probability is below m times the top one."""
    if m <= 0:
        return scores, np.inf
    probs = softmax(scores)
    ratio = probs / probs.max()
    out = scores.copy()
    out[ratio < m] = -np.inf
    alive = probs > 0
    return out, float(np.min(np.abs(ratio[alive] - m)))


def filtered_probabilities(logits, params, prompt=(), output=()):
    """Returns (probabilities, margin): the distribution ribbon samples from, and how close the
    case came to a top-p / min-p decision boundary."""
    x = apply_penalties(sanitize(logits), params, prompt, output)
    temperature = params.get("temperature", 0.0)
    if temperature <= 0 or not np.isfinite(x).any():
        probs = np.zeros(x.size)
        probs[int(np.argmax(x))] = 1.0
        return probs, np.inf
    scores = x.astype(np.float64) / temperature
    scores = top_k(scores, params.get("top_k", 0))
    scores, margin_p = top_p(scores, params.get("top_p", 1.0))
    scores, margin_min = min_p(scores, params.get("min_p", 0.0))
    return softmax(scores), min(margin_p, margin_min)


def draw(probs, uniform):
    """Inverse CDF in increasing token order; also the distance of `uniform` from the nearest
    CDF step, for the same reason as above."""
    cdf = np.cumsum(probs)
    token = int(np.searchsorted(cdf, uniform, side="right"))
    token = min(token, probs.size - 1)
    support = probs > 0
    margin = float(np.min(np.abs(cdf[support] - uniform))) if support.any() else np.inf
    return token, margin


def raw_logprobs(logits):
    x = sanitize(logits).astype(np.float64)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.full(x.size, -np.inf)
    shifted = x - finite.max()
    return shifted - np.log(np.exp(shifted).sum())


def top_logprobs(logits, n):
    lp = raw_logprobs(logits)
    x = sanitize(logits)
    order = np.lexsort((np.arange(x.size), -x.astype(np.float64)))
    return [(int(t), float(lp[t])) for t in order[:min(n, x.size)]]
