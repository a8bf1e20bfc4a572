"""The admin DropPrefixCache call, black-box: a repeated prompt's cached tokens (its
Usage.cached_prompt_tokens and ribbon_prefix_cache_hits_total) stop growing right after the drop,
and grow again once the prompt has run once more. Outputs never change."""
import re
import urllib.request

import grpc
import pytest

import ribbond_harness as h
from ribbond_harness import pb

RIBBOND_AUTH_TOKEN = "prefix-admin-token"
BLOCK = 16
# 50 prompt tokens: three full blocks (48 tokens) can be found again; the last token is always
# computed so that the first sample has logits.
PROMPT = [3 + (i * 37) % 400 for i in range(50)]
CACHEABLE = (len(PROMPT) - 1) // BLOCK * BLOCK


def metric(daemon, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def complete(daemon):
    request = pb.GenerateRequest(token_ids=pb.TokenIds(ids=PROMPT), max_new_tokens=8, ignore_eos=True)
    result = daemon.stub().Complete(request, metadata=daemon.metadata(), timeout=30)
    return list(result.token_ids), result.usage.cached_prompt_tokens


def drop(daemon, metadata):
    return daemon.stub().DropPrefixCache(pb.DropPrefixCacheRequest(), metadata=metadata, timeout=10)


def wait_hits(daemon, expected):
    """The engine's observer counts a step just after its tokens went out: allow it a moment."""
    h.wait_until(lambda: metric(daemon, "ribbon_prefix_cache_hits_total") == expected, 5,
                 what=f"ribbon_prefix_cache_hits_total == {expected}")


def test_drop_needs_the_token(module_ribbond):
    with pytest.raises(grpc.RpcError) as error:
        drop(module_ribbond, None)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_hits_stop_growing_after_the_drop_then_grow_again(module_ribbond):
    daemon = module_ribbond
    hits0 = metric(daemon, "ribbon_prefix_cache_hits_total")
    first, cached = complete(daemon)
    assert cached == 0
    again, cached = complete(daemon)
    assert (again, cached) == (first, CACHEABLE)
    wait_hits(daemon, hits0 + CACHEABLE)

    answer = drop(daemon, daemon.metadata())
    # The prompt's three blocks; the fourth (prompt tail + generated ids) was never full.
    assert (answer.blocks_dropped, answer.blocks_still_cached) == (CACHEABLE // BLOCK, 0)
    assert metric(daemon, "ribbon_prefix_cache_blocks") == 0

    after, cached = complete(daemon)  # right after the drop: nothing found
    assert (after, cached) == (first, 0)
    once_more, cached = complete(daemon)  # cached again by the run before
    assert (once_more, cached) == (first, CACHEABLE)
    # Exactly one more hit of CACHEABLE tokens: the request right after the drop added none.
    wait_hits(daemon, hits0 + 2 * CACHEABLE)

    # A second drop right away finds the same three blocks; one with nothing cached finds none.
    assert drop(daemon, daemon.metadata()).blocks_dropped == CACHEABLE // BLOCK
    assert drop(daemon, daemon.metadata()).blocks_dropped == 0
