"""The soak's report.json as Markdown (report.md beside it), the tables
docs/perf/reliability-2026-12-04.md records.

  python tests/soak/summary.py DIR/report.json"""
import json
import sys


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.0f}"


def outcomes(s):
    rows = ["| outcome (behaviour: code) | requests |", "|---|---:|"]
    rows += [f"| {k} | {v} |" for k, v in sorted(s["records"]["by_behaviour"].items())]
    return rows


def counts(s):
    m = s["metrics"]
    codes = sorted(set(m["daemon"]) | set(m["driver"]) | set(m["access_log"]))
    rows = ["| code | driver | daemon `ribbon_requests_total` | access log |", "|---|---:|---:|---:|"]
    rows += [f"| {c} | {m['driver'].get(c, 0)} | {m['daemon'].get(c, 0)} | {m['access_log'].get(c, 0)} |"
             for c in codes]
    return rows


def over_time(s):
    rows = ["| from (s) | requests | OK tokens | p50 (ms) | p99 (ms) | RSS (MiB) | threads |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {w['from_s']} | {w['requests']} | {w['ok_tokens']} | {_ms(w['p50_s'])} | "
             f"{_ms(w['p99_s'])} | {w['rss_mib']:.1f} | {w['threads']} |" for w in s["windows"]]
    return rows


def markdown(report):
    s, a = report["soak"], report["args"]
    if "crashed" in s:
        return f"ribbond crashed during the soak (exit {s['crashed']})\n"
    r, m, d = s["resources"], s["metrics"], s["deadlines"]
    lines = [f"{a['seconds']:.0f} s, {a['streams']} streams, seed {a['seed']}, {a['pool']} distinct "
             f"requests (references in {report['reference_seconds']:.0f} s).", "",
             f"- checked against the reference: {s['records']['checked_ok']} complete answers "
             f"({s['records']['tokens_ok']} tokens) and {s['records']['checked_partial']} partial "
             f"ones; mismatches {dict(s['records']['mismatch']) or 0}; unexpected outcomes "
             f"{dict(s['records']['unexpected']) or 0}",
             f"- deadlines: {len(d['late'])} overrun (grace {a['deadline_grace']} s), "
             f"{len(d['stuck'])} stuck, {d['never_reached']} expired before reaching ribbond",
             f"- gRPC requests joined to their access line: {m['grpc_joined']}; client/server "
             f"disagreements (all cancel or deadline races): {m['flips'] or 0}",
             f"- generated tokens: `ribbon_generation_tokens_total` {m['generation_tokens_metric']}, "
             f"access log {m['generation_tokens_logged']}",
             f"- engine: {s['steps']:.0f} steps, {s['oom_recoveries']:.0f} injected out-of-memory "
             f"steps recovered, {s['preemptions']:.0f} preemptions",
             f"- RSS {r['rss_at_20pct_mib']:.1f} MiB at 20% of the run, {r['rss_end_mib']:.1f} MiB at "
             f"the end ({r['rss_growth'] * 100:+.2f}%); threads {r['threads_min']}..{r['threads_max']}",
             f"- KV blocks free at the end: {s['kv_blocks_free']}/{s['kv_blocks_total']}; ribbond "
             f"exit code after SIGTERM: {s['exit_code']}", ""]
    lines += outcomes(s) + [""] + counts(s) + [""] + over_time(s) + [""]
    if "drill" in report:
        dr = report["drill"]
        if "error" in dr:
            lines.append(f"Crash drill: failed to run: {dr['error']}")
        else:
            lines.append(f"Crash drill: kill -9 at {dr['killed_at_s']:.1f} s, serving again at "
                         f"{dr['restarted_at_s']:.1f} s; {dr['unavailable']} calls saw UNAVAILABLE, "
                         f"{dr['ok_after_restart']} answers after the restart; outcomes "
                         f"{dict(dr['records']['by_code'])}; mismatches "
                         f"{dict(dr['records']['mismatch']) or 0}.")
    lines += ["", f"Verdict: {'PASS' if not report['failures'] else 'FAIL: ' + '; '.join(report['failures'])}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(markdown(json.load(f)))
