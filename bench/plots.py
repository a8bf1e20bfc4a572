#!/usr/bin/env python3
"""PNG plots of `make bench`'s JSON (matplotlib, Agg; no display needed).

  plots.py --side-by-side side_by_side.json [--chain chain.jsonl] [--packing packing.log]
           --out-dir DIR

Writes, for what it is given:
  throughput_vs_concurrency.png  serving output tok/s vs concurrency, ribbond and its peers
  latency_percentiles.png        TTFT and ITL p50 / p90 / p99 per concurrency, every server
  engine.png                     engine prefill and decode tok/s per batch, with the decode
                                 memory-bandwidth roofline
  chain_ordering.png             offline ribbons per seed, input order vs longest chain first,
                                 against the lower bound
  packing.png                    packed vs padded tok/s per mix (parsed from packing_bench output)
"""
import argparse
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SIDES = [("ribbon", "tab:blue"), ("llama.cpp", "tab:orange"), ("llama.cpp Q4_1", "tab:green"),
         ("vLLM", "tab:red")]


def models_of(rows):
    return list(dict.fromkeys(r["model"] for r in rows))


def throughput(serving, out):
    models = models_of(serving)
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = [r for r in serving if r["model"] == model]
        for side, color in SIDES:
            pts = [(r["concurrency"], r[side]["output_tok_s"]) for r in rows if side in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", color=color, label=side)
        ax.set_xscale("log", base=2)
        ax.set_xticks([r["concurrency"] for r in rows], [str(r["concurrency"]) for r in rows])
        ax.set_title(f"{model}: 128 in / 64 out")
        ax.set_xlabel("concurrency (closed loop)")
        ax.set_ylabel("output tokens/s")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "throughput_vs_concurrency.png"), dpi=110)
    plt.close(fig)


def latency(serving, out):
    models = models_of(serving)
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
    for row_axes, model in zip(axes, models):
        rows = [r for r in serving if r["model"] == model]
        for ax, metric, title in ((row_axes[0], "ttft_ms", "TTFT"), (row_axes[1], "itl_ms", "ITL")):
            sides = [(side, color) for side, color in SIDES if any(side in r for r in rows)]
            width = 0.8 / (3 * len(sides))
            for s, (side, color) in enumerate(sides):
                for q, (quant, alpha) in enumerate((("p50", 1.0), ("p90", 0.65), ("p99", 0.35))):
                    xs = [i + (s * 3 + q - (3 * len(sides) - 1) / 2) * width for i in range(len(rows))]
                    ys = [r[side][metric][quant] if side in r else 0 for r in rows]
                    ax.bar(xs, ys, width, color=color, alpha=alpha, label=f"{side} {quant}")
            ax.set_xticks(range(len(rows)), [f"c={r['concurrency']}" for r in rows])
            ax.set_yscale("log")
            ax.set_ylabel("ms")
            ax.set_title(f"{model}: {title} percentiles")
            ax.grid(alpha=0.3, axis="y")
        row_axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency_percentiles.png"), dpi=110)
    plt.close(fig)


def engine(rows, out):
    models = models_of(rows)
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
    for row_axes, model in zip(axes, models):
        rs = [r for r in rows if r["model"] == model]
        batches = [r["batch"] for r in rs]
        for ax, metric in zip(row_axes, ("prefill", "decode")):
            for side, color in SIDES:
                ys = [r.get(f"{side}_{metric}_tok_s") for r in rs]
                if any(ys):
                    ax.plot(batches, [y or 0 for y in ys], marker="o", color=color, label=side)
            if metric == "decode":
                ax.plot(batches, [r["roofline_decode_tok_s"] for r in rs], ls="--", color="gray",
                        label="bandwidth roofline")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(batches, [str(b) for b in batches])
            ax.set_xlabel("batch")
            ax.set_ylabel("tokens/s")
            ax.set_title(f"{model}: engine {metric}, prompt 128")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "engine.png"), dpi=110)
    plt.close(fig)


def chain(path, out):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    seeds = list(dict.fromkeys(r["seed"] for r in rows))
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.27
    for i, (ordering, color) in enumerate((("input_order", "tab:gray"), ("longest_chain_first", "tab:blue"))):
        ys = [next(r["ribbons"] for r in rows if r["seed"] == s and r["ordering"] == ordering) for s in seeds]
        ax.bar([k + (i - 1) * width for k in range(len(seeds))], ys, width, color=color, label=ordering)
    bound = [next(r["lower_bound"] for r in rows if r["seed"] == s) for s in seeds]
    ax.bar([k + width for k in range(len(seeds))], bound, width, color="tab:green", label="lower bound")
    ax.set_xticks(range(len(seeds)), [f"seed {s}" for s in seeds])
    ax.set_ylabel("ribbons")
    r0 = rows[0]
    ax.set_title(f"offline: {r0['prompts']} prompts, {r0['long_chains']} long decode chains, "
                 f"{r0['capacity']}-token ribbons", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "chain_ordering.png"), dpi=110)
    plt.close(fig)


def packing(path, out):
    """Best tok/s per mode per mix from packing_bench's printed runs."""
    mix, best = None, {}
    run = re.compile(r"^\s+(packed|padded)\s+align (\d+)\s+#\d+\s+([\d.]+) tok/s")
    for line in open(path):
        if line and not line.startswith(" ") and ":" in line and "prompts" in line:
            mix = line.split(":")[0].strip()
        m = run.match(line)
        if m and mix and not mix.startswith("align/"):
            key = (mix, m.group(1))
            best[key] = max(best.get(key, 0), float(m.group(3)))
    mixes = list(dict.fromkeys(k[0] for k in best))
    if not mixes:
        return
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(mixes)), 4))
    for i, (mode, color) in enumerate((("padded", "tab:gray"), ("packed", "tab:blue"))):
        ax.bar([k + (i - 0.5) * 0.4 for k in range(len(mixes))], [best.get((m, mode), 0) for m in mixes],
               0.4, color=color, label=mode)
    ax.set_xticks(range(len(mixes)), mixes, fontsize=7, rotation=10)
    ax.set_ylabel("real tokens/s (best run)")
    ax.set_title("offline batches: packed vs padded")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "packing.png"), dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side-by-side")
    p.add_argument("--chain")
    p.add_argument("--packing")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    if a.side_by_side and os.path.exists(a.side_by_side):
        d = json.load(open(a.side_by_side))
        if d.get("serving"):
            throughput(d["serving"], a.out_dir)
            latency(d["serving"], a.out_dir)
        if d.get("engine"):
            engine(d["engine"], a.out_dir)
    if a.chain and os.path.exists(a.chain):
        chain(a.chain, a.out_dir)
    if a.packing and os.path.exists(a.packing):
        packing(a.packing, a.out_dir)
    print("plots:", ", ".join(sorted(f for f in os.listdir(a.out_dir) if f.endswith(".png"))))


if __name__ == "__main__":
    main()
