"""Must-show 6: standard gRPC health (liveness on "", readiness on ribbon.v1.Generation; no
authentication needed), server reflection, and the HTTP side port (/healthz, /readyz, /metrics)."""
import re
import urllib.request

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import ribbond_harness as h
from ribbond_harness import pb

RIBBOND_AUTH_TOKEN = "health-test-token"
SERVING = health_pb2.HealthCheckResponse.SERVING
CASES = h.load_golden()


def reflect(daemon, **request):
    stub = reflection_pb2_grpc.ServerReflectionStub(daemon.channel())
    responses = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=10))
    assert len(responses) == 1
    return responses[0]


def http_get(daemon, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}{path}", timeout=5) as response:
        return response.status, response.headers.get("Content-Type"), response.read().decode()


def metric_value(text, name, labels=""):
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


def test_health_answers_liveness_and_readiness_without_authentication(module_ribbond):
    assert module_ribbond.health("") == SERVING
    assert module_ribbond.health(h.READINESS_SERVICE) == SERVING
    with pytest.raises(grpc.RpcError) as error:
        module_ribbond.health("no.such.Service")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    # The Generation service itself does want the token.
    with pytest.raises(grpc.RpcError) as error:
        module_ribbond.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=5)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_reflection_lists_and_describes_the_services(module_ribbond):
    listed = reflect(module_ribbond, list_services="")
    names = {service.name for service in listed.list_services_response.service}
    assert {"ribbon.v1.Generation", "grpc.health.v1.Health"} <= names

    described = reflect(module_ribbond, file_containing_symbol="ribbon.v1.Generation")
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in described.file_descriptor_response.file_descriptor_proto]
    generation_file = next(f for f in files if f.package == "ribbon.v1")
    service = next(s for s in generation_file.service if s.name == "Generation")
    methods = {m.name: m for m in service.method}
    assert set(methods) == {"Generate", "Complete", "Tokenize", "Detokenize", "GetModelInfo", "GetServerInfo",
                            "DropPrefixCache"}
    assert methods["Generate"].server_streaming and not methods["Complete"].server_streaming
    request = next(m for m in generation_file.message_type if m.name == "GenerateRequest")
    assert {f.name for f in request.field} >= {"text", "token_ids", "max_new_tokens", "stop", "top_logprobs"}


def test_http_side_port_serves_health_readiness_and_metrics(module_ribbond):
    assert http_get(module_ribbond, "/healthz")[0] == 200
    assert http_get(module_ribbond, "/readyz")[:3:2] == (200, "ready\n")

    stub = module_ribbond.stub()
    metadata = module_ribbond.metadata()
    before = http_get(module_ribbond, "/metrics")[2]
    generated_before = metric_value(before, "ribbon_generation_tokens_total")
    for case in CASES[:3]:
        stub.Complete(h.golden_request(case, 64, False), metadata=metadata, timeout=30)
    with pytest.raises(grpc.RpcError):
        stub.Complete(pb.GenerateRequest(token_ids=pb.TokenIds(ids=[9999])), metadata=metadata, timeout=30)

    # The engine's observer counts a request just after its sink finished it: allow it a moment.
    def scraped_all():
        scraped = http_get(module_ribbond, "/metrics")
        return metric_value(scraped[2], "ribbon_generation_tokens_total") == generated_before + 3 * 64 and scraped
    status, content_type, text = h.wait_until(scraped_all, 5, what="the three requests in /metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert metric_value(text, "ribbon_requests_total", '{code="OK"}') >= 3
    assert metric_value(text, "ribbon_requests_total", '{code="INVALID_ARGUMENT"}') >= 1
    info = module_ribbond.server_info()
    assert metric_value(text, "ribbon_kv_blocks", '{state="free"}') == info.kv_blocks_free
    assert metric_value(text, "ribbon_memory_bytes", '{kind="weights"}') > 0
