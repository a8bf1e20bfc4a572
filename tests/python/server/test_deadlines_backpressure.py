"""Must-show 3: deadlines (checked by server-side effects), overload beyond the queue bounds, and a
slow reader ended while the other streams keep going."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

import ribbond_harness as h
from ribbond_harness import pb

CASES = h.load_golden()


def filler(stub, request_id, max_new=200):
    """A long stream, left open; cancel() ends it."""
    stream = stub.Generate(h.golden_request(CASES[0], max_new, False, client_request_id=request_id), timeout=120)
    next(stream)  # admitted and running
    return stream


def single_access_line(daemon, request_id):
    return h.wait_until(lambda: daemon.access_log(request_id), 10, what=f"access line of {request_id}")[0]


def test_deadlines_free_resources_and_queued_expiry_computes_nothing(start_ribbond):
    # Two sequences at most, 20 ms per step: a third request has to wait in the queue.
    daemon = start_ribbond("--debug.step_delay_ms", "20", "--engine.max_running_seqs", "2")
    stub = daemon.stub()

    # Expires while running: its prompt was computed, some tokens were made, then it was ended.
    with pytest.raises(grpc.RpcError) as error:
        h.collect_stream(stub.Generate(h.golden_request(CASES[0], 200, False, client_request_id="running"),
                                       timeout=0.5))
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    line = single_access_line(daemon, "running")
    assert line["status"] == "DEADLINE_EXCEEDED"
    assert line["prompt_tokens_computed"] == len(CASES[0]["prompt_ids"])
    assert 0 < line["generated_tokens"] < 200
    daemon.wait_kv_released()

    # Expires while queued behind two running sequences: it never reaches the model.
    fillers = [filler(stub, f"fill{i}") for i in range(2)]
    with pytest.raises(grpc.RpcError) as error:
        stub.Complete(h.golden_request(CASES[1], 64, False, client_request_id="queued"), timeout=0.5)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    line = single_access_line(daemon, "queued")
    assert line["status"] == "DEADLINE_EXCEEDED"
    assert line["prompt_tokens_computed"] == 0
    assert line["generated_tokens"] == 0
    for stream in fillers:
        stream.cancel()
    daemon.wait_kv_released()


def test_overload_beyond_the_queue_bounds(start_ribbond):
    daemon = start_ribbond("--debug.step_delay_ms", "20", "--engine.max_running_seqs", "2",
                           "--engine.max_queued_requests", "4", "--engine.max_queued_prompt_tokens", "400")
    stub = daemon.stub()
    fillers = [filler(stub, f"fill{i}") for i in range(2)]
    queued = [stub.Generate(h.golden_request(CASES[i], 64, False, client_request_id=f"q{i}"), timeout=60)
              for i in range(4)]
    h.wait_until(lambda: daemon.server_info().requests_waiting == 4, 10, what="four waiting requests")
    with pytest.raises(grpc.RpcError) as error:
        stub.Complete(h.golden_request(CASES[5], 64, False), timeout=30)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_queued_requests" in error.value.details() and "4" in error.value.details()

    # The queued ones are served in turn once the fillers go.
    for stream in fillers:
        stream.cancel()
    for i, stream in enumerate(queued):
        ids, _, _ = h.collect_stream(stream)
        assert ids == h.golden_expectation(CASES[i], 64, False)[0]

    # A prompt bigger than the queue's token bound can never wait: refused, naming the bound.
    long_prompt = pb.GenerateRequest(token_ids=pb.TokenIds(ids=[1] + [400] * 449), max_new_tokens=8)
    with pytest.raises(grpc.RpcError) as error:
        stub.Complete(long_prompt, timeout=30)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_queued_prompt_tokens" in error.value.details()
    daemon.wait_kv_released()


def test_slow_reader_is_ended_while_other_streams_keep_going(start_ribbond):
    daemon = start_ribbond("--stream.max_pending_bytes", "4096", "--stream.slow_reader_timeout_ms", "300")
    # Its own connection with a small, fixed HTTP/2 receive window (16 KiB, no BDP growth), so that
    # the reader's buffers fill after a few KiB and the server's writes then wait on it.
    slow_channel = daemon.channel(**{"grpc.http2.bdp_probe": 0, "grpc.http2.lookahead_bytes": 16384})
    slow_request = h.golden_request(CASES[0], 400, False, client_request_id="slow", top_logprobs=20)
    slow_stream = daemon.stub(slow_channel).Generate(slow_request, timeout=60)
    first = next(slow_stream)  # then it stops reading
    assert first.token_ids

    stub = daemon.stub()
    finished_at = []

    def bystander(i):
        case = CASES[i % len(CASES)]
        ids, _, _ = h.collect_stream(stub.Generate(h.golden_request(case, 200, False), timeout=60))
        assert ids == h.golden_expectation(case, 200, False)[0]
        finished_at.append(time.monotonic())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(bystander, range(8)))

    line = single_access_line(daemon, "slow")  # ended while its reader was still asleep
    assert line["status"] == "RESOURCE_EXHAUSTED"
    assert "stream.max_pending_bytes" in line["message"]
    assert len(finished_at) == 8

    # When the reader wakes it gets what was in flight, then the error.
    with pytest.raises(grpc.RpcError) as error:
        for _ in slow_stream:
            pass
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "did not read the stream" in error.value.details()
    daemon.wait_kv_released()
    assert time.monotonic() - started < 60
