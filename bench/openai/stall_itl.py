#!/usr/bin/env python3
"""What one stalled client costs the other streams on ribbond's OpenAI port (#17 must-show 4).

Starts ribbond (stories260K, 10 ms per step as in tests/python/server/test_openai_load.py) and
measures the inter-token latency of 8 streaming "bystander" completions (150 tokens each, EOS
ignored; the gaps between consecutive events, the first and last left out) in three conditions,
run in alternating rounds so that drift of a shared machine falls on every condition alike:
  alone    the 8 bystanders only
  stalled  beside a client that sends a big streaming chat request (n=3, 480 tokens, 4 KiB receive
           buffer) and never reads: ribbond ends it after stream.slow_reader_timeout_ms
  reader   beside a client that sends the same request and reads it: the cost of the extra
           sequences themselves, to tell it from the cost of the stall
Each round waits for the previous round's extra client to be gone. Prints per-round figures and
the medians, and the stalled/alone and reader/alone ratios of the ITL p99 medians.

Run it under the benchmark lock:
  flock /tmp/ribbon-bench.lock $RIBBON_VENV/bin/python bench/openai/stall_itl.py --rounds 5 \
      [--ribbond new=build/server/ribbond --ribbond old=OTHER/ribbond]
"""
import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "python", "server"))
import ribbond_harness as h  # noqa: E402

TEMPLATE = os.path.join(SOURCE, "tests", "python", "server", "data", "simple_chat_template.jinja")
CASES = h.load_golden()
BIG_REQUEST = {"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 480,
               "stream": True, "ignore_eos": True, "n": 3}


def request_bytes(port, body, path):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


async def bystander(port, i, max_new):
    case = CASES[i % len(CASES)]
    body = {"prompt": case["prompt_ids"], "max_tokens": max_new, "temperature": 0, "stream": True,
            "ignore_eos": True}
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(request_bytes(port, body, "/v1/completions"))
    await writer.drain()
    assert b" 200 " in await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    times, buffered = [], b""
    while True:
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            break
        buffered += await reader.readexactly(size)
        await reader.readexactly(2)
        now = time.monotonic()
        while b"\n\n" in buffered:
            event, buffered = buffered.split(b"\n\n", 1)
            if event != b"data: [DONE]":
                times.append(now)
    writer.close()
    return [b - a for a, b in zip(times[1:-1], times[2:-1])]


async def bystanders(port, count, max_new):
    per_stream = await asyncio.gather(*(bystander(port, i, max_new) for i in range(count)))
    gaps = sorted(g for gs in per_stream for g in gs)
    return {"p50_ms": 1e3 * gaps[len(gaps) // 2], "p99_ms": 1e3 * gaps[int(0.99 * (len(gaps) - 1))],
            "gaps": len(gaps)}


def start_extra(port, mode):
    """The extra client of a round: a socket that never reads, or one read to its end by a thread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request_bytes(port, BIG_REQUEST, "/v1/chat/completions"))
    if mode == "stalled":
        return sock, None

    def drain():
        while sock.recv(65536):
            pass
    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return sock, thread


def wait_idle(daemon, extra_lines):
    """Until the extra client's request has its access line and every KV block is back."""
    h.wait_until(lambda: len([a for a in daemon.access_log() if a["method"] == "chat.completions"]) >= extra_lines,
                 60, what="the extra client's access line")
    daemon.wait_kv_released(timeout=60)


class Subject:
    """One ribbond under test, with its figures."""

    def __init__(self, label, binary, args):
        h.RIBBOND = binary  # read when the process starts
        self.label = label
        self.daemon = h.Ribbond(tempfile.mkdtemp(prefix="ribbon_stall_bench_"), args=args).start()
        self.results = {"alone": [], "stalled": [], "reader": []}
        self.extra_lines = 0
        asyncio.run(bystanders(self.daemon.openai_port, 2, 40))  # warm-up

    def measure(self, mode, args):
        port = self.daemon.openai_port
        extra = start_extra(port, mode) if mode != "alone" else None
        figures = asyncio.run(bystanders(port, args.bystanders, args.tokens))
        self.results[mode].append(figures)
        if extra is not None:
            self.extra_lines += 1
            wait_idle(self.daemon, self.extra_lines)
            extra[0].close()
            if extra[1] is not None:
                extra[1].join(timeout=30)
        return figures

    def summary(self):
        lines = [a for a in self.daemon.access_log() if a["method"] == "chat.completions"]
        ended = [(a["status"], round(a["duration_seconds"], 2), a["generated_tokens"]) for a in lines
                 if a["status"] != "OK"]
        p99 = {m: statistics.median(f["p99_ms"] for f in runs) for m, runs in self.results.items()}
        p50 = {m: statistics.median(f["p50_ms"] for f in runs) for m, runs in self.results.items()}
        print(f"[{self.label}] median ITL p99: alone {p99['alone']:.2f} ms, stalled {p99['stalled']:.2f} ms, "
              f"reader {p99['reader']:.2f} ms; stalled/alone {p99['stalled'] / p99['alone']:.3f}, "
              f"reader/alone {p99['reader'] / p99['alone']:.3f}")
        print(f"[{self.label}] median ITL p50: alone {p50['alone']:.2f} ms, stalled {p50['stalled']:.2f} ms, "
              f"reader {p50['reader']:.2f} ms")
        print(f"[{self.label}] stalled clients ended (status, seconds, tokens over its 3 sequences): {ended}")
        return {"runs": self.results, "median_p99_ms": p99, "median_p50_ms": p50, "stalled_ended": ended}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bystanders", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--step-delay-ms", default="10")
    parser.add_argument("--out", help="JSON file for every figure")
    parser.add_argument("--ribbond", action="append", metavar="LABEL=PATH",
                        help="a ribbond binary to measure (repeatable: the binaries alternate within each "
                             "round, each in a daemon of its own; default: $RIBBON_BUILD/server/ribbond)")
    args = parser.parse_args()
    binaries = [b.split("=", 1) for b in args.ribbond] if args.ribbond else [["ribbond", h.RIBBOND]]
    daemon_args = ("--debug.step_delay_ms", args.step_delay_ms, "--stream.max_pending_bytes", "16384",
                   "--stream.slow_reader_timeout_ms", "500", "--chat-template", TEMPLATE)
    subjects = []
    try:
        for label, binary in binaries:
            subjects.append(Subject(label, os.path.abspath(binary), daemon_args))
        orders = [("alone", "stalled", "reader"), ("reader", "alone", "stalled"), ("stalled", "reader", "alone")]
        for r in range(args.rounds):
            turn = subjects if r % 2 == 0 else subjects[::-1]
            for subject in turn:
                for mode in orders[r % len(orders)]:
                    figures = subject.measure(mode, args)
                    print(f"round {r} {subject.label:8s} {mode:8s} ITL p50 {figures['p50_ms']:6.2f} ms  "
                          f"p99 {figures['p99_ms']:6.2f} ms", flush=True)
        out = {s.label: s.summary() for s in subjects}
    finally:
        for subject in subjects:
            subject.daemon.stop()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
