"""Black-box harness for ribbond: starts the real daemon on loopback (free ports chosen by the
daemon itself and read back from --port-file), talks to it with grpcio, reads its JSON-lines
log, and always stops it (SIGTERM, then SIGKILL) even when a test fails.

The Python stubs are generated at import time from proto/ribbon/v1/generation.proto into a
temporary directory with grpc_tools.protoc (nothing is written into the source tree).
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_tools import protoc

SOURCE = os.environ.get("RIBBON_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
BUILD = os.environ.get("RIBBON_BUILD", os.path.join(SOURCE, "build"))
SHARED_DATA = os.environ.get("RIBBON_SHARED_DATA", os.path.join(SOURCE, "../shared/data"))
STORIES = os.path.join(SHARED_DATA, "stories260k")
RIBBOND = os.path.join(BUILD, "server", "ribbond")
RIBBON_CLI = os.path.join(BUILD, "server", "ribbon")
READINESS_SERVICE = "ribbon.v1.Generation"


def _generate_stubs():
    out = tempfile.mkdtemp(prefix="ribbon_stubs_")
    atexit.register(shutil.rmtree, out, True)
    proto_dir = os.path.join(SOURCE, "proto")
    rc = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}",
                      os.path.join(proto_dir, "ribbon/v1/generation.proto")])
    if rc != 0:
        raise RuntimeError("grpc_tools.protoc failed on generation.proto")
    sys.path.insert(0, out)


_generate_stubs()
from ribbon.v1 import generation_pb2 as pb  # noqa: E402
from ribbon.v1 import generation_pb2_grpc as pb_grpc  # noqa: E402


def load_golden():
    with open(os.path.join(STORIES, "golden.json")) as f:
        return json.load(f)["cases"]


def golden_request(case, max_new_tokens, with_stop_ids, **extra):
    """A request for one golden case: EOS ignored (expect `ids`) or stop ids {1, 2}."""
    request = pb.GenerateRequest(token_ids=pb.TokenIds(ids=case["prompt_ids"]),
                                 max_new_tokens=max_new_tokens, **extra)
    if with_stop_ids:
        request.stop_token_ids.extend([1, 2])
    else:
        request.ignore_eos = True
    return request


def golden_expectation(case, max_new_tokens, with_stop_ids):
    """(ids, text or None, finish_reason) that the golden case demands."""
    cont = next(c for c in case["continuations"] if c["max_new_tokens"] == max_new_tokens)
    if not with_stop_ids:
        return cont["ids"], None, pb.FINISH_REASON_LENGTH
    ids = cont["ids_until_stop"]
    reason = pb.FINISH_REASON_LENGTH if len(ids) == max_new_tokens else pb.FINISH_REASON_STOP_TOKEN
    return ids, cont["text_until_stop"], reason


def collect_stream(stream):
    """Reads a Generate stream to its end: (ids, text bytes, messages)."""
    messages = list(stream)
    ids = [i for m in messages for i in m.token_ids]
    text = b"".join(m.text for m in messages)
    return ids, text, messages


# Waits stretch by this factor: `make test-asan` sets 4, since an instrumented ribbond (its
# start-up memory probe above all) runs several times slower.
TIME_SCALE = float(os.environ.get("RIBBON_TEST_TIME_SCALE", "1"))


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class RibbondClient:
    """grpcio access to a running ribbond at 127.0.0.1:grpc_port."""

    def __init__(self, grpc_port=None, http_port=None, auth_token=None, root_cert=None):
        self.grpc_port, self.http_port, self.auth_token = grpc_port, http_port, auth_token
        self.root_cert = root_cert  # PEM bytes: talk TLS, trusting this certificate
        self._channels = []

    def check_alive(self):
        """Raises when the daemon is known to be gone (overridden where the process is ours)."""

    @property
    def address(self):
        return f"127.0.0.1:{self.grpc_port}"

    def channel(self, **options):
        opts = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        opts += list(options.items())
        if self.root_cert:
            credentials = grpc.ssl_channel_credentials(root_certificates=self.root_cert)
            channel = grpc.secure_channel(self.address, credentials, options=opts)
        else:
            channel = grpc.insecure_channel(self.address, options=opts)
        self._channels.append(channel)
        return channel

    def close_channels(self):
        for channel in self._channels:
            channel.close()
        self._channels = []

    def stub(self, channel=None):
        return pb_grpc.GenerationStub(channel or self.channel())

    def metadata(self):
        return [("authorization", f"Bearer {self.auth_token}")] if self.auth_token else None

    def health(self, service=READINESS_SERVICE, timeout=5):
        stub = health_pb2_grpc.HealthStub(self.channel())
        return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status

    def wait_ready(self, timeout=60):
        def ready():
            self.check_alive()
            try:
                return self.health() == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                return False
        wait_until(ready, timeout, interval=0.05, what="readiness SERVING")

    def server_info(self):
        return self.stub().GetServerInfo(pb.GetServerInfoRequest(), metadata=self.metadata(), timeout=10)

    def wait_kv_released(self, timeout=20):
        def released():
            info = self.server_info()
            return info.kv_blocks_free == info.kv_blocks_total and info
        return wait_until(released, timeout, interval=0.05, what="every KV block back in the pool")


class Ribbond(RibbondClient):
    """One ribbond process. Use as a context manager or call stop(); a pytest fixture also kills
    every daemon it started when the test ends."""

    def __init__(self, workdir, args=(), env=None, model=STORIES, auth_token=None, tls=None):
        """tls: (certificate path, key path) to serve TLS with."""
        root_cert = None
        if tls:
            with open(tls[0], "rb") as f:
                root_cert = f.read()
            args = (*args, "--server.tls_cert_path", tls[0], "--server.tls_key_path", tls[1])
        super().__init__(auth_token=auth_token, root_cert=root_cert)
        self.workdir = workdir
        self.port_file = os.path.join(workdir, "ports.json")
        self.log_path = os.path.join(workdir, "ribbond.log.jsonl")
        self.stderr_path = os.path.join(workdir, "ribbond.stderr")
        # The memory probe (several seconds of forward passes) is exercised by the serve.sh test;
        # elsewhere the engine's default sizing keeps start-up fast.
        cmd = [RIBBOND, "--model", model, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
               "--openai.listen", "127.0.0.1:0", "--port-file", self.port_file, "--log.format", "json", "--log.file", self.log_path,
               "--memory.probe", "false", *args]
        if auth_token:
            cmd += ["--server.auth_token", auth_token]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr, env=full_env)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"ribbond exited with {self.proc.returncode}: {self.stderr()}")

    def start(self, timeout=60):
        def ports():
            self.check_alive()
            if not os.path.exists(self.port_file):
                return None
            with open(self.port_file) as f:
                return json.load(f)
        found = wait_until(ports, timeout, what="ribbond's port file")
        self.grpc_port, self.http_port = found["grpc_port"], found["http_port"]
        self.openai_port = found.get("openai_port", 0)
        self.wait_ready(timeout)
        return self

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_events(self, event=None):
        if not os.path.exists(self.log_path):
            return []
        out = []
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                record = json.loads(line)
                if event is None or record.get("event") == event:
                    out.append(record)
        return out

    def access_log(self, client_request_id=None):
        lines = self.log_events("access")
        if client_request_id is not None:
            lines = [a for a in lines if a.get("client_request_id") == client_request_id]
        return lines

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        self.close_channels()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._stderr.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
