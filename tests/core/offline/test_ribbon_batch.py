"""Black-box tests of `ribbon-batch` on stories260K: the real executable, real files.

Checks greedy outputs against the llama2.c golden continuations, the text against the
`tokenizers` library, the report against the outputs, packed against padded batching, bad-line
errors, and the progress display with and without a terminal.
"""
import json
import os
import pty
import random
import subprocess

import pytest

SHARED = os.environ.get("RIBBON_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../../shared/data"))
MODEL = os.path.join(SHARED, "stories260k")
BUILD = os.environ.get("RIBBON_BUILD", "build")
BINARY = os.path.join(BUILD, "server", "batch", "ribbon-batch")


def golden_cases():
    with open(os.path.join(MODEL, "golden.json")) as f:
        return json.load(f)["cases"]


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def run_batch(tmp_path, rows, *flags, name="in", stderr=subprocess.PIPE):
    src, out, report = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.out.jsonl", tmp_path / f"{name}.report.json"
    write_jsonl(src, rows)
    proc = subprocess.run([BINARY, "--model", MODEL, "--in", str(src), "--out", str(out), "--report", str(report),
                           "--threads", "1", *flags], stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=240)
    return proc, out, report


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer
    return Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))


def test_greedy_outputs_match_golden_and_text_matches_tokenizers(tmp_path, tokenizer):
    cases = golden_cases()
    rows = []
    for i, case in enumerate(cases):
        run = case["continuations"][0]
        prompt = {"prompt": case["prompt"]} if i % 2 == 0 and case["prompt"] else {"prompt_ids": case["prompt_ids"]}
        rows.append({"id": case["name"], **prompt, "max_new_tokens": run["max_new_tokens"], "ignore_eos": True})
    rows.insert(3, "   ")  # a blank line is skipped
    proc, out, report_path = run_batch(tmp_path, rows)
    assert proc.returncode == 0, proc.stderr
    results = read_jsonl(out)
    assert [r["id"] for r in results] == [c["name"] for c in cases]
    for case, result in zip(cases, results):
        run = case["continuations"][0]
        assert result["token_ids"] == run["ids"][:run["n_generated"]], case["name"]
        assert result["finish_reason"] == "length"
        assert result["prompt_tokens"] == len(case["prompt_ids"])
        assert result["generated_tokens"] == len(result["token_ids"])
        prompt_text = tokenizer.decode(case["prompt_ids"], skip_special_tokens=True)
        full_text = tokenizer.decode(case["prompt_ids"] + result["token_ids"], skip_special_tokens=True)
        assert result["text"] == full_text[len(prompt_text):], case["name"]
    report = json.load(open(report_path))
    assert report["requests"] == len(cases) and report["failed"] == 0
    assert report["generated_tokens"] == sum(len(r["token_ids"]) for r in results)
    assert report["prompt_tokens"] == sum(len(c["prompt_ids"]) for c in cases)
    # Every output stopped on its length, so its last token was never fed back.
    assert report["required_tokens"] == report["prompt_tokens"] + report["generated_tokens"] - len(cases)
    assert report["computed_tokens"] == report["required_tokens"]
    assert report["ribbons"] >= report["lower_bound"] >= max(c["continuations"][0]["n_generated"] for c in cases)
    assert "ribbons used" in proc.stderr and "lower bound" in proc.stderr


def test_prefill_job_packs_near_the_lower_bound_and_padded_needs_more(tmp_path):
    rng = random.Random(5)
    rows = [{"id": i, "prompt_ids": [1] + [rng.randrange(3, 512) for _ in range(rng.randint(16, 300) - 1)],
             "max_new_tokens": 1} for i in range(48)]
    total = sum(len(r["prompt_ids"]) for r in rows)
    reports, outputs = {}, {}
    for mode in ("packed", "padded"):
        proc, out, report = run_batch(tmp_path, rows, "--batching", mode, "--max-ribbon-tokens", "1024", name=mode)
        assert proc.returncode == 0, proc.stderr
        reports[mode], outputs[mode] = json.load(open(report)), read_jsonl(out)
        assert f"{mode} batching" in proc.stderr
    packed, padded = reports["packed"], reports["padded"]
    assert packed["lower_bound"] == padded["lower_bound"] == -(-total // 1024)
    assert packed["computed_tokens"] == padded["computed_tokens"] == total
    assert packed["lower_bound"] <= packed["ribbons"] <= packed["lower_bound"] + 1
    assert padded["ribbons"] > packed["ribbons"]
    assert padded["padding_fraction"] > packed["padding_fraction"]
    assert [r["token_ids"] for r in outputs["packed"]] == [r["token_ids"] for r in outputs["padded"]]


def test_bad_lines_are_reported_with_line_and_field_and_nothing_runs(tmp_path):
    rows = [{"id": 1, "prompt_ids": [1, 2]},
            {"id": 2, "prompt_ids": [1, 2], "temperature": "warm"},
            "{not json",
            {"id": 4, "prompt_ids": [1, 9999]},
            {"id": 5, "prompt": "hi", "max_new_tokens": 0}]
    proc, out, _ = run_batch(tmp_path, rows)
    assert proc.returncode == 2
    assert "line 2: field 'temperature': must be a number" in proc.stderr
    assert "line 3: not valid JSON" in proc.stderr
    assert "line 4: field 'prompt_ids': item 1 = 9999 is not a token id in [0, 512)" in proc.stderr
    assert "line 5: field 'max_new_tokens': 0 is outside [1, 512]" in proc.stderr
    assert "4 bad input line(s); nothing was run" in proc.stderr
    assert not out.exists()


def test_usage_errors(tmp_path):
    proc = subprocess.run([BINARY, "--model", MODEL, "--in", "x.jsonl"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--out is required" in proc.stderr
    proc = subprocess.run([BINARY, "--model", MODEL, "--in", str(tmp_path / "missing.jsonl"), "--out",
                           str(tmp_path / "o.jsonl")], capture_output=True, text=True)
    assert proc.returncode == 3 and "cannot open --in" in proc.stderr
    proc = subprocess.run([BINARY, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--batching packed|padded" in proc.stdout


def long_job(n=40):
    return [{"id": i, "prompt_ids": [1, 403, 407, 261, 378], "max_new_tokens": 60, "ignore_eos": True} for i in range(n)]


def test_progress_bar_only_on_a_terminal(tmp_path):
    proc, _, _ = run_batch(tmp_path, long_job(), name="plain")
    assert proc.returncode == 0
    assert "\r" not in proc.stderr  # a log file gets whole lines, never a bar redrawn in place
    assert "ribbons used" in proc.stderr

    # On a terminal: the bar is redrawn in place. Read the pty while the job runs, so that a
    # full pty buffer can never block it.
    src, out = tmp_path / "tty.jsonl", tmp_path / "tty.out.jsonl"
    write_jsonl(src, long_job())
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([BINARY, "--model", MODEL, "--in", str(src), "--out", str(out), "--threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(primary)
    proc.wait(timeout=240)
    assert proc.returncode == 0
    text = seen.decode()
    assert "\r[" in text and "40/40 requests" in text and "done in" in text
    assert "ribbons used" in text
