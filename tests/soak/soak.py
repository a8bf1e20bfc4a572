"""ribbon's soak (`make soak`, issue #21): a real ribbond (stories260K, CPU) under a mixed, seeded
workload for a set time, every greedy or seeded answer checked token by token against a reference
run of the same request alone, then a crash drill (kill -9 under load, restart, clients recover).

  python tests/soak/soak.py --seconds 600 --streams 256 --out DIR

Writes DIR/report.json (everything) and DIR/report.md (printed too), and exits 1 when any
check fails. See
docs/perf/reliability-2026-12-04.md ("Soak") for what each figure means and the recorded run.
"""
import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "../python/server")]

import checks  # noqa: E402
import summary  # noqa: E402
import workload  # noqa: E402
from daemon import SoakDaemon, wait_drained  # noqa: E402
from load import Load, references  # noqa: E402

# The soak daemon: fewer running sequences than streams and a short queue, so that requests wait
# (deadlines expire queued) and bursts overflow; every --oom-every'th step fails as out of memory.
SOAK_ARGS = ("--engine.max_running_seqs", "128", "--engine.max_queued_requests", "160",
             "--stream.max_pending_bytes", "4096", "--stream.slow_reader_timeout_ms", "2000")
REFERENCE_ARGS = ("--engine.max_running_seqs", "1")  # each reference runs alone


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--streams", type=int, default=256)
    p.add_argument("--pool", type=int, default=400, help="distinct requests (references)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--burst", type=int, default=200, help="requests per burst")
    p.add_argument("--burst-every", type=float, default=30.0, help="seconds between bursts")
    p.add_argument("--drill-seconds", type=float, default=15.0, help="0 = no crash drill")
    p.add_argument("--drill-streams", type=int, default=64)
    p.add_argument("--oom-every", type=int, default=500,
                   help="every Nth engine step fails as out of memory (debug.oom_every_steps); 0 = off")
    p.add_argument("--deadline-grace", type=float, default=1.0,
                   help="seconds a deadline may be overrun (steps in flight, a loaded machine)")
    p.add_argument("--out", default=None, help="folder for the logs and report.json")
    return p.parse_args(argv)


def daemon_args(args):
    return (*SOAK_ARGS, "--debug.oom_every_steps", str(args.oom_every))


def soak_phase(args, out, pool, refs):
    daemon = SoakDaemon(os.path.join(out, "soak"), daemon_args(args)).start()
    try:
        load = None

        async def run():
            nonlocal load
            load = Load(daemon, pool, args.seed)
            await load.run(args.seconds, args.streams, args.burst, args.burst_every)
            await load.close()
        asyncio.run(run())
        if not daemon.alive():  # a crash: what the clients saw is all there is to report
            return {"crashed": daemon.proc.returncode,
                    "records": checks.check_records(load.records, refs),
                    "resources": checks.resources(load.samples, args.seconds)}
        info = wait_drained(daemon)
        metrics = daemon.metrics()
        access = daemon.access_lines()
        result = {"records": checks.check_records(load.records, refs),
                  "deadlines": checks.check_deadlines(load.records, access, args.deadline_grace),
                  "metrics": checks.check_metrics(load.records, access, metrics),
                  "windows": checks.windows(load.records, load.samples, args.seconds),
                  "resources": checks.resources(load.samples, args.seconds),
                  "kv_blocks_free": info.kv_blocks_free, "kv_blocks_total": info.kv_blocks_total,
                  "kv_blocks_used_metric": metrics.get('ribbon_kv_blocks{state="used"}'),
                  "oom_recoveries": metrics.get("ribbon_oom_recoveries_total"),
                  "preemptions": metrics.get("ribbon_preemptions_total"),
                  "steps": metrics.get("ribbon_steps_total")}
        result["exit_code"] = daemon.stop()
        return result
    finally:
        if daemon.alive():
            daemon.proc.kill()


