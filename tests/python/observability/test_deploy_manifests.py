"""The Kubernetes manifests agree with ribbond's configuration: the embedded ribbond.json only
uses keys that ribbond documents (config/ribbond.json), RIBBON_* variables name real keys, the
probes and annotations point at the ports the config listens on, and the pod's grace period
outlasts the drain."""
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEFAULTS = json.loads((ROOT / "config/ribbond.json").read_text())


def documented_keys(tree, prefix=""):
    keys = set()
    for k, v in tree.items():
        if k.startswith("//"):
            continue
        keys.add(prefix + k)
        if isinstance(v, dict):
            keys |= documented_keys(v, prefix + k + ".")
    return keys


def manifests():
    return list(yaml.safe_load_all((ROOT / "deploy/kubernetes/ribbond.yaml").read_text()))


def test_embedded_config_and_env_use_documented_keys():
    keys = documented_keys(DEFAULTS)
    docs = {d["kind"]: d for d in manifests()}
    embedded = json.loads(docs["ConfigMap"]["data"]["ribbond.json"])
    assert documented_keys(embedded) <= keys, documented_keys(embedded) - keys
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env_keys = {e["name"][len("RIBBON_"):].lower() for e in container.get("env", [])}
    flat = {k.replace(".", "_") for k in keys}
    assert env_keys <= flat, env_keys - flat


def test_probes_and_ports_match_the_listen_addresses():
    docs = {d["kind"]: d for d in manifests()}
    embedded = json.loads(docs["ConfigMap"]["data"]["ribbond.json"])
    grpc_port = int(embedded["server"]["listen"].rsplit(":", 1)[1])
    http_port = int(embedded["http"]["listen"].rsplit(":", 1)[1])
    pod = docs["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": grpc_port, "metrics": http_port}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(http_port)
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["grpc"] == {"port": grpc_port, "service": "ribbon.v1.Generation"}
    assert pod["spec"]["terminationGracePeriodSeconds"] > embedded["server"]["shutdown_grace_seconds"]
