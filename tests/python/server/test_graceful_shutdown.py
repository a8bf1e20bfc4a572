"""Must-show 5: SIGTERM under load. Readiness goes NOT_SERVING, new requests are refused with
UNAVAILABLE, in-flight streams finish within the grace period, and ribbond exits 0. Past the grace
period the rest end with UNAVAILABLE (and SIGINT does the same as SIGTERM)."""
import signal
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2

import ribbond_harness as h

CASES = h.load_golden()
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


def http_status(daemon, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start_streams(daemon, count, max_new):
    """Opens `count` streams and waits until each has its first message; returns them with what
    they received so far."""
    stub = daemon.stub()
    streams = []
    for i in range(count):
        stream = stub.Generate(h.golden_request(CASES[i % len(CASES)], max_new, False), timeout=120)
        streams.append((i, stream, list(next(stream).token_ids)))
    return streams


def finish_stream(entry):
    i, stream, received = entry
    try:
        for message in stream:
            received.extend(message.token_ids)
        return i, grpc.StatusCode.OK, received
    except grpc.RpcError as error:
        return i, error.code(), received


def test_sigterm_under_load_drains_in_flight_streams_and_exits_0(start_ribbond):
    daemon = start_ribbond("--debug.step_delay_ms", "10", "--server.shutdown_grace_seconds", "30")
    assert http_status(daemon, "/readyz") == 200
    streams = start_streams(daemon, 16, 100)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(finish_stream, streams)  # readers keep reading during the drain
        daemon.send_signal(signal.SIGTERM)

        h.wait_until(lambda: daemon.health() == NOT_SERVING, 5, what="readiness NOT_SERVING")
        assert daemon.health("") == SERVING  # still alive while it drains
        assert http_status(daemon, "/readyz") == 503
        assert http_status(daemon, "/healthz") == 200
        with pytest.raises(grpc.RpcError) as error:
            daemon.stub().Complete(h.golden_request(CASES[0], 8, False), timeout=10)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "shutting down" in error.value.details()
        results = list(results)

    for i, code, received in results:
        assert code == grpc.StatusCode.OK
        # Greedy decoding: the first 100 tokens are the 200-token golden's first 100.
        assert received == h.golden_expectation(CASES[i % len(CASES)], 200, False)[0][:100]
    assert daemon.proc.wait(timeout=30) == 0
    statuses = [a["status"] for a in daemon.access_log()]
    assert statuses.count("OK") == 16 and statuses.count("UNAVAILABLE") == 1


def test_streams_past_the_grace_period_end_with_unavailable(start_ribbond):
    daemon = start_ribbond("--debug.step_delay_ms", "20", "--server.shutdown_grace_seconds", "0.5")
    streams = start_streams(daemon, 4, 200)  # about 4 s each: longer than the grace period
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(finish_stream, streams)
        daemon.send_signal(signal.SIGINT)
        results = list(results)
    for i, code, received in results:
        assert code == grpc.StatusCode.UNAVAILABLE
        want = h.golden_expectation(CASES[i % len(CASES)], 200, False)[0]
        assert 0 < len(received) < len(want) and received == want[:len(received)]
    assert daemon.proc.wait(timeout=30) == 0
