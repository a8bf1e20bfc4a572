"""Server-sent events read byte by byte off raw sockets, with no client library, over plain TCP and
over TLS: 24 concurrent streams (completions and chat, n of 1 and 2, logprobs, usage), each read
in small random pieces, some of them two requests on one kept-alive connection. The HTTP framing
is checked strictly (status line, headers, chunk sizes, the CRLF after each chunk, the last chunk,
nothing after it; over TLS a clean close_notify at the end), and so are the events: every one is `data: ` + a JSON object of the right kind, [DONE] comes once
and last, every choice ends once, and greedy text equals the stories260K goldens."""
import json
import os
import random
import socket
import ssl
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import ribbond_harness as h

CASES = h.load_golden()
TEMPLATE = os.path.join(os.path.dirname(__file__), "data", "simple_chat_template.jinja")


class Wire:
    """A socket read in small random pieces, with exact-length and line reads on top."""

    def __init__(self, sock, rng):
        self.sock, self.rng, self.buffered = sock, rng, b""

    def _fill(self):
        piece = self.sock.recv(self.rng.randint(1, 23))
        assert piece, "the server closed the connection mid-response"
        self.buffered += piece

    def line(self):
        while b"\r\n" not in self.buffered:
            self._fill()
            assert len(self.buffered) < 4096, f"no CRLF in {self.buffered[:80]!r}"
        line, self.buffered = self.buffered.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buffered) < n:
            self._fill()
        data, self.buffered = self.buffered[:n], self.buffered[n:]
        return data

    def at_eof(self):
        if self.buffered:
            return False
        self.sock.settimeout(10)
        return self.sock.recv(1) == b""


def send_request(sock, port, path, body, keep_alive):
    data = json.dumps(body).encode()
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
                 .encode() + data)


def read_chunked_response(wire):
    """The body of one chunked 200 response, its framing checked on the way."""
    status = wire.line()
    assert status == b"HTTP/1.1 200 OK", status
    headers = {}
    while (line := wire.line()) != b"":
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    assert headers.get(b"transfer-encoding") == b"chunked", headers
    assert headers.get(b"content-type") == b"text/event-stream", headers
    assert b"content-length" not in headers
    body = b""
    while True:
        size_line = wire.line()
        assert size_line and all(c in b"0123456789abcdefABCDEF" for c in size_line), size_line
        size = int(size_line, 16)
        if size == 0:
            assert wire.line() == b"", "no empty trailer after the last chunk"
            return body
        body += wire.exactly(size)
        assert wire.exactly(2) == b"\r\n", "a chunk is not followed by CRLF"


def check_events(body, endpoint, n):
    """Parses the event stream; returns the text of each choice and the usage object (or None)."""
    assert body.endswith(b"data: [DONE]\n\n"), body[-80:]
    events = body.split(b"\n\n")
    assert events[-1] == b""  # the body ends at an event boundary
    events = events[:-1]
    assert events.count(b"data: [DONE]") == 1
    texts, finished, usage = [""] * n, [], None
    want_object = "chat.completion.chunk" if endpoint == "chat" else "text_completion"
    for event in events[:-1]:
        assert event.startswith(b"data: {"), event[:80]
        payload = json.loads(event[len(b"data: "):].decode("utf-8"))
        assert payload["object"] == want_object and payload["id"] and "error" not in payload, payload
        if payload.get("usage"):
            assert payload["choices"] == [] and usage is None
            usage = payload["usage"]
            continue
        for choice in payload["choices"]:
            i = choice["index"]
            assert i not in finished, f"choice {i} has output after its finish_reason"
            texts[i] += choice["delta"].get("content", "") if endpoint == "chat" else choice["text"]
            if choice["finish_reason"]:
                assert choice["finish_reason"] in ("stop", "length")
                finished.append(i)
    assert sorted(finished) == list(range(n))
    return texts, usage


def plan(i):
    """The requests of connection i: (endpoint, body, n, golden case or None), one or two of them."""
    case = CASES[i % len(CASES)]
    golden = {"prompt": case["prompt_ids"], "max_tokens": 64, "temperature": 0, "stream": True,
              "stop_token_ids": [1, 2]}
    if i % 4 == 1:
        golden["logprobs"] = 5  # big events
    chat = {"messages": [{"role": "user", "content": f"Tell me story number {i}, with ümlauts and 中文."}],
            "max_tokens": 48, "stream": True, "n": 1 + i % 2, "seed": i, "temperature": 1.0,
            "stream_options": {"include_usage": True}}
    if i % 3 == 0:
        chat["logprobs"], chat["top_logprobs"] = True, 3
    requests = [("completions", golden, 1, case), ("chat", chat, chat["n"], None)]
    return requests if i % 2 == 0 else requests[::-1]


def connect(port, tls):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    return tls.wrap_socket(sock, server_hostname="127.0.0.1", suppress_ragged_eofs=False) if tls else sock


def run_connection(port, i, tls=None):
    rng = random.Random(i)
    requests = plan(i)
    keep_alive = i % 3 != 2
    sock = connect(port, tls)
    wire = Wire(sock, rng)
    for k, (endpoint, body, n, case) in enumerate(requests):
        if k > 0 and not keep_alive:
            sock.close()
            sock = connect(port, tls)
            wire = Wire(sock, rng)
        last = k == len(requests) - 1
        path = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"
        send_request(sock, port, path, body, keep_alive and not last)
        texts, usage = check_events(read_chunked_response(wire), endpoint, n)
        if case is not None:
            want_ids, want_text, _ = h.golden_expectation(case, 64, True)
            assert texts[0] == want_text, case["name"]
        else:
            assert all(texts) and usage["completion_tokens"] <= 48 * n
            assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert wire.at_eof(), "bytes after the last response"
    sock.close()
    return i


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_raw_socket_streams_are_well_formed(transport, tmp_path, start_ribbond):
    args = ("--debug.step_delay_ms", "2", "--chat-template", TEMPLATE)
    tls = None
    if transport == "tls":  # the same bytes inside TLS records, read in pieces of the plaintext
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True, timeout=60)
        tls = ssl.create_default_context(cafile=str(cert))
        daemon = start_ribbond(*args, tls=(str(cert), str(key)))
    else:
        daemon = start_ribbond(*args)
    with ThreadPoolExecutor(max_workers=24) as pool:
        done = sorted(pool.map(lambda i: run_connection(daemon.openai_port, i, tls), range(24)))
    assert done == list(range(24))
    daemon.wait_kv_released()
