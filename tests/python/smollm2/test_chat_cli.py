"""`make serve` then `ribbon chat "What is the capital of France?"`: scripts/serve.sh with no model
(as the Makefile runs it: the default model, SmolLM2-135M-Instruct, with ribbond's default
configuration, start-up memory probe included) on free ports, and the CLI prints an answer
containing "Paris", streamed, with time to first token and tokens/s under --verbose."""
import json
import os
import re
import signal
import subprocess
import sys

import smollm2_model as sm

sys.path.insert(0, str(sm.SOURCE / "tests" / "python" / "server"))
import ribbond_harness as h  # noqa: E402
from ribbond_harness import pb  # noqa: E402


def test_serve_then_chat_answers_paris(tmp_path):
    model_dir = sm.converted_model()
    port_file = tmp_path / "ports.json"
    env = dict(os.environ, RIBBON_BUILD=str(sm.BUILD))
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([str(sm.SOURCE / "scripts" / "serve.sh"), "", "--listen",
                                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--port-file",
                                 str(port_file)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        h.wait_until(lambda: proc.poll() is not None or port_file.exists(), 120,
                     what="serve.sh listening")
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        ports = json.loads(port_file.read_text())
        daemon = h.RibbondClient(ports["grpc_port"], ports["http_port"])
        daemon.wait_ready(600)  # the memory probe runs forward passes of the real model first
        model = daemon.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
        assert model.model_path == str(model_dir) and model.vocab_size == 49152
        daemon.close_channels()

        done = subprocess.run([h.RIBBON_CLI, "--address", daemon.address, "chat",
                               "What is the capital of France?", "--verbose"],
                              capture_output=True, timeout=120 * h.TIME_SCALE)
        assert done.returncode == 0, done.stderr
        answer, report = done.stdout.decode(), done.stderr.decode()
        assert "Paris" in answer, answer
        match = re.search(r"time to first token ([0-9.]+) s, (\d+) tokens in ([0-9.]+) s, "
                          r"([0-9.]+) tokens/s", report)
        assert match, report
        ttft, tokens, total, rate = (float(match.group(i)) for i in range(1, 5))
        assert 0 < ttft <= total and tokens >= 5 and rate > 0, report
        print(f"ribbon chat: {answer.strip()!r}; {report.strip()}")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60 * h.TIME_SCALE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
