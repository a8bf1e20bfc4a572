"""Driving load: the soak's streams, bursts and resource sampler, the reference runs, and the
crash drill's retrying streams. Every issued request becomes one entry of `Load.records`."""
import asyncio
import itertools
import random
import time

import grpc

import ribbond_harness as h
import workload
from clients import grpc_call, openai_call

CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 500)]


class Load:
    def __init__(self, daemon, pool, seed, timeout=120.0, channels=4):
        self.daemon, self.pool, self.seed, self.timeout = daemon, pool, seed, timeout
        # A few channels (each its own connection): one HTTP/2 connection would cap the streams.
        self.channels = [grpc.aio.insecure_channel(daemon.address,
                                                   options=CHANNEL_OPTIONS + [("soak.channel", i)])
                         for i in range(channels)]
        self.stubs = [h.pb_grpc.GenerationStub(c) for c in self.channels]
        self.records, self.samples = [], []
        self.ids = itertools.count()
        self.t0 = time.monotonic()

    async def close(self):
        for channel in self.channels:
            await channel.close()

    async def issue(self, issue, behaviour, param, origin="stream"):
        n = next(self.ids)
        rid = f"soak-{self.seed}-{n}"
        start = time.monotonic() - self.t0
        if issue["api"] in workload.GRPC_APIS:
            rec = await grpc_call(self.stubs[n % len(self.stubs)], issue, behaviour, param, rid,
                                  self.timeout)
        else:
            rec = await openai_call(self.daemon.openai_port, issue, behaviour, param, self.timeout)
        rec.update(rid=rid, t=start, api=issue["api"], behaviour=behaviour, param=param,
                   origin=origin, index=issue.get("index"), expect=issue.get("expect"))
        self.records.append(rec)
        return rec

    async def stream(self, k, end):
        rng = random.Random(f"stream-{self.seed}-{k}")
        while time.monotonic() < end:
            await self.issue(*workload.next_issue(rng, self.pool))

    async def bursts(self, end, size, every):
        """Every `every` seconds (jittered), `size` gRPC requests at once: more than the queue
        holds, so some are refused RESOURCE_EXHAUSTED."""
        rng = random.Random(f"burst-{self.seed}")
        grpc_specs = [i for i, s in enumerate(self.pool) if s["api"] in workload.GRPC_APIS]
        while time.monotonic() + every < end:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * every)
            picks = [rng.choice(grpc_specs) for _ in range(size)]
            await asyncio.gather(*(self.issue({"index": i, **self.pool[i]}, "plain", None, "burst")
                                   for i in picks))

    async def sampler(self, end, every=1.0):
        while time.monotonic() < end:
            if self.daemon.alive():
                rss, threads = self.daemon.sample()
                self.samples.append({"t": time.monotonic() - self.t0, "rss": rss,
                                     "threads": threads})
            await asyncio.sleep(every)

    async def run(self, seconds, streams, burst_size, burst_every):
        end = time.monotonic() + seconds
        tasks = [self.stream(k, end) for k in range(streams)]
        tasks += [self.sampler(end + 1), self.bursts(end, burst_size, burst_every)]
        await asyncio.gather(*tasks)

    async def retrying_stream(self, k, end):
        """The crash drill's client: plain pool requests, retried after UNAVAILABLE."""
        rng = random.Random(f"drill-{self.seed}-{k}")
        while time.monotonic() < end:
            index = rng.randrange(len(self.pool))
            rec = await self.issue({"index": index, **self.pool[index]}, "plain", None, "drill")
            if rec["code"] == "UNAVAILABLE":
                await asyncio.sleep(0.05)


async def references(daemon, pool, concurrency=8, timeout=300.0):
    """Each pool request run on the reference daemon (one sequence at a time: alone)."""
    load = Load(daemon, pool, seed="ref", timeout=timeout, channels=1)
    gate = asyncio.Semaphore(concurrency)

    async def one(i):
        async with gate:
            return await load.issue({"index": i, **pool[i]}, "plain", None, "reference")
    out = await asyncio.gather(*(one(i) for i in range(len(pool))))
    await load.close()
    bad = [(i, r["code"], r.get("message")) for i, r in enumerate(out) if r["code"] != "OK"]
    if bad:
        raise AssertionError(f"reference runs failed: {bad[:5]}")
    return out
