#!/usr/bin/env python3
"""ribbon and llama.cpp side by side, on the same weights, the same workloads, the same threads,
run alternately (ribbon first on even repeats, the peer first on odd ones); each figure is the
median over repeats. Part of `make bench` (scripts/bench.sh); prints figures, passes nothing.

  side_by_side.py --ribbon-build DIR --peer-bin DIR --model NAME=HF_DIR=GGUF [--model ...]
                  [--threads 2] [--repeats 3] [--quick] [--sections engine,serving]
                  --out FILE.json

Engine: ribbon's bench/cpu_throughput against llama-batched-bench (-npl 1,8,32, -npp 128,
-ntg D), prefill and decode tokens/s; each decode figure also as a share of the memory-bandwidth
roofline (batch x bandwidth / weight bytes, the bandwidth measured here by a 2-thread copy).
Serving: ribbond (gRPC) against llama-server (OpenAI HTTP /v1/completions), both driven by the
same ribbon-bench, closed loop at concurrency 1, 8 and 32, 128-token prompts, 64 new tokens,
greedy with EOS ignored. ribbon-bench's own cost is measured against its trivial server
(ribbon-bench-fake-server) on both transports and reported beside the figures.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ENGINE_BATCHES = [1, 8, 32]
CONCURRENCY = [1, 8, 32]


def log(msg):
    print(f"[side-by-side {time.strftime('%H:%M:%S')} load {loadavg()}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def measure_bandwidth(threads):
    """Copy bandwidth (read + write bytes per second) of a 256 MiB buffer, best of 5."""
    import torch
    torch.set_num_threads(threads)
    a = torch.ones(64 * 1024 * 1024, dtype=torch.float32)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - t)
    return 2 * a.numel() * 4 / best


# ---------------------------------------------------------------- engine level

def ribbon_engine(build, hf_dir, threads, decode):
    out = subprocess.run([os.path.join(build, "bench", "cpu_throughput"), hf_dir, "--batches",
                          ",".join(map(str, ENGINE_BATCHES)), "--prompt", "128", "--decode", str(decode),
                          "--threads", str(threads)], capture_output=True, text=True, check=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return {r["batch"]: {"prefill": r["prefill_tok_s"], "decode": r["decode_tok_s"]} for r in rows}


def llama_engine(peer_bin, gguf, threads, decode):
    ctx = max(ENGINE_BATCHES) * (128 + decode) + 256
    out = subprocess.run([os.path.join(peer_bin, "llama-batched-bench"), "-m", gguf, "-c", str(ctx),
                          "-b", "2048", "-ub", "512", "-npp", "128", "-ntg", str(decode), "-npl",
                          ",".join(map(str, ENGINE_BATCHES)), "-t", str(threads), "-tb", str(threads),
                          "--output-format", "jsonl"], capture_output=True, text=True, check=True)
    rows = [json.loads(l) for l in (out.stdout + out.stderr).splitlines() if l.startswith("{")]
    return {r["pl"]: {"prefill": r["speed_pp"], "decode": r["speed_tg"]} for r in rows}


def engine_side_by_side(a, name, hf_dir, gguf, weight_bytes, bandwidth):
    decode = 16 if a.quick else 32
    runs = {"ribbon": [], "llama.cpp": []}
    for rep in range(a.repeats):
        order = ["ribbon", "llama.cpp"] if rep % 2 == 0 else ["llama.cpp", "ribbon"]
        for side in order:
            log(f"engine {name} {side} repeat {rep + 1}")
            if side == "ribbon":
                runs[side].append(ribbon_engine(a.ribbon_build, hf_dir, a.threads, decode))
            elif a.peer_bin:
                runs[side].append(llama_engine(a.peer_bin, gguf, a.threads, decode))
    rows = []
    for b in ENGINE_BATCHES:
        row = {"model": name, "batch": b, "prompt": 128, "decode_steps": decode}
        for side, rs in runs.items():
            for metric in ("prefill", "decode"):
                row[f"{side}_{metric}_tok_s"] = median([r.get(b, {}).get(metric) for r in rs])
                row[f"{side}_{metric}_runs"] = [r.get(b, {}).get(metric) for r in rs]
            roof = b * bandwidth / weight_bytes
            row["roofline_decode_tok_s"] = roof
            if row[f"{side}_decode_tok_s"]:
                row[f"{side}_decode_pct_roofline"] = 100 * row[f"{side}_decode_tok_s"] / roof
        for metric in ("prefill", "decode"):
            r, l = row.get(f"ribbon_{metric}_tok_s"), row.get(f"llama.cpp_{metric}_tok_s")
            row[f"{metric}_ratio"] = r / l if r and l else None
        rows.append(row)
    return rows


# ---------------------------------------------------------------- serving

class Server:
    """A server process on loopback, always stopped (SIGTERM, then SIGKILL)."""

    def __init__(self, cmd, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_for(predicate, what, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout} s")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ribbond(a, hf_dir, work):
    ribbond = os.path.join(a.ribbon_build, "server", "ribbond")
    port_file = os.path.join(work, f"ribbond-ports-{os.path.basename(os.path.normpath(hf_dir))}.json")
    if os.path.exists(port_file):
        os.remove(port_file)  # a stale file would send the bench to a dead server
    cmd = [ribbond, "--model", hf_dir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
           "--port-file", port_file, "--model.num_threads", str(a.threads)]
    # The OpenAI listener (when this build has one) must not take a fixed port.
    if subprocess.run([ribbond, "--check-config", "--openai.listen", "127.0.0.1:0"],
                      capture_output=True).returncode == 0:
        cmd += ["--openai.listen", "127.0.0.1:0"]
    server = Server(cmd, os.path.join(work, f"ribbond-{os.path.basename(os.path.normpath(hf_dir))}.log"))
    ports = wait_for(lambda: json.load(open(port_file)), "ribbond", server.proc)
    # Ready once the model is loaded and the capacity probe has run (/readyz on the side port).
    ready = f"http://127.0.0.1:{ports['http_port']}/readyz"
    wait_for(lambda: urllib.request.urlopen(ready, timeout=2).status == 200, "ribbond", server.proc)
    return server, f"grpc://127.0.0.1:{ports['grpc_port']}"


def start_llama_server(a, gguf, work):
    port = free_port()
    ctx = max(CONCURRENCY) * 256
    cmd = [os.path.join(a.peer_bin, "llama-server"), "-m", gguf, "--host", "127.0.0.1", "--port",
           str(port), "-t", str(a.threads), "-tb", str(a.threads), "-c", str(ctx), "-np",
           str(max(CONCURRENCY)), "-b", "2048", "-ub", "512"]
    server = Server(cmd, os.path.join(work, f"llama-server-{os.path.basename(gguf)}.log"))
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: urllib.request.urlopen(url + "/health", timeout=2).status == 200,
             "llama-server", server.proc)
    return server, url


def bench(a, target, concurrency, num, out, vocab, label):
    cmd = [os.path.join(a.ribbon_build, "bench", "serving", "ribbon-bench"), "--target", target,
           "--num-requests", str(num), "--warmup", str(min(concurrency, 4)), "--concurrency",
           str(concurrency), "--input", "fixed:128", "--output", "fixed:64", "--vocab", str(vocab),
           "--seed", str(concurrency), "--label", label, "--out", out, "--timeout-s", "900"]
    subprocess.run(cmd, check=False)  # exit 1 = a token-count mismatch: kept in the JSON
    with open(out) as f:
        return json.load(f)


def requests_for(c, quick):
    return max(2, c) if quick else {1: 4, 8: 16}.get(c, c)


def serving_side_by_side(a, name, hf_dir, gguf, vocab, work):
    servers = {}
    try:
        servers["ribbon"] = start_ribbond(a, hf_dir, work)
        if a.peer_bin:
            servers["llama.cpp"] = start_llama_server(a, gguf, work)
        runs = {side: {c: [] for c in CONCURRENCY} for side in servers}
        for rep in range(a.repeats if not a.quick else 1):
            for c in CONCURRENCY:
                order = list(servers) if (rep + c) % 2 == 0 else list(reversed(list(servers)))
                for side in order:
                    label = f"{name} {side} c={c} #{rep + 1}"
                    log(f"serving {label}")
                    out = os.path.join(work, f"serving-{name}-{side}-c{c}-r{rep}.json")
                    runs[side][c].append(bench(a, servers[side][1], c, requests_for(c, a.quick), out,
                                               vocab, label))
    finally:
        for server, _ in servers.values():
            server.stop()
    rows = []
    for c in CONCURRENCY:
        row = {"model": name, "concurrency": c, "prompt": 128, "new_tokens": 64}
        for side in runs:
            rs = runs[side][c]
            row[side] = {
                "output_tok_s": median([r["output_tok_s"] for r in rs]),
                "output_tok_s_runs": [r["output_tok_s"] for r in rs],
                "request_throughput": median([r["request_throughput"] for r in rs]),
                "ttft_ms": {q: median([r["ttft_ms"][q] for r in rs]) for q in ("p50", "p90", "p99")},
                "itl_ms": {q: median([r["itl_ms"][q] for r in rs]) for q in ("p50", "p90", "p99")},
                "tpot_ms": {q: median([r["tpot_ms"][q] for r in rs]) for q in ("p50", "p90", "p99")},
                "e2e_ms": {q: median([r["e2e_ms"][q] for r in rs]) for q in ("p50", "p90", "p99")},
                "e2e_ms_mean": median([r["e2e_ms"]["mean"] for r in rs]),
                "failed": sum(r["failed"] for r in rs),
                "token_mismatches": sum(r["token_check"]["mismatches"] for r in rs),
                "requests_checked": sum(r["token_check"]["requests_checked"] for r in rs),
                "client_cpu_share": max(r["client"]["cpu_share_of_duration"] for r in rs),
            }
        if "llama.cpp" in row and row["llama.cpp"]["output_tok_s"]:
            row["output_ratio"] = row["ribbon"]["output_tok_s"] / row["llama.cpp"]["output_tok_s"]
        rows.append(row)
    return rows


def bench_overhead(a, work):
    """ribbon-bench against its trivial server: the floor under every latency it reports."""
    fake = os.path.join(a.ribbon_build, "bench", "serving", "ribbon-bench-fake-server")
    port_file = os.path.join(work, "fake-ports.json")
    server = Server([fake, "--port-file", port_file, "--max-seconds", "300"], os.path.join(work, "fake.log"))
    try:
        ports = wait_for(lambda: json.load(open(port_file)), "fake server", server.proc, 30)
        out = {}
        for kind, target in (("grpc", f"grpc://127.0.0.1:{ports['grpc_port']}"),
                             ("http", f"http://127.0.0.1:{ports['http_port']}")):
            out[kind] = {}
            for c in CONCURRENCY:
                r = bench(a, target, c, max(16, 2 * c), os.path.join(work, f"fake-{kind}-c{c}.json"), 512,
                          f"fake {kind} c={c}")
                out[kind][c] = {"e2e_ms_mean": r["e2e_ms"]["mean"], "ttft_ms_p50": r["ttft_ms"]["p50"],
                                "itl_ms_p50": r["itl_ms"]["p50"], "output_tok_s": r["output_tok_s"],
                                "client_cpu_ms_per_request": r["client"]["cpu_ms_per_request"],
                                "token_mismatches": r["token_check"]["mismatches"]}
        return out
    finally:
        server.stop()


def attach_overhead(serving_rows, overhead):
    """Per row: the trivial server's mean e2e as a share of the measured mean e2e (same
    transport, same concurrency)."""
    for row in serving_rows:
        for side, kind in (("ribbon", "grpc"), ("llama.cpp", "http")):
            if side in row and row[side]["e2e_ms_mean"]:
                floor = overhead[kind][row["concurrency"]]["e2e_ms_mean"]
                row[side]["bench_overhead_pct"] = 100 * floor / row[side]["e2e_ms_mean"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ribbon-build", required=True)
    p.add_argument("--peer-bin", default="", help="directory with llama-server and llama-batched-bench")
    p.add_argument("--model", action="append", required=True, help="NAME=HF_DIR=GGUF")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sections", default="engine,serving")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.quick:
        a.repeats = min(a.repeats, 1)
    sections = a.sections.split(",")
    work = tempfile.mkdtemp(prefix="ribbon-side-by-side-", dir=os.path.dirname(os.path.abspath(a.out)))
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": a.threads,
              "repeats": a.repeats, "quick": a.quick, "load_start": loadavg(), "work_dir": work}
    result["bandwidth_bytes_per_s"] = bandwidth = measure_bandwidth(a.threads)
    log(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    result["bench_overhead"] = overhead = bench_overhead(a, work)
    result["engine"], result["serving"] = [], []
    for spec in a.model:
        name, hf_dir, gguf = spec.split("=")
        weight_bytes = os.path.getsize(os.path.join(hf_dir, "model.safetensors"))
        with open(os.path.join(hf_dir, "config.json")) as f:
            vocab = json.load(f)["vocab_size"]
        if "engine" in sections:
            result["engine"] += engine_side_by_side(a, name, hf_dir, gguf, weight_bytes, bandwidth)
        if "serving" in sections:
            result["serving"] += serving_side_by_side(a, name, hf_dir, gguf, vocab, work)
    attach_overhead(result["serving"], overhead)
    result["load_end"] = loadavg()
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
