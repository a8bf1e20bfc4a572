"""The soak's verdicts: every record against its reference, outcome codes against the behaviour
that was asked for, deadlines against the access log, the daemon's metric totals against the
driver's and the access log's counts, and resource use over time."""
import collections

# The codes each behaviour may end with besides OK. Queue-full refusals (RESOURCE_EXHAUSTED) can
# meet any request; a slow reader may be ended RESOURCE_EXHAUSTED by the server.
ALLOWED = {"plain": {"RESOURCE_EXHAUSTED"}, "slow": {"RESOURCE_EXHAUSTED"},
           "cancel": {"CANCELLED", "RESOURCE_EXHAUSTED"},
           "deadline": {"DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}}
# Outcomes a client-side timer (cancel, deadline) can race with the server's own end (a finish,
# or a queue-full refusal).
RACY = ("OK", "CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED")


def compare(rec, ref):
    """'' when `rec` agrees with the reference; else lost / duplicated / wrong / finish."""
    got, want = (rec["ids"], ref["ids"]) if rec["api"].startswith("grpc") else (rec["text"], ref["text"])
    if rec["api"].startswith("grpc") and rec["code"] == "OK" and rec["text"] != ref["text"]:
        return "wrong"
    if rec["code"] != "OK":  # what arrived before the end must be the reference's beginning
        return "" if want[:len(got)] == got else ("duplicated" if len(got) > len(want) else "wrong")
    if got == want:
        same = rec["finish"] == ref["finish"] and rec["tokens"] == ref["tokens"]
        return "" if same else "finish"
    if want[:len(got)] == got:
        return "lost"
    return "duplicated" if got[:len(want)] == want else "wrong"


def check_records(records, refs, drill=False):
    """Counts by outcome, mismatches by kind (with examples), unexpected codes."""
    out = {"by_code": collections.Counter(), "by_behaviour": collections.Counter(),
           "mismatch": collections.Counter(), "unexpected": collections.Counter(),
           "checked_ok": 0, "checked_partial": 0, "tokens_ok": 0, "examples": []}
    for rec in records:
        out["by_code"][rec["code"]] += 1
        out["by_behaviour"][f'{rec["behaviour"]}:{rec["code"]}'] += 1
        if rec["behaviour"] == "bad":
            if rec["code"] != rec["expect"]:
                out["unexpected"][f'bad request got {rec["code"]}, not {rec["expect"]}'] += 1
            continue
        allowed = {"UNAVAILABLE"} if drill else ALLOWED[rec["behaviour"]]
        if rec["code"] != "OK" and rec["code"] not in allowed:
            out["unexpected"][f'{rec["behaviour"]} {rec["api"]} got {rec["code"]}'] += 1
            if len(out["examples"]) < 10:
                out["examples"].append({k: rec.get(k) for k in ("rid", "api", "code", "message")})
        verdict = compare(rec, refs[rec["index"]])
        if rec["code"] == "OK":
            out["checked_ok"] += 1
            out["tokens_ok"] += rec["tokens"] or 0
        else:
            out["checked_partial"] += 1
        if verdict:
            out["mismatch"][verdict] += 1
            if len(out["examples"]) < 10:
                ref = refs[rec["index"]]
                out["examples"].append({"rid": rec["rid"], "verdict": verdict, "api": rec["api"],
                                        "code": rec["code"], "index": rec["index"],
                                        "got": [rec["ids"], rec["text"], rec["finish"], rec["tokens"]],
                                        "want": [ref["ids"], ref["text"], ref["finish"], ref["tokens"]]})
    return out


def check_deadlines(records, access, grace):
    """gRPC requests with a deadline that the server held past it (its own access line's
    duration), and requests of any kind that the client gave up on (stuck)."""
    by_rid = {a.get("client_request_id"): a for a in access if a.get("client_request_id")}
    late, never_reached, stuck = [], 0, []
    for rec in records:
        if rec["code"] == "CLIENT_TIMEOUT" or (rec["behaviour"] != "deadline"
                                                and rec["code"] == "DEADLINE_EXCEEDED"):
            stuck.append(rec["rid"])
        if rec["behaviour"] != "deadline":
            continue
        line = by_rid.get(rec["rid"])
        if line is None:
            never_reached += 1  # expired before ribbond's handler saw it
        elif line["duration_seconds"] > rec["param"] + grace:
            late.append((rec["rid"], rec["param"], line["duration_seconds"]))
        if rec["latency"] > rec["param"] + grace:
            late.append((rec["rid"], rec["param"], rec["latency"]))
    return {"late": late, "never_reached": never_reached, "stuck": stuck}


def join_access(records, access):
    """Each gRPC request against its own access line (by client_request_id): one line each, the
    same status (a cancel or deadline may race the server's own end), the same tokens when OK."""
    lines = collections.defaultdict(list)
    for a in access:
        if a.get("client_request_id"):
            lines[a["client_request_id"]].append(a)
    out = {"joined": 0, "flips": collections.Counter(), "unlogged": 0, "problems": []}
    for rec in records:
        if not rec["api"].startswith("grpc"):
            continue
        found = lines.get(rec["rid"], [])
        if len(found) > 1:
            out["problems"].append(f'{rec["rid"]}: {len(found)} access lines')
        if not found:
            if rec["code"] not in ("CANCELLED", "DEADLINE_EXCEEDED"):
                out["problems"].append(f'{rec["rid"]} ({rec["code"]}): no access line')
            out["unlogged"] += 1  # ended by the client before ribbond's handler saw it
            continue
        line = found[0]
        out["joined"] += 1
        if line["status"] != rec["code"]:
            out["flips"][f'{rec["behaviour"]}: client {rec["code"]}, server {line["status"]}'] += 1
            if rec["behaviour"] not in ("cancel", "deadline"):
                out["problems"].append(f'{rec["rid"]}: client {rec["code"]}, server {line["status"]}')
        elif rec["code"] == "OK" and line["generated_tokens"] != rec["tokens"]:
            out["problems"].append(f'{rec["rid"]}: {rec["tokens"]} tokens, logged {line["generated_tokens"]}')
    return out


def check_metrics(records, access, metrics):
    """The daemon's ribbon_requests_total by code against its access log and against the driver's
    counts: exactly for codes no client timer races with; OK, CANCELLED, DEADLINE_EXCEEDED and
    RESOURCE_EXHAUSTED may trade requests (an engine that finished, or a queue that refused, just
    as the client went away), no more of them than the driver cancelled or gave a deadline."""
    server = {k.split('code="')[1].rstrip('"}'): int(v) for k, v in metrics.items()
              if k.startswith("ribbon_requests_total{")}
    server = {k: v for k, v in server.items() if v}
    logged = dict(collections.Counter(a["status"] for a in access))
    driver = dict(collections.Counter(r["code"] for r in records))
    racy = sum(r["behaviour"] in ("cancel", "deadline") for r in records)
    problems = []
    for name, other in (("access log", logged), ("driver", driver)):
        for code in set(server) | set(other):
            if code not in RACY and server.get(code, 0) != other.get(code, 0):
                problems.append(f"{code}: daemon {server.get(code, 0)} != {name} {other.get(code, 0)}")
        moved = sum(abs(server.get(c, 0) - other.get(c, 0)) for c in RACY)
        if moved > 2 * racy:
            problems.append(f"OK/CANCELLED/DEADLINE_EXCEEDED: daemon and {name} differ by {moved}")
    if sum(server.values()) != sum(logged.values()):
        problems.append(f"daemon counted {sum(server.values())} requests, logged {sum(logged.values())}")
    gen_logged = sum(a.get("generated_tokens", 0) for a in access)
    gen_metric = int(metrics.get("ribbon_generation_tokens_total", -1))
    if gen_metric < gen_logged:
        problems.append(f"ribbon_generation_tokens_total {gen_metric} < access log {gen_logged}")
    join = join_access(records, access)
    problems += join["problems"][:20]
    return {"daemon": server, "access_log": logged, "driver": driver, "racy_records": racy,
            "generation_tokens_metric": gen_metric, "generation_tokens_logged": gen_logged,
            "grpc_joined": join["joined"], "grpc_unlogged": join["unlogged"],
            "flips": dict(join["flips"]), "problems": problems}


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))] if values else None


