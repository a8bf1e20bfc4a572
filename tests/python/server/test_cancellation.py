"""Must-show 2: 100 streams cancelled (or disconnected) at random points while others run; the others
are unaffected, each cancelled sequence stops early, and every KV block returns to the pool."""
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

import ribbond_harness as h

# Slows each step a little so that cancellations land mid-generation.
RIBBOND_ARGS = ("--debug.step_delay_ms", "5")
CASES = h.load_golden()
CANCELLED = 100
BYSTANDERS = 20
MAX_NEW = 200


def cancelled_stream(daemon, shared_stub, i, rng_seed):
    rng = random.Random(rng_seed)
    disconnect = i % 10 == 0  # one in ten closes its connection instead of cancelling
    channel = daemon.channel() if disconnect else None
    stub = daemon.stub(channel) if disconnect else shared_stub
    case = CASES[i % len(CASES)]
    request = h.golden_request(case, MAX_NEW, False, client_request_id=f"c{i}")
    stream = stub.Generate(request, timeout=60)
    received = []
    for _ in range(rng.randint(1, 8)):
        received.extend(next(stream).token_ids)
    if disconnect:
        channel.close()
    else:
        stream.cancel()
    with pytest.raises(grpc.RpcError) as error:
        for message in stream:
            received.extend(message.token_ids)
    assert error.value.code() == grpc.StatusCode.CANCELLED
    want = h.golden_expectation(case, MAX_NEW, False)[0]
    assert received == want[:len(received)]  # what did arrive was right
    return len(received)


def bystander_stream(stub, i):
    case = CASES[i % len(CASES)]
    with_stop = i % 2 == 1
    ids, text, messages = h.collect_stream(stub.Generate(h.golden_request(case, MAX_NEW, with_stop), timeout=120))
    want_ids, want_text, want_reason = h.golden_expectation(case, MAX_NEW, with_stop)
    assert ids == want_ids, case["name"]
    if want_text is not None:
        assert text.decode() == want_text
    assert messages[-1].finish_reason == want_reason


def test_cancelled_streams_leave_others_intact_and_free_their_kv(module_ribbond):
    stub = module_ribbond.stub()
    total = CANCELLED + BYSTANDERS
    barrier = threading.Barrier(total)

    def task(i):
        barrier.wait(timeout=30)
        if i < CANCELLED:
            return cancelled_stream(module_ribbond, stub, i, rng_seed=1000 + i)
        return bystander_stream(stub, i)

    with ThreadPoolExecutor(max_workers=total) as pool:
        list(pool.map(task, range(total)))

    info = module_ribbond.wait_kv_released()
    assert info.kv_blocks_free == info.kv_blocks_total > 0

    def all_logged():
        lines = [a for a in module_ribbond.access_log() if a["client_request_id"].startswith("c")]
        return len(lines) == CANCELLED and lines
    lines = h.wait_until(all_logged, 10, what="an access line per cancelled stream")
    for line in lines:
        assert line["status"] == "CANCELLED", line
        assert line["finish_reason"] == "cancelled", line
        assert line["generated_tokens"] < MAX_NEW, line  # the engine stopped the sequence early

