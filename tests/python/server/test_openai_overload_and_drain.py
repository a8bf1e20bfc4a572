"""429 and 503 on the OpenAI-compatible port, provoked as the gRPC tests provoke them
(test_deadlines_backpressure.py, test_graceful_shutdown.py):
- a full queue answers 429 with an OpenAI-shaped rate_limit_error naming the bound and
  `Retry-After: 1`, streamed or not (a stream refused before its first token gets JSON, not events);
- while loading, and while draining after SIGTERM, generation answers 503 (service_unavailable)
  and /health 503, while the streams already running finish with [DONE] and ribbond exits 0."""
import json
import os
import signal
import socket
import threading
import time

import openai
import pytest

import ribbond_harness as h

CASES = h.load_golden()
MODEL = os.path.basename(h.STORIES)


def client_for(daemon):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{daemon.openai_port}/v1", api_key="none", max_retries=0,
                         timeout=30)


def raw_post(port, path, body, timeout=30):
    """One request with Connection: close; returns (status, headers, body bytes)."""
    data = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data)
        response = b""
        while piece := sock.recv(65536):
            response += piece
    head, _, payload = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, payload


def open_stream(port, case, max_tokens):
    """A streaming completion on its own socket; returns the socket once the request is sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    body = json.dumps({"prompt": case["prompt_ids"], "max_tokens": max_tokens, "stream": True,
                       "ignore_eos": True}).encode()
    sock.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    return sock


def read_all(sock):
    data = b""
    while piece := sock.recv(65536):
        data += piece
    sock.close()
    return data


def health(daemon):
    try:
        return raw_get(daemon.openai_port, "/health")
    except OSError:
        return None


def raw_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while piece := sock.recv(65536):
            response += piece
    return int(response.split(b" ", 2)[1])


def assert_openai_error(payload, error_type, *words):
    error = json.loads(payload)["error"]
    assert error["type"] == error_type, error
    assert set(error) == {"message", "type", "param", "code"}
    for word in words:
        assert word in error["message"], error


def test_full_queue_answers_429_with_retry_after(start_ribbond):
    daemon = start_ribbond("--debug.step_delay_ms", "20", "--engine.max_running_seqs", "2",
                           "--engine.max_queued_requests", "4")
    port = daemon.openai_port
    running = [open_stream(port, CASES[i], 200) for i in range(2)]
    h.wait_until(lambda: daemon.server_info().requests_running == 2, 10, what="two running requests")
    queued = [open_stream(port, CASES[i], 8) for i in range(4)]
    h.wait_until(lambda: daemon.server_info().requests_waiting == 4, 10, what="four waiting requests")

    # Not streamed, through the official client: RateLimitError with the header it honours.
    with pytest.raises(openai.RateLimitError) as error:
        client_for(daemon).completions.create(model=MODEL, prompt="Once", max_tokens=4)
    assert error.value.status_code == 429
    assert error.value.response.headers["retry-after"] == "1"
    assert error.value.body["type"] == "rate_limit_error" and "max_queued_requests" in error.value.body["message"]
    # Streamed: refused before the first token, so a JSON error, not events.
    status, headers, payload = raw_post(port, "/v1/completions", {"prompt": "Once", "max_tokens": 4, "stream": True})
    assert status == 429 and headers["retry-after"] == "1", (status, headers)
    assert headers["content-type"] == "application/json"
    assert_openai_error(payload, "rate_limit_error", "max_queued_requests", "4")

    # The refusals took nothing: once the long streams go, the queued ones run to their end.
    for sock in running:
        sock.close()
    for sock in queued:
        assert read_all(sock).endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    assert client_for(daemon).completions.create(model=MODEL, prompt="Once", max_tokens=4).choices
    refused = [a for a in daemon.access_log() if a["status"] == "RESOURCE_EXHAUSTED"]
    assert len(refused) == 2
    daemon.wait_kv_released()


def test_not_ready_answers_503(start_ribbond):
    # The memory probe keeps ribbond loading for a while after it listens.
    daemon = start_ribbond("--memory.probe", "true", "--engine.max_ribbon_tokens", "16384", wait=False)
    h.wait_until(lambda: os.path.exists(daemon.port_file) and os.path.getsize(daemon.port_file), 60,
                 what="ribbond listening")
    with open(daemon.port_file) as f:
        daemon.openai_port = json.load(f)["openai_port"]
    status, headers, payload = raw_post(daemon.openai_port, "/v1/completions", {"prompt": "Once", "max_tokens": 4})
    assert status == 503, "the model loaded before the request came: nothing was checked"
    assert_openai_error(payload, "service_unavailable", "loading")
    assert raw_get(daemon.openai_port, "/health") == 503
    daemon.start(timeout=300)
    assert raw_get(daemon.openai_port, "/health") == 200
    assert client_for(daemon).completions.create(model=MODEL, prompt="Once", max_tokens=4).choices


def test_draining_answers_503_while_running_streams_finish(start_ribbond):
    daemon = start_ribbond("--debug.step_delay_ms", "10", "--server.shutdown_grace_seconds", "30")
    port = daemon.openai_port
    streams = [open_stream(port, CASES[i], 150) for i in range(4)]
    h.wait_until(lambda: daemon.server_info().requests_running == 4, 10, what="four running requests")
    results = [None] * len(streams)

    def reader(i):
        results[i] = read_all(streams[i])

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(len(streams))]
    for thread in readers:
        thread.start()
    daemon.send_signal(signal.SIGTERM)
    h.wait_until(lambda: health(daemon) == 503, 5, what="/health 503")

    with pytest.raises(openai.InternalServerError) as error:
        client_for(daemon).completions.create(model=MODEL, prompt="Once", max_tokens=4)
    assert error.value.status_code == 503
    assert error.value.body["type"] == "service_unavailable" and "shutting down" in error.value.body["message"]
    status, headers, payload = raw_post(port, "/v1/completions", {"prompt": "Once", "max_tokens": 4, "stream": True})
    assert status == 503 and headers["content-type"] == "application/json"
    assert_openai_error(payload, "service_unavailable", "shutting down")

    for thread in readers:
        thread.join(timeout=60)
    for i, data in enumerate(results):
        assert data is not None and data.startswith(b"HTTP/1.1 200 OK")
        assert data.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"), data[-200:]
        assert b'"finish_reason":"length"' in data and b"error" not in data
    assert daemon.proc.wait(timeout=30) == 0
    statuses = [a["status"] for a in daemon.access_log()]
    assert statuses.count("OK") == 4 and statuses.count("UNAVAILABLE") == 2
