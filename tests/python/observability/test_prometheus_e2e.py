"""ribbond scraped by a real Prometheus (Debian's `prometheus`, loopback, 1 s scrape interval):
after concurrent streams, ribbon_generation_tokens_total equals the tokens the clients received,
ribbon_prompt_tokens_total the prompt tokens sent, histogram counts equal the number of requests,
and the running and waiting gauges return to 0. `promtool check metrics` passes on a scrape taken
under load, and every PromQL expression of the Grafana dashboard and the alert rules evaluates
against this Prometheus without error."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "server"))
sys.path.insert(0, str(HERE.parent / "metrics"))
import ribbond_harness as h  # noqa: E402
import promql_exprs  # noqa: E402

ROOT = HERE.parents[2]
STREAMS = 24


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir, target):
        self.port = free_port()
        config = Path(workdir) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {ROOT / 'deploy/prometheus/alerts.yaml'}\n"
            "scrape_configs:\n  - job_name: ribbon\n    static_configs:\n"
            f"      - targets: ['{target}']\n")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=open(Path(workdir) / "prometheus.log", "wb"))

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def value(self, expr):
        result = self.api("query", query=expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, expr, want, timeout=30):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            try:
                got = self.value(expr)
            except OSError:
                got = None
            if got == want:
                return got
            time.sleep(0.25)
        raise AssertionError(f"{expr} = {got}, want {want}")

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def stack(tmp_path):
    workdir = tmp_path / "ribbond"
    workdir.mkdir()
    daemon = h.Ribbond(str(workdir), args=("--debug.step_delay_ms", "2"))
    prom = None
    try:
        daemon.start()
        prom = Prometheus(tmp_path, f"127.0.0.1:{daemon.http_port}")
        prom.wait_for('up{job="ribbon"}', 1.0)
        yield daemon, prom
    finally:
        if prom:
            prom.stop()
        daemon.kill()


def scrape(daemon):
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}/metrics", timeout=10) as r:
        return r.read()


def test_counters_histograms_and_gauges_match_what_clients_saw(stack, tmp_path):
    daemon, prom = stack
    cases = h.load_golden()
    stub = daemon.stub()

    def run(i):
        case = cases[i % len(cases)]
        request = h.golden_request(case, 64, with_stop_ids=bool(i % 2), client_request_id=f"p{i}")
        ids, _, _ = h.collect_stream(stub.Generate(request, timeout=120))
        return len(case["prompt_ids"]), len(ids)

    with ThreadPoolExecutor(max_workers=STREAMS) as pool:
        futures = [pool.submit(run, i) for i in range(STREAMS)]
        time.sleep(0.3)
        under_load = tmp_path / "scrape.txt"
        under_load.write_bytes(scrape(daemon))  # taken while streams are running
        results = [f.result() for f in futures]
    sent = sum(p for p, _ in results)
    received = sum(g for _, g in results)

    check = subprocess.run(["promtool", "check", "metrics"], stdin=open(under_load, "rb"),
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert b"ribbon_requests_running" in under_load.read_bytes()

    prom.wait_for("ribbon_generation_tokens_total", float(received))
    prom.wait_for("ribbon_prompt_tokens_total", float(sent))
    prom.wait_for("ribbon_e2e_request_latency_seconds_count", float(STREAMS))
    prom.wait_for("ribbon_request_generation_tokens_count", float(STREAMS))
    prom.wait_for("ribbon_time_to_first_token_seconds_count", float(STREAMS))
    prom.wait_for('sum(ribbon_requests_total{code="OK"})', float(STREAMS))
    prom.wait_for("ribbon_requests_running", 0.0)
    prom.wait_for("ribbon_requests_waiting", 0.0)

    # Every dashboard and alert expression evaluates against the live data without error.
    exprs = promql_exprs.collect(ROOT)
    assert len(exprs) >= 10
    for e in exprs:
        answer = prom.api("query", query=e.expr)
        assert answer["status"] == "success", f"{e.source}: {e.expr}: {answer}"
    rules = prom.api("rules")
    assert rules["status"] == "success"
    groups = rules["data"]["groups"]
    assert groups and all(r["health"] != "err" for g in groups for r in g["rules"]), groups
