"""A ribbond for the soak: started on loopback (free ports on the first start, the same ports on a
restart, so that clients reconnect after the crash drill), sampled from /proc (resident memory,
threads), and read through /metrics and GetServerInfo."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import ribbond_harness as h

CHAT_TEMPLATE = os.path.join(h.SOURCE, "tests/python/server/data/simple_chat_template.jinja")


class SoakDaemon(h.RibbondClient):
    def __init__(self, workdir, args=()):
        super().__init__()
        os.makedirs(workdir, exist_ok=True)
        self.workdir, self.args = workdir, list(args)
        self.port_file = os.path.join(workdir, "ports.json")
        self.proc, self.openai_port, self.starts = None, None, 0

    def start(self, timeout=120):
        """Starts ribbond; after the first start, on the ports it had."""
        if self.grpc_port:
            listen = [f"127.0.0.1:{p}" for p in (self.grpc_port, self.http_port, self.openai_port)]
        else:
            listen = ["127.0.0.1:0"] * 3
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        cmd = [h.RIBBOND, "--model", h.STORIES, "--listen", listen[0], "--http-listen", listen[1],
               "--openai.listen", listen[2], "--port-file", self.port_file,
               "--log.format", "json", "--log.file", os.path.join(self.workdir, f"log{self.starts}.jsonl"),
               "--memory.probe", "false", "--chat-template", CHAT_TEMPLATE, *self.args]
        with open(os.path.join(self.workdir, f"stderr{self.starts}"), "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        self.starts += 1

        def ports():
            self.check_alive()
            if not os.path.exists(self.port_file):
                return None
            with open(self.port_file) as f:
                return json.load(f)
        found = h.wait_until(ports, timeout, what="ribbond's port file")
        self.grpc_port, self.http_port = found["grpc_port"], found["http_port"]
        self.openai_port = found["openai_port"]
        self.wait_ready(timeout)
        return self

    def check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"ribbond exited with {self.proc.returncode}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout=30):
        """SIGTERM, SIGKILL after `timeout`; the exit code (0 is a clean drain)."""
        self.close_channels()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def sample(self):
        """(resident bytes, threads) of the process now."""
        rss = threads = 0
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return rss, threads

    def metrics(self):
        """{name or name{labels}: value} from the side port's /metrics."""
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$", line)
            if m:
                out[m.group(1)] = float(m.group(2))
        return out

    def access_lines(self):
        lines = []
        for i in range(self.starts):
            path = os.path.join(self.workdir, f"log{i}.jsonl")
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut by kill -9
                    if record.get("event") == "access":
                        lines.append(record)
        return lines


def wait_drained(daemon, timeout=30):
    """GetServerInfo once nothing runs or waits and every KV block is free (or the last seen)."""
    end, info = time.monotonic() + timeout, None
    while time.monotonic() < end:
        info = daemon.server_info()
        if info.kv_blocks_free == info.kv_blocks_total and not info.requests_running \
                and not info.requests_waiting:
            return info
        time.sleep(0.1)
    return info
