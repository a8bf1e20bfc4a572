#!/usr/bin/env python3
"""Markdown tables of a side_by_side.py JSON, for docs/perf/peers-*.md (printed, not written).

  report.py side_by_side.json

Engine: prefill and decode tok/s per batch, each side, the ratio ribbon / llama.cpp (F32), and
each decode figure as a share of that side's bandwidth roofline. Serving: output tok/s, TTFT
p50 / p90 and ITL p50 per concurrency, each server, ribbon / the best peer on the same weights,
token-count checks and ribbon-bench's own floor (bench_overhead_pct, and bench_overhead_paced_pct
where the server's pacing was replayed)."""
import json
import sys


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def sides_of(rows, prefix=""):
    seen = []
    for r in rows:
        for side in ("ribbon", "llama.cpp", "llama.cpp Q4_1", "vLLM"):
            if (f"{side}_decode_tok_s" in r if prefix == "engine" else side in r) and side not in seen:
                seen.append(side)
    return seen


def engine_tables(rows):
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == model]
        sides = sides_of(rs, "engine")
        out.append(f"\n**{model} engine** (prompt 128, {rs[0]['decode_steps']} decode steps; tok/s, "
                   f"median of {len(rs[0]['ribbon_decode_runs'])} runs; % = share of the side's roofline)\n")
        out.append("| batch | " + " | ".join(f"{s} prefill" for s in sides) + " | prefill ratio | "
                   + " | ".join(f"{s} decode" for s in sides) + " | decode ratio |")
        out.append("|" + "---|" * (2 * len(sides) + 3))
        for r in rs:
            pre = [fmt(r.get(f"{s}_prefill_tok_s")) for s in sides]
            dec = [f"{fmt(r.get(f'{s}_decode_tok_s'))} ({fmt(r.get(f'{s}_decode_pct_roofline'), 1)} %)"
                   for s in sides]
            out.append(f"| {r['batch']} | " + " | ".join(pre) + f" | {fmt(r.get('prefill_ratio'), 2)}x | "
                       + " | ".join(dec) + f" | {fmt(r.get('decode_ratio'), 2)}x |")
    return out


def serving_tables(rows):
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == model]
        sides = sides_of(rs)
        out.append(f"\n**{model} serving** (128 in / 64 out, closed loop; output tok/s; TTFT p50 / p90 "
                   "and ITL p50 in ms; ratio = ribbon / best peer on the same F32 weights)\n")
        out.append("| concurrency | " + " | ".join(f"{s} tok/s" for s in sides) + " | ratio | "
                   + " | ".join(f"{s} TTFT p50 / p90" for s in sides) + " | "
                   + " | ".join(f"{s} ITL p50" for s in sides) + " |")
        out.append("|" + "---|" * (3 * len(sides) + 2))
        for r in rs:
            tok = [fmt(r[s]["output_tok_s"], 1) if s in r else "-" for s in sides]
            ttft = [f"{fmt(r[s]['ttft_ms']['p50'])} / {fmt(r[s]['ttft_ms']['p90'])}" if s in r else "-"
                    for s in sides]
            itl = [fmt(r[s]["itl_ms"]["p50"]) if s in r else "-" for s in sides]
            ratio = f"{fmt(r.get('output_ratio_best_peer'), 2)}x vs {r.get('best_peer', '-')}"
            out.append(f"| {r['concurrency']} | " + " | ".join(tok) + f" | {ratio} | " + " | ".join(ttft)
                       + " | " + " | ".join(itl) + " |")
        checks = []
        for s in sides:
            failed = sum(r[s]["failed"] for r in rs if s in r)
            bad = sum(r[s]["token_mismatches"] for r in rs if s in r)
            checked = sum(r[s]["requests_checked"] for r in rs if s in r)
            floor = max((r[s].get("bench_overhead_pct", 0) for r in rs if s in r), default=0)
            paced = [(r["concurrency"], r[s]["bench_overhead_paced_pct"]) for r in rs
                     if s in r and "bench_overhead_paced_pct" in r[s]]
            checks.append(f"{s}: {checked} requests checked, {bad} token-count mismatches, {failed} failed, "
                          f"bench floor at most {floor:.2f} % of mean e2e"
                          + ("" if not paced else " back to back; paced as this server ("
                             + ", ".join(f"c={c} {p:.2f} %" for c, p in paced) + ")"))
        out.append("\n" + "; ".join(checks) + ".")
    return out


def main():
    with open(sys.argv[1]) as f:
        d = json.load(f)
    print(f"date {d['date']}, threads {d['threads']}, repeats {d['repeats']}, quick {d['quick']}, "
          f"KV cache {d.get('kv_cache_dtype', 'float32 (ribbon), float16 (llama.cpp)')}, "
          f"load {d['load_start']} -> {d.get('load_end')}, "
          + (f"read bandwidth {d['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s (bench/read_bandwidth)"
             if d.get("bandwidth_kind") == "read" else
             f"copy bandwidth {d['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s (read + write)"))
    lines = engine_tables(d.get("engine", [])) + serving_tables(d.get("serving", []))
    over = d.get("bench_overhead", {})
    if over:
        lines.append("\n**ribbon-bench against its trivial server** (mean e2e ms, 128 in / 64 out)\n")
        lines.append("| transport | " + " | ".join(f"c={c}" for c in over["grpc"]) + " |")
        lines.append("|---|" + "---|" * len(over["grpc"]))
        for kind, by_c in over.items():
            lines.append(f"| {kind} | " + " | ".join(fmt(v["e2e_ms_mean"], 2) for v in by_c.values()) + " |")
    for note in d.get("notes", []):
        lines.append(f"\nNote: {note}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