def windows(records, samples, seconds, count=10):
    """Per window: requests, OK tokens, p50/p99 latency of OK plain requests, RSS and threads."""
    width = seconds / count
    out = []
    for w in range(count):
        lo, hi = w * width, (w + 1) * width
        recs = [r for r in records if lo <= r["t"] < hi]
        lat = [r["latency"] for r in recs if r["code"] == "OK" and r["behaviour"] == "plain"
               and r["origin"] == "stream"]
        smp = [s for s in samples if lo <= s["t"] < hi]
        out.append({"from_s": round(lo), "requests": len(recs),
                    "ok_tokens": sum(r["tokens"] or 0 for r in recs if r["code"] == "OK"),
                    "p50_s": percentile(lat, 0.5), "p99_s": percentile(lat, 0.99),
                    "rss_mib": max((s["rss"] for s in smp), default=0) / 2**20,
                    "threads": max((s["threads"] for s in smp), default=0)})
    return out


def resources(samples, seconds):
    """RSS growth from 20% of the run (minute 2 of 10) to the end; threads after that point."""
    start = [s for s in samples if 0.18 * seconds <= s["t"] <= 0.22 * seconds]
    tail = [s for s in samples if s["t"] >= 0.95 * seconds]
    after = [s for s in samples if s["t"] >= 0.2 * seconds]
    if not start or not tail:
        return {"rss_growth": None}
    base = sum(s["rss"] for s in start) / len(start)
    end = sum(s["rss"] for s in tail) / len(tail)
    return {"rss_at_20pct_mib": base / 2**20, "rss_end_mib": end / 2**20,
            "rss_max_mib": max(s["rss"] for s in samples) / 2**20,
            "rss_growth": (end - base) / base,
            "threads_min": min(s["threads"] for s in after),
            "threads_max": max(s["threads"] for s in after)}
