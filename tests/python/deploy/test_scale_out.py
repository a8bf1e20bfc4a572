"""Must-show 3: scale-out on one machine, for real. ribbond replicas listen on the same port at
127.0.0.2, .3, .4 (all loopback) behind one name served by a DNS server the test controls
(loopback_dns.py: what a headless Service gives through cluster DNS, one A record per ready pod).
One gRPC client channel uses `dns://` + round_robin + client-side health checking + the retry
policy docs/deploy.md recommends, under 64 concurrent streams:
  - a replica added mid-run receives traffic within server.max_connection_age_seconds: its GOAWAY
    makes the client re-resolve (the DNS server sees the queries), nothing else tells it (the
    control, with max age 0, sees no query and no call on the new replica);
  - a replica that gets SIGTERM mid-load turns NOT_SERVING, drains its streams, exits 0, and no
    client request fails; a client without health checking has its refused attempts retried;
  - the replicas' counts (metrics, and the drained replica's access log, since its metrics end
    with its process) equal the client's.
"""
import json
import re
import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health_pb2

import ribbond_harness as h
from loopback_dns import LoopbackDns

CASES = h.load_golden()
NAME = "ribbond-grpc.ribbon.svc.cluster.local"
MAX_AGE = 2.0  # server.max_connection_age_seconds; gRPC adds up to +10% jitter
WORKERS = 64
LONG_TOKENS = 120  # streams in flight on the replica that drains (golden outputs have 200)
RETRY_POLICY = {"maxAttempts": 5, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
                "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}


def service_config(health_checked):
    config = {"loadBalancingConfig": [{"round_robin": {}}],
              "methodConfig": [{"name": [{"service": "ribbon.v1.Generation"}], "retryPolicy": RETRY_POLICY}]}
    if health_checked:
        config["healthCheckConfig"] = {"serviceName": "ribbon.v1.Generation"}
    return json.dumps(config)


def client_channel(dns, port):
    return grpc.insecure_channel(dns.target(port), options=[
        ("grpc.service_config", service_config(health_checked=True)),
        # gRPC's default of 30 s between re-resolutions would hide a new replica that long.
        ("grpc.dns_min_time_between_resolutions_ms", 200)])


def has_openai_port():
    with open(f"{h.SOURCE}/config/ribbond.json") as f:
        return "openai" in json.load(f)


class Replica(h.Ribbond):
    """A ribbond on its own loopback address."""

    def __init__(self, workdir, host, port, max_age=MAX_AGE):
        self.host = host
        workdir.mkdir()
        # Each replica's side ports on its own address too (port 0: any free one).
        extra = ("--openai.listen", f"{host}:0") if has_openai_port() else ()
        super().__init__(str(workdir), args=(
            "--listen", f"{host}:{port}", "--http-listen", f"{host}:0", *extra,
            "--server.max_connection_age_seconds", str(max_age), "--server.shutdown_grace_seconds", "60",
            "--model.num_threads", "1", "--debug.step_delay_ms", "2"))

    @property
    def address(self):
        return f"{self.host}:{self.grpc_port}"

    def metrics(self):
        with urllib.request.urlopen(f"http://{self.host}:{self.http_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        def value(pattern):
            return sum(float(v) for v in re.findall(r"^" + pattern + r" (\S+)$", text, re.M))
        return {"ok": value(r'ribbon_requests_total\{code="OK"\}'),
                "unavailable": value(r'ribbon_requests_total\{code="UNAVAILABLE"\}'),
                "all": value(r"ribbon_requests_total\{[^}]*\}"),
                "arrived": value(r"ribbon_requests_total\{[^}]*\}") + value("ribbon_requests_running")
                + value("ribbon_requests_waiting"),
                "tokens": value("ribbon_generation_tokens_total")}

    def access_counts(self):
        lines = self.access_log()
        return {"ok": sum(a["status"] == "OK" for a in lines),
                "unavailable": sum(a["status"] == "UNAVAILABLE" for a in lines),
                "tokens": sum(a.get("generated_tokens", 0) for a in lines if a["status"] == "OK")}


class Load:
    """WORKERS threads, each running one stream after another until stopped; every stream's
    tokens are checked against the golden greedy continuation."""

    def __init__(self, channel, workers=WORKERS):
        self.channel = channel
        self.stub = h.pb_grpc.GenerationStub(channel)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok, self.tokens, self.failures = 0, 0, []
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.futures = [self.pool.submit(self._worker, i) for i in range(workers)]

    def _worker(self, index):
        n = 0
        while not self.stop.is_set():
            case = CASES[(index + n) % len(CASES)]
            max_new = 4 + (index * 7 + n) % 16
            n += 1
            request = h.golden_request(case, max_new, False)
            received = []
            try:
                for message in self.stub.Generate(request, timeout=60, wait_for_ready=True):
                    received.extend(message.token_ids)
            except grpc.RpcError as error:
                with self.lock:
                    self.failures.append((error.code(), error.details()))
                continue
            want = h.golden_expectation(case, 200, False)[0][:max_new]
            with self.lock:
                if received != want:
                    self.failures.append(("wrong tokens", received, want))
                self.ok += 1
                self.tokens += len(received)

    def finish(self):
        self.stop.set()
        for future in self.futures:
            future.result(timeout=120)
        self.pool.shutdown()


def probe_until(stub, done, counts):
    """One request after another (no health checking on this channel) until `done`."""
    case = CASES[0]
    while not done():
        received = [i for m in stub.Generate(h.golden_request(case, 4, False), timeout=30) for i in m.token_ids]
        assert received == h.golden_expectation(case, 200, False)[0][:4]
        counts["ok"] += 1
        counts["tokens"] += len(received)


def test_scale_out_rebalance_and_drain(tmp_path):
    replicas = []
    dns = load = None
    try:
        a = Replica(tmp_path / "a", "127.0.0.2", 0).start()
        port = a.grpc_port
        b = Replica(tmp_path / "b", "127.0.0.3", port).start()
        replicas += [a, b]
        dns = LoopbackDns(NAME, [a.host, b.host])
        load = Load(client_channel(dns, port))
        # A client with a stale, fixed view of the endpoints and no health checking: it keeps
        # picking the draining replica, so its attempts there are refused and retried.
        probe_channel = grpc.insecure_channel(
            f"ipv4:{a.host}:{port},{b.host}:{port},127.0.0.4:{port}",
            options=[("grpc.service_config", service_config(health_checked=False))])
        probe = h.pb_grpc.GenerationStub(probe_channel)
        probe_counts = {"ok": 0, "tokens": 0}
        probe_until(probe, lambda: probe_counts["ok"] >= 4, probe_counts)

        h.wait_until(lambda: a.metrics()["all"] > 0 and b.metrics()["all"] > 0, 20, what="load on a and b")
        c = Replica(tmp_path / "c", "127.0.0.4", port)
        replicas.append(c)
        c.start()
        queries_before = dns.a_queries
        dns.set_addresses([a.host, b.host, c.host])  # c is ready: the endpoints controller adds it
        added = time.monotonic()
        h.wait_until(lambda: c.metrics()["arrived"] > 0, 3 * MAX_AGE + 5, interval=0.02, what="traffic on c")
        delay = time.monotonic() - added
        assert delay <= MAX_AGE * 1.1 + 1.0 * h.TIME_SCALE, \
            f"c got its first request {delay:.2f}s after it was added; DNS queries at {dns.query_times(added)}"
        assert dns.a_queries > queries_before  # the client re-resolved: nothing else names c
        h.wait_until(lambda: c.metrics()["ok"] >= 20, 20,
                     what=f"c serving steadily: {[r.metrics() for r in replicas]} {load.ok} {load.failures[:3]}")

        # Two long streams in flight on a when it gets SIGTERM: they must finish in the drain.
        direct = a.stub()
        long_streams = []
        for case in CASES[:2]:
            stream = direct.Generate(h.golden_request(case, LONG_TOKENS, False), timeout=120)
            long_streams.append((case, stream, list(next(stream).token_ids)))
        a.send_signal(signal.SIGTERM)
        h.wait_until(lambda: a.health() == health_pb2.HealthCheckResponse.NOT_SERVING, 5, what="a not ready")
        dns.set_addresses([b.host, c.host])  # as the endpoints controller does on readiness failure
        with ThreadPoolExecutor(max_workers=1) as pool:
            probing = pool.submit(probe_until, probe, lambda: a.proc.poll() is not None, probe_counts)
            for case, stream, received in long_streams:
                received += [i for m in stream for i in m.token_ids]
                assert received == h.golden_expectation(case, 200, False)[0][:LONG_TOKENS]
            assert a.proc.wait(timeout=30) == 0
            probing.result(timeout=30)
        time.sleep(1.5)  # load goes on over b and c
        load.finish()

        assert load.failures == [], load.failures[:5]
        assert load.ok > 200
        a_counts = a.access_counts()
        # The probe channel kept picking a while it drained: those attempts were refused before
        # their first token and the retry policy sent them on; none failed.
        assert a_counts["unavailable"] >= 1, a_counts
        finals = [r.metrics() for r in (b, c)]
        for replica, final in zip((b, c), finals):
            logged = replica.access_counts()
            assert (final["ok"], final["tokens"]) == (logged["ok"], logged["tokens"])
            assert final["unavailable"] == 0
        client_ok = load.ok + probe_counts["ok"] + len(long_streams)
        client_tokens = load.tokens + probe_counts["tokens"] + LONG_TOKENS * len(long_streams)
        assert a_counts["ok"] + sum(f["ok"] for f in finals) == client_ok
        assert a_counts["tokens"] + sum(f["tokens"] for f in finals) == client_tokens
        share = [a_counts["ok"]] + [f["ok"] for f in finals]
        assert min(share) > 0.05 * client_ok, share
        print(f"scale-out: c's first request {delay:.2f}s after it was added (max age {MAX_AGE}s); "
              f"client OK {client_ok}, tokens {client_tokens}, failed 0; served a/b/c {share}; "
              f"refused by draining a and retried {a_counts['unavailable']}")
    finally:
        if load:
            load.stop.set()
            load.channel.close()
        for replica in replicas:
            replica.kill()
        if dns:
            dns.close()


def test_without_max_connection_age_a_new_replica_gets_nothing(tmp_path):
    """The control: with server.max_connection_age_seconds = 0 the client never asks DNS again,
    and a replica added under load gets no call, however long the channel runs."""
    replicas = []
    dns = load = None
    try:
        a = Replica(tmp_path / "a", "127.0.0.2", 0, max_age=0).start()
        replicas.append(a)
        dns = LoopbackDns(NAME, [a.host])
        load = Load(client_channel(dns, a.grpc_port), workers=8)
        h.wait_until(lambda: a.metrics()["ok"] >= 8, 20, what="load on a")
        b = Replica(tmp_path / "b", "127.0.0.3", a.grpc_port, max_age=0)
        replicas.append(b)
        b.start()
        queries_before = dns.a_queries
        dns.set_addresses([a.host, b.host])
        served_before = a.metrics()["ok"]
        time.sleep(2 * MAX_AGE * 1.1 + 1.0)  # twice what the test above allows
        assert b.metrics()["arrived"] == 0 and dns.a_queries == queries_before
        assert a.metrics()["ok"] > served_before  # the load went on, all of it to a
        load.finish()
        assert load.failures == []
    finally:
        if load:
            load.stop.set()
            load.channel.close()
        for replica in replicas:
            replica.kill()
        if dns:
            dns.close()
