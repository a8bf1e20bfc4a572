"""Every PromQL expression of the dashboard and the alerts is evaluated by a real Prometheus.

A Prometheus (Debian's, RIBBON_PROMETHEUS or `prometheus` on PATH) runs on a loopback port with
temporary storage. Its only scrape target is a local HTTP server serving a scrape of the full
ribbon metric catalogue (the metrics_sample_scrape tool, RIBBON_METRICS_SAMPLE_SCRAPE), so the
test shows both that each expression is valid PromQL and that the dashboard's expressions find
the series ribbond exports. Without the tool the target serves nothing and only validity and
the controls are checked. Bounded in time; the servers are always stopped.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import promql_exprs  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EXPRS = promql_exprs.collect(ROOT)
STARTUP_TIMEOUT_S = 30
QUERY_TIMEOUT_S = 10


def _sample_scrape_tool() -> Path | None:
    configured = os.environ.get("RIBBON_METRICS_SAMPLE_SCRAPE")
    if configured:
        return Path(configured)  # set by CMake: it must exist
    build = os.environ.get("RIBBON_BUILD")
    candidate = Path(build or ROOT / "build") / "tests/core/metrics/metrics_sample_scrape"
    return candidate if candidate.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ScrapeServer:
    """Serves a fixed exposition text on http://127.0.0.1:<port>/metrics."""

    def __init__(self, body: bytes):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Prometheus:
    def __init__(self, workdir: Path, target_port: int):
        binary = os.environ.get("RIBBON_PROMETHEUS") or shutil.which("prometheus")
        assert binary, "prometheus not found (Debian package 'prometheus')"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ribbon\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
        self.port = _free_port()
        self.log_path = workdir / "prometheus.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"prometheus exited: {self.log_path.read_text()}"
            try:
                with urllib.request.urlopen(self.url("/-/ready"), timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready: {self.log_path.read_text()}")

    def query(self, expr: str) -> dict:
        """The parsed /api/v1/query answer; errors come back as {"status": "error", ...}."""
        url = self.url("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT_S) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:  # 400 / 422 carry a JSON error body
            return json.load(error)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def sample_scrape() -> str | None:
    tool = _sample_scrape_tool()
    if tool is None:
        return None
    return subprocess.run([str(tool)], check=True, capture_output=True, text=True,
                          timeout=30).stdout


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, sample_scrape):
    target = _ScrapeServer((sample_scrape or "").encode())
    server = _Prometheus(tmp_path_factory.mktemp("prometheus"), target.port)
    try:
        server.wait_ready()
        if sample_scrape:
            # rate() over the dashboard's 1m window needs two samples of the target.
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while time.monotonic() < deadline:
                answer = server.query("count_over_time(ribbon_steps_total[1m]) >= 2")
                if answer["status"] == "success" and answer["data"]["result"]:
                    break
                time.sleep(0.3)
            else:
                raise TimeoutError(f"target never scraped twice: {server.log_path.read_text()}")
        yield server
    finally:
        server.close()
        target.close()


def test_both_files_have_expressions():
    sources = {e.source.split(":")[0] for e in EXPRS}
    assert sources == {"grafana", "alerts"}
    assert len([e for e in EXPRS if e.source.startswith("grafana")]) >= 20
    assert len([e for e in EXPRS if e.source.startswith("alerts")]) >= 5


@pytest.mark.parametrize("item", EXPRS, ids=[e.source for e in EXPRS])
def test_expression_evaluates_without_error(prometheus, item):
    answer = prometheus.query(item.expr)
    assert answer["status"] == "success", f"{item.source}: {item.expr}\n{answer}"


def test_control_a_syntax_error_is_reported(prometheus):
    answer = prometheus.query("sum(rate(ribbon_steps_total[1m])")
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"


def test_control_absent_series_give_an_empty_result(prometheus):
    answer = prometheus.query('rate(ribbon_no_such_metric_total[1m])')
    assert answer["status"] == "success"
    assert answer["data"]["result"] == []


def test_unknown_grafana_variable_is_refused():
    with pytest.raises(ValueError):
        promql_exprs.substitute('rate(x{pod="$pod"}[1m])')


def test_every_referenced_metric_is_in_the_catalogue(sample_scrape):
    if sample_scrape is None:
        pytest.skip("metrics_sample_scrape not built")
    exported = {line.split("{")[0].split(" ")[0]
                for line in sample_scrape.splitlines() if line and not line.startswith("#")}
    for item in EXPRS:
        missing = promql_exprs.referenced_metrics(item.expr) - exported
        assert not missing, f"{item.source} reads series ribbond does not export: {missing}"


@pytest.mark.parametrize("item", [e for e in EXPRS if e.source.startswith("grafana")],
                         ids=[e.source for e in EXPRS if e.source.startswith("grafana")])
def test_dashboard_expression_finds_the_exported_series(prometheus, sample_scrape, item):
    if sample_scrape is None:
        pytest.skip("metrics_sample_scrape not built")
    answer = prometheus.query(item.expr)
    assert answer["status"] == "success"
    assert answer["data"]["result"], f"{item.source} returned nothing: {item.expr}"
