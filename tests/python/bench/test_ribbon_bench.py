"""ribbon-bench against its trivial server (ribbon-bench-fake-server), on both transports.

The bench's figures are only as good as its own floor: every request must complete at the
concurrencies the side-by-side harness runs (1, 8, 32), every streamed token count must equal
the server's usage, and the latency percentiles must be consistent. At concurrency 32 the HTTP
side used to drop connections ("http: Read" failures; the fake server's listen backlog was 5).
"""
import contextlib
import json
import os
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("RIBBON_BUILD", "build")
BENCH = os.path.join(BUILD, "bench", "serving", "ribbon-bench")
FAKE = os.path.join(BUILD, "bench", "serving", "ribbon-bench-fake-server")


@contextlib.contextmanager
def running_fake(*flags):
    """The trivial server with `flags`; yields (its ports, a scratch directory)."""
    with tempfile.TemporaryDirectory() as work:
        port_file = os.path.join(work, "ports.json")
        proc = subprocess.Popen([FAKE, "--port-file", port_file, "--max-seconds", "120", *flags],
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while not os.path.exists(port_file) or not open(port_file).read():
                assert proc.poll() is None, "the fake server exited"
                assert time.time() < deadline, "the fake server did not write its ports"
                time.sleep(0.05)
            yield json.load(open(port_file)), work
        finally:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def fake_server():
    with running_fake() as server:
        yield server


def run_bench(target, concurrency, requests, out):
    done = subprocess.run([BENCH, "--target", target, "--num-requests", str(requests), "--warmup", "4",
                           "--concurrency", str(concurrency), "--input", "fixed:128", "--output", "fixed:64",
                           "--vocab", "512", "--seed", "1", "--label", "test", "--out", out],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out) as f:
        return json.load(f)


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("concurrency", [1, 8, 32])
def test_every_request_completes_with_exact_token_counts(fake_server, transport, concurrency):
    ports, work = fake_server
    requests = max(16, 2 * concurrency)
    target = f"{transport}://127.0.0.1:{ports[transport + '_port']}"
    r = run_bench(target, concurrency, requests, os.path.join(work, f"{transport}-{concurrency}.json"))
    assert r["failed"] == 0, r.get("errors")
    assert r["completed"] == requests
    assert r["output_tokens"] == 64 * requests
    assert r["token_check"] == {"first_mismatches": [], "mismatches": 0, "requests_checked": requests}
    for metric in ("ttft_ms", "itl_ms", "e2e_ms"):
        q = r[metric]
        assert 0 <= q["p50"] <= q["p90"] <= q["p99"], (metric, q)
    assert r["ttft_ms"]["p50"] <= r["e2e_ms"]["p50"]
    # The floor under what the bench reports: a trivial server answers in milliseconds.
    assert r["e2e_ms"]["mean"] < 1000, r["e2e_ms"]


def test_an_unreachable_server_is_counted_as_failed(fake_server):
    _, work = fake_server
    out = os.path.join(work, "unreachable.json")
    done = subprocess.run([BENCH, "--target", "http://127.0.0.1:9", "--num-requests", "4", "--warmup", "0",
                           "--concurrency", "2", "--input", "fixed:8", "--output", "fixed:4", "--vocab", "512",
                           "--label", "down", "--out", out, "--timeout-s", "10"],
                          capture_output=True, text=True, timeout=120)
    with open(out) as f:
        r = json.load(f)
    assert r["failed"] == 4 and r["completed"] == 0, r


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_a_paced_server_paces_its_tokens(transport):
    """--ttft-us / --itl-us: token i is due ttft + i * itl after the request arrived, so a stream
    can never end sooner than ttft + 63 * itl, and its tokens come about itl apart (not in
    bunches), which is what the paced floor of bench/peers/side_by_side.py relies on."""
    ttft_us, itl_us = 3000, 1500
    with running_fake("--ttft-us", str(ttft_us), "--itl-us", str(itl_us)) as (ports, work):
        port = ports[transport + "_port"]
        r = run_bench(f"{transport}://127.0.0.1:{port}", 4, 8, os.path.join(work, "paced.json"))
    assert r["failed"] == 0 and r["output_tokens"] == 64 * 8, r.get("errors")
    ideal_ms = (ttft_us + 63 * itl_us) / 1000
    assert r["e2e_ms"]["p50"] >= ideal_ms, r["e2e_ms"]
    assert r["ttft_ms"]["p50"] >= ttft_us / 1000, r["ttft_ms"]
    # Paced, not bunched: the median gap is the interval (a late token is followed by an on-time
    # one sooner, so the median may fall a little short, never to zero).
    assert r["itl_ms"]["p50"] >= 0.5 * itl_us / 1000, r["itl_ms"]
