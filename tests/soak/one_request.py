"""Hammers one pool request under soak load and counts the distinct answers: the tool that
narrowed the open finding of docs/perf/reliability-2026-12-04.md ("Soak"). Every answer of a
greedy or seeded request should be the same.

  python tests/soak/one_request.py --index 349 --seconds 90 -- --debug.oom_every_steps 500

Arguments after `--` go to ribbond (on top of the soak's own: tests/soak/soak.py SOAK_ARGS)."""
import argparse
import asyncio
import collections
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "../python/server")]

import soak  # noqa: E402
import workload  # noqa: E402
from daemon import SoakDaemon  # noqa: E402
from load import Load  # noqa: E402


async def hammer(daemon, pool, index, seconds, streams, share):
    load = Load(daemon, pool, seed=0)
    answers = collections.Counter()
    end = time.monotonic() + seconds

    async def stream(k):
        rng = random.Random(k)
        while time.monotonic() < end:
            i = index if rng.random() < share else rng.randrange(len(pool))
            rec = await load.issue({"index": i, **pool[i]}, "plain", None)
            if i == index and rec["code"] == "OK":
                answers[(tuple(rec["ids"]), rec["text"], rec["finish"])] += 1
    await asyncio.gather(*(stream(k) for k in range(streams)))
    await load.close()
    return answers


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--index", type=int, required=True, help="the pool request to repeat")
    p.add_argument("--pool", type=int, default=400)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--streams", type=int, default=256)
    p.add_argument("--share", type=float, default=0.3, help="fraction of requests that are it")
    args = p.parse_args(argv)
    pool = workload.make_pool(args.seed, args.pool)
    print(pool[args.index])
    daemon = SoakDaemon(tempfile.mkdtemp(prefix="ribbon_one_request_"), (*soak.SOAK_ARGS, *extra))
    try:
        daemon.start()
        answers = asyncio.run(hammer(daemon, pool, args.index, args.seconds, args.streams, args.share))
    finally:
        daemon.stop()
    for answer, count in answers.most_common():
        print(count, answer)
    return 0 if len(answers) <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
