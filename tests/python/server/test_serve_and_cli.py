"""`make serve MODEL=demo` on a fresh clone starts the daemon on the demo model and answers a
request (run here as scripts/serve.sh with a temporary port, as the Makefile runs it; the default
model is tested in tests/python/smollm2/), and the `ribbon` CLI streams text, reports errors with
meaningful exit codes, and checks health."""
import json
import os
import signal
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2

import ribbond_harness as h
from ribbond_harness import pb

CASES = h.load_golden()
DEMO = os.path.join(h.BUILD, "models", "demo")


def test_serve_script_runs_the_demo_model_and_answers(tmp_path):
    assert os.path.exists(os.path.join(DEMO, "config.json")), f"{DEMO} missing: scripts/setup.sh makes it"
    port_file = tmp_path / "ports.json"
    env = dict(os.environ, RIBBON_BUILD=h.BUILD)
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([os.path.join(h.SOURCE, "scripts", "serve.sh"), "demo", "--listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0", "--port-file", str(port_file)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        h.wait_until(lambda: proc.poll() is not None or port_file.exists(), 120, what="serve.sh listening")
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        ports = json.loads(port_file.read_text())
        daemon = h.RibbondClient(ports["grpc_port"], ports["http_port"])
        # The ports open before the model loads and the memory probe runs (seconds): alive, not ready.
        assert daemon.health("") == health_pb2.HealthCheckResponse.SERVING
        assert daemon.health() == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as error:
            daemon.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE and "loading" in error.value.details()
        daemon.wait_ready(60)
        model = daemon.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
        assert model.model_path == DEMO
        info = daemon.stub().GetServerInfo(pb.GetServerInfoRequest(), timeout=10)
        assert info.probe_seconds > 0 and info.activation_bytes_per_token > 0  # capacity was measured
        assert info.kv_blocks_total > 0 and info.max_ribbon_tokens > 0
        result = daemon.stub().Complete(pb.GenerateRequest(text=b"Once upon a time", max_new_tokens=16), timeout=60)
        assert len(result.token_ids) == 16 and result.finish_reason == pb.FINISH_REASON_LENGTH
        daemon.close_channels()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def run_cli(*args, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([h.RIBBON_CLI, *args], capture_output=True, timeout=60, env=full_env)


def test_cli_generate_tokenize_info_health_and_exit_codes(start_ribbond):
    daemon = start_ribbond()
    address = ["--address", daemon.address]
    case = CASES[0]
    want_ids, want_text, _ = h.golden_expectation(case, 64, True)

    done = run_cli(*address, "generate", case["prompt"], "--max-new-tokens", "64", "--stop-token-id", "1",
                   "--stop-token-id", "2", "--show-ids", "--stats")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.startswith(want_text)
    assert out.strip().endswith(str(want_ids))
    assert b"finish=FINISH_REASON_LENGTH" in done.stderr

    complete = run_cli("generate", "--ids", ",".join(map(str, case["prompt_ids"])), "--max-new-tokens", "64",
                       "--stop-token-id", "2", "--stop-token-id", "1", "--complete",
                       env={"RIBBON_ADDRESS": daemon.address})
    assert complete.returncode == 0 and complete.stdout.decode().startswith(want_text)

    tokens = run_cli(*address, "tokenize", case["prompt"])
    assert tokens.returncode == 0 and tokens.stdout.decode().split() == [str(i) for i in case["prompt_ids"]]
    info = run_cli(*address, "info")
    assert info.returncode == 0 and b"LlamaForCausalLM" in info.stdout and b"512 tokens" in info.stdout
    health = run_cli(*address, "health")
    assert (health.returncode, health.stdout.strip()) == (0, b"SERVING")

    bad = run_cli(*address, "generate", "x", "--temperature", "-1")
    assert bad.returncode == 1 and b"INVALID_ARGUMENT: temperature = -1" in bad.stderr
    usage = run_cli(*address, "generate")
    assert usage.returncode == 2 and b"Usage:" in usage.stderr
    daemon.stop()
    unreachable = run_cli(*address, "health", "--timeout", "2")
    assert unreachable.returncode == 3, unreachable.stderr
