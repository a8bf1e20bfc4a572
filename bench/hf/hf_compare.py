#!/usr/bin/env python3
"""CPU prefill and decode tokens/s: ribbon (bench/cpu_throughput) beside Hugging Face
transformers, on the same inputs, in the same run, with the same thread count.

  hf_compare.py --cpu-throughput BUILD/bench/cpu_throughput --model NAME=DIR [--model NAME=DIR ...]
                [--threads 2] [--batches 1,8,32] [--prompt 128] [--decode 32] [--repeats 2] [--json OUT]

For each model and batch size B:
  ribbon: cpu_throughput submits B requests of `prompt` random tokens; its first engine step
          prefills them in one ribbon (prefill tok/s = B * prompt / step time), then `decode`
          steps add one token per sequence (decode tok/s = B * decode / time). --threads N.
  HF:     LlamaForCausalLM (float32, torch.set_num_threads(N)); prefill = one forward over
          [B, prompt] with use_cache=True; decode = `decode` single-token forwards over the KV
          cache, feeding back the argmax. The prompt token ids are the ones cpu_throughput draws
          (std::mt19937 seeded with B, id = next() % vocab), reproduced here bit for bit.
Each side runs `repeats` times, alternating, and each cell keeps its fastest run (other jobs on a
shared machine only ever slow a run down). Prints one table per model with the ratio ribbon / HF.
"""
import argparse
import json
import os
import subprocess
import sys
import time


class Mt19937:
    """std::mt19937 (32-bit Mersenne Twister), seeded as std::mt19937(seed)."""

    def __init__(self, seed):
        self.mt = [0] * 624
        self.mt[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            self.mt[i] = (1812433253 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 30)) + i) & 0xFFFFFFFF
        self.index = 624

    def _twist(self):
        for i in range(624):
            y = (self.mt[i] & 0x80000000) | (self.mt[(i + 1) % 624] & 0x7FFFFFFF)
            self.mt[i] = self.mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        self.index = 0

    def __call__(self):
        if self.index >= 624:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y & 0xFFFFFFFF


def cpu_throughput_prompts(batch, prompt_len, vocab):
    """The prompts bench/cpu_throughput.cpp submits for batch size `batch`."""
    rng = Mt19937(batch)
    return [[rng() % vocab for _ in range(prompt_len)] for _ in range(batch)]


def run_ribbon(binary, model_dir, args):
    cmd = [binary, model_dir, "--batches", ",".join(map(str, args.batches)), "--prompt", str(args.prompt),
           "--decode", str(args.decode), "--threads", str(args.threads), "--dtype", "float32"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["batch"]: r for r in rows}


def run_hf(model_dir, args):
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    results = {}
    with torch.inference_mode():
        model(torch.tensor([[1, 2, 3, 4]]), use_cache=True, logits_to_keep=1)  # warm-up: thread pool, first allocations
        for batch in args.batches:
            ids = torch.tensor(cpu_throughput_prompts(batch, args.prompt, vocab), dtype=torch.long)
            t0 = time.perf_counter()
            # logits_to_keep=1: only the last row's logits, as ribbon computes only sampled rows.
            out = model(ids, use_cache=True, logits_to_keep=1)
            next_ids = out.logits[:, -1, :].argmax(-1, keepdim=True)
            t1 = time.perf_counter()
            cache = out.cache
            for _ in range(args.decode):
                out = model(next_ids, cache=cache, use_cache=True, logits_to_keep=1)
                cache = out.cache
                next_ids = out.logits[:, -1, :].argmax(-1, keepdim=True)
            t2 = time.perf_counter()
            results[batch] = {"prefill_tok_s": batch * args.prompt / (t1 - t0),
                              "decode_tok_s": batch * args.decode / (t2 - t1)}
    attn = getattr(model.config, "_attn_implementation", "?")
    return results, f"transformers, float32, attn_implementation={attn}"


def keep_fastest(best, run):
    for batch, cells in run.items():
        kept = best.setdefault(batch, dict(cells))
        for key in ("prefill_tok_s", "decode_tok_s"):
            kept[key] = max(kept[key], cells[key])


def print_table(name, ribbon, hf, hf_desc, args):
    print(f"\n{name}: prompt {args.prompt} tokens, {args.decode} decode steps, {args.threads} threads, "
          f"best of {args.repeats} ({hf_desc})")
    print(f"  {'batch':>5} | {'prefill tok/s':>26} | {'decode tok/s':>26}")
    print(f"  {'':>5} | {'ribbon':>8} {'HF':>8} {'ratio':>8} | {'ribbon':>8} {'HF':>8} {'ratio':>8}")
    for b in args.batches:
        r, h = ribbon[b], hf[b]
        print(f"  {b:>5} | {r['prefill_tok_s']:>8.1f} {h['prefill_tok_s']:>8.1f} "
              f"{r['prefill_tok_s'] / h['prefill_tok_s']:>8.2f} | {r['decode_tok_s']:>8.1f} "
              f"{h['decode_tok_s']:>8.1f} {r['decode_tok_s'] / h['decode_tok_s']:>8.2f}")
    sys.stdout.flush()


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu-throughput", required=True, help="path of the built bench/cpu_throughput")
    p.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--decode", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2, help="runs per side; the fastest counts")
    p.add_argument("--json", help="also write every figure here")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no load progress bars in the figures
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    everything = {}
    for spec in args.model:
        name, _, model_dir = spec.partition("=")
        load_before = load_average()
        ribbon, hf = {}, {}
        for _ in range(args.repeats):
            keep_fastest(ribbon, run_ribbon(args.cpu_throughput, model_dir, args))
            hf_run, hf_desc = run_hf(model_dir, args)
            keep_fastest(hf, hf_run)
        print_table(name, ribbon, hf, hf_desc, args)
        print(f"  load average {load_before:.2f} -> {load_average():.2f}")
        everything[name] = {"ribbon": ribbon, "hf": hf, "hf_desc": hf_desc}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
