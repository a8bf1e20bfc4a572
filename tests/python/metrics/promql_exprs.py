"""Every PromQL expression of ribbon's Grafana dashboard and Prometheus alert rules.

Reads deploy/grafana/ribbon.json (each panel target's `expr`, rows' nested panels included) and
deploy/prometheus/alerts.yaml (each rule's `expr`). Grafana's own variables are replaced by
values a plain Prometheus accepts (SUBSTITUTIONS), so that each expression can be sent as is to
/api/v1/query. Template-variable queries such as label_values(...) are Grafana functions, not
PromQL, and are not included.

Use as a library (collect(), referenced_metrics()) or from the command line:
    python promql_exprs.py [--root REPO] [--json]
which prints one expression per line (or a JSON list of {source, expr}).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

DASHBOARD = Path("deploy/grafana/ribbon.json")
ALERTS = Path("deploy/prometheus/alerts.yaml")

# Grafana variable -> what a Prometheus query gets instead. Longest names first so that
# "$__rate_interval" is not read as "$__rate" + "_interval".
SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "${__interval}": "15s",
    "$__range": "1h",
    "${__range}": "1h",
    "${instance}": ".*",
    "$instance": ".*",
}

_METRIC_NAME = re.compile(r"\bribbon_[a-zA-Z0-9_]+")


@dataclass(frozen=True)
class PromqlExpr:
    source: str  # "grafana: <panel title> / <refId>" or "alerts: <group> / <alert name>"
    expr: str    # ready for Prometheus (Grafana variables substituted)


def substitute(expr: str) -> str:
    """Replaces the Grafana variables; raises ValueError if an unknown one is left."""
    for variable in sorted(SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(variable, SUBSTITUTIONS[variable])
    if "$" in expr:
        raise ValueError(f"unknown Grafana variable in: {expr}")
    return expr


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_exprs(path: Path) -> list[PromqlExpr]:
    dashboard = json.loads(path.read_text())
    found = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                source = f"grafana: {panel.get('title', '?')} / {target.get('refId', '?')}"
                found.append(PromqlExpr(source, substitute(target["expr"])))
    return found


def alert_exprs(path: Path) -> list[PromqlExpr]:
    rules = yaml.safe_load(path.read_text())
    found = []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record") or "?"
            found.append(PromqlExpr(f"alerts: {group['name']} / {name}", str(rule["expr"]).strip()))
    return found


def collect(root: Path) -> list[PromqlExpr]:
    """All expressions, dashboard first, in file order."""
    return dashboard_exprs(root / DASHBOARD) + alert_exprs(root / ALERTS)


def referenced_metrics(expr: str) -> set[str]:
    """The ribbon_* series names an expression reads."""
    return set(_METRIC_NAME.findall(expr))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[3],
                        help="repository root (default: this file's)")
    parser.add_argument("--json", action="store_true", help="print a JSON list of {source, expr}")
    args = parser.parse_args()
    exprs = collect(args.root)
    if args.json:
        json.dump([asdict(e) for e in exprs], sys.stdout, indent=2)
        print()
    else:
        for e in exprs:
            print(" ".join(e.expr.split()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