def drill_phase(args, out, pool, refs):
    """kill -9 a third of the way in, restart on the same ports a second later."""
    daemon = SoakDaemon(os.path.join(out, "drill"), daemon_args(args)).start()
    marks = {}

    async def run():
        load = Load(daemon, pool, args.seed)
        end = time.monotonic() + args.drill_seconds

        async def chaos():
            await asyncio.sleep(args.drill_seconds / 3)
            marks["killed"] = time.monotonic() - load.t0
            daemon.kill9()
            await asyncio.sleep(1.0)
            await asyncio.to_thread(daemon.start)
            marks["restarted"] = time.monotonic() - load.t0
        await asyncio.gather(chaos(), *(load.retrying_stream(k, end) for k in range(args.drill_streams)))
        await load.close()
        return load.records
    try:
        records = asyncio.run(run())
        after = [r for r in records if r["t"] >= marks["restarted"]]
        result = {"records": checks.check_records(records, refs, drill=True),
                  "unavailable": sum(r["code"] == "UNAVAILABLE" for r in records),
                  "ok_after_restart": sum(r["code"] == "OK" for r in after),
                  "killed_at_s": marks["killed"], "restarted_at_s": marks["restarted"],
                  "kv_blocks_free_end": wait_drained(daemon).kv_blocks_free}
        result["exit_code"] = daemon.stop()
        return result
    finally:
        if daemon.alive():
            daemon.proc.kill()


def verdicts(report, args):
    """Every failed must-show condition, as text; empty when the soak passed."""
    s, bad = report["soak"], []
    if "crashed" in s:
        return [f"ribbond crashed during the soak (exit {s['crashed']})"]
    if sum(s["records"]["mismatch"].values()):
        bad.append(f"tokens differ from the reference: {dict(s['records']['mismatch'])}")
    if s["records"]["unexpected"]:
        bad.append(f"unexpected outcomes: {dict(s['records']['unexpected'])}")
    if s["deadlines"]["late"] or s["deadlines"]["stuck"]:
        bad.append(f"past deadline: {s['deadlines']['late'][:5]}, stuck: {s['deadlines']['stuck'][:5]}")
    bad += s["metrics"]["problems"]
    if s["exit_code"] != 0:
        bad.append(f"ribbond exited {s['exit_code']} (a crash or an unclean drain)")
    if s["kv_blocks_free"] != s["kv_blocks_total"] or s["kv_blocks_used_metric"] != 0:
        bad.append(f"KV blocks not all free: {s['kv_blocks_free']}/{s['kv_blocks_total']}")
    r = s["resources"]
    if r["rss_growth"] is None or r["rss_growth"] >= 0.05:
        bad.append(f"resident memory grew {r['rss_growth']}")
    if r.get("threads_max", 0) - r.get("threads_min", 0) > 2:
        bad.append(f"threads not flat: {r['threads_min']}..{r['threads_max']}")
    if args.oom_every and not s["oom_recoveries"]:
        bad.append("no injected out-of-memory step was recovered from")
    if "drill" in report:
        d = report["drill"]
        if "error" in d:
            return bad + [f"crash drill: {d['error']}"]
        if sum(d["records"]["mismatch"].values()) or d["records"]["unexpected"]:
            bad.append(f"crash drill: {dict(d['records']['mismatch'])} {dict(d['records']['unexpected'])}")
        if not d["unavailable"] or not d["ok_after_restart"]:
            bad.append(f"crash drill: {d['unavailable']} UNAVAILABLE, {d['ok_after_restart']} OK after")
    return bad


def main(argv=None):
    args = parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="ribbon_soak_")
    os.makedirs(out, exist_ok=True)
    pool = workload.make_pool(args.seed, args.pool)
    started = time.monotonic()
    ref_daemon = SoakDaemon(os.path.join(out, "reference"), REFERENCE_ARGS).start()
    try:
        refs = asyncio.run(references(ref_daemon, pool))
    finally:
        ref_daemon.stop()
    report = {"args": vars(args), "reference_seconds": time.monotonic() - started,
              "soak": soak_phase(args, out, pool, refs)}
    if args.drill_seconds > 0:
        try:
            report["drill"] = drill_phase(args, out, pool, refs)
        except Exception as e:  # noqa: BLE001 -- reported as a failure with the soak's figures
            report["drill"] = {"error": repr(e)}
    report["failures"] = verdicts(report, args)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(summary.markdown(report))
    print(summary.markdown(report))
    print(f"soak report: {os.path.join(out, 'report.json')}; "
          f"{'PASS' if not report['failures'] else 'FAIL'}", file=sys.stderr)
    return 0 if not report["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
