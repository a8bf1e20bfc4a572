"""Must-show 4: bad requests each get the expected status and a message naming what is wrong, and
the well-formed requests sent between them are served. The daemon requires a bearer token."""
import math

import grpc
import pytest

import ribbond_harness as h
from ribbond_harness import pb

RIBBOND_AUTH_TOKEN = "test-token-7c1f"
CASES = h.load_golden()
PROMPT = CASES[0]["prompt_ids"]
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def ids(values, **fields):
    return pb.GenerateRequest(token_ids=pb.TokenIds(ids=values), **fields)


def text(value, **fields):
    return pb.GenerateRequest(text=value, **fields)


def with_stops(stops):
    request = ids(PROMPT, max_new_tokens=8)
    request.stop.extend(stops)
    return request


# (name, request, expected code, fragments the message must contain)
BAD_GENERATE = [
    ("no prompt", pb.GenerateRequest(max_new_tokens=8), INVALID, ["prompt", "text or token_ids"]),
    ("empty text", text(b""), INVALID, ["text", "empty"]),
    ("empty token ids", ids([]), INVALID, ["token_ids", "empty"]),
    ("prompt past context", ids([1] + [400] * 599), INVALID, ["600 tokens", "512"]),
    ("text prompt past context", text(b"the cat " * 400), INVALID, ["tokens", "context of 512"]),
    ("max_new_tokens 0", ids(PROMPT, max_new_tokens=0), INVALID, ["max_new_tokens = 0", "[1, 507]"]),
    ("max_new_tokens huge", ids(PROMPT, max_new_tokens=4_000_000_000), INVALID, ["max_new_tokens", "[1, 507]"]),
    ("max_new_tokens past context", ids([1] + [400] * 499, max_new_tokens=100), INVALID,
     ["max_new_tokens = 100", "[1, 12]"]),
    ("min above max", ids(PROMPT, max_new_tokens=4, min_new_tokens=9), INVALID, ["min_new_tokens = 9", "[0, 4]"]),
    ("negative temperature", ids(PROMPT, temperature=-0.1), INVALID, ["temperature", "[0, 100]"]),
    ("NaN temperature", ids(PROMPT, temperature=math.nan), INVALID, ["temperature = nan", "[0, 100]"]),
    ("infinite temperature", ids(PROMPT, temperature=math.inf), INVALID, ["temperature = inf"]),
    ("top_p 0", ids(PROMPT, top_p=0.0), INVALID, ["top_p = 0", "(0, 1]"]),
    ("top_p above 1", ids(PROMPT, top_p=1.01), INVALID, ["top_p", "(0, 1]"]),
    ("NaN top_p", ids(PROMPT, top_p=math.nan), INVALID, ["top_p = nan"]),
    ("negative top_k", ids(PROMPT, top_k=-1), INVALID, ["top_k = -1", "[0, "]),
    ("negative min_p", ids(PROMPT, min_p=-0.5), INVALID, ["min_p = -0.5", "[0, 1]"]),
    ("min_p above 1", ids(PROMPT, min_p=1.5), INVALID, ["min_p = 1.5"]),
    ("zero repetition penalty", ids(PROMPT, repetition_penalty=0.0), INVALID, ["repetition_penalty", "(0, 100]"]),
    ("negative repetition penalty", ids(PROMPT, repetition_penalty=-1.0), INVALID, ["repetition_penalty = -1"]),
    ("presence penalty", ids(PROMPT, presence_penalty=2.5), INVALID, ["presence_penalty = 2.5", "[-2, 2]"]),
    ("frequency penalty", ids(PROMPT, frequency_penalty=-3.0), INVALID, ["frequency_penalty = -3", "[-2, 2]"]),
    ("invalid UTF-8 prompt", text(b"Once upon \xff\xfe a time"), INVALID, ["text", "invalid UTF-8 at byte 10"]),
    ("overlong UTF-8 prompt", text(b"\xc0\xaf"), INVALID, ["text", "invalid UTF-8 at byte 0"]),
    ("invalid UTF-8 stop string", with_stops([b"ok", b"bad\xed\xa0\x80"]), INVALID, ["stop[1]", "invalid UTF-8"]),
    ("empty stop string", with_stops([b""]), INVALID, ["stop[0]", "empty"]),
    ("long stop string", with_stops([b"x" * 300]), INVALID, ["stop[0]", "300 bytes", "256"]),
    ("10,000 stop strings", with_stops([b"s%d" % i for i in range(10000)]), INVALID,
     ["10000 stop strings", "at most 16"]),
    ("token id past vocab", ids([1, 403, 512]), INVALID, ["token_ids[2] = 512", "[0, 512)"]),
    ("negative token id", ids([1, -5]), INVALID, ["token_ids[1] = -5"]),
    ("stop token id past vocab", ids(PROMPT, stop_token_ids=[2, 9999]), INVALID, ["stop_token_ids[1] = 9999"]),
    ("too many top logprobs", ids(PROMPT, top_logprobs=1000), INVALID, ["top_logprobs = 1000", "[0, 20]"]),
    ("long client request id", ids(PROMPT, client_request_id="r" * 500), INVALID, ["client_request_id", "500 bytes"]),
    ("oversized message", text(b"a" * (5 << 20)), grpc.StatusCode.RESOURCE_EXHAUSTED, ["larger than max"]),
]


@pytest.fixture(scope="module")
def stub(module_ribbond):
    return module_ribbond.stub()


def metadata(token=RIBBOND_AUTH_TOKEN):
    return [("authorization", f"Bearer {token}")]


def check_well_formed_is_served(stub, i):
    case = CASES[i % len(CASES)]
    ids_, text_, _ = h.collect_stream(stub.Generate(h.golden_request(case, 64, True), metadata=metadata(), timeout=60))
    want_ids, want_text, _ = h.golden_expectation(case, 64, True)
    assert ids_ == want_ids and text_.decode() == want_text


def expect_error(call, code, fragments, name):
    with pytest.raises(grpc.RpcError) as error:
        call()
    assert error.value.code() == code, f"{name}: {error.value.details()}"
    details = error.value.details() or ""
    for fragment in fragments:
        assert fragment in details, f"{name}: {details!r} lacks {fragment!r}"


def test_each_bad_generate_request_is_refused_and_the_server_keeps_serving(stub, module_ribbond):
    assert len(BAD_GENERATE) >= 30
    for i, (name, request, code, fragments) in enumerate(BAD_GENERATE):
        expect_error(lambda: list(stub.Generate(request, metadata=metadata(), timeout=30)), code, fragments, name)
        if i % 3 == 0:  # Complete validates the same way
            expect_error(lambda: stub.Complete(request, metadata=metadata(), timeout=30), code, fragments, name)
        check_well_formed_is_served(stub, i)
    module_ribbond.wait_kv_released()
    refused = [a for a in module_ribbond.access_log() if a["status"] == "INVALID_ARGUMENT"]
    assert len(refused) >= 30 and all(a["message"] for a in refused)


def test_authentication_is_required(stub):
    request = h.golden_request(CASES[0], 8, True)
    for name, md in [("no token", None), ("wrong token", metadata("nope")),
                     ("not a bearer token", [("authorization", RIBBOND_AUTH_TOKEN)])]:
        expect_error(lambda: list(stub.Generate(request, metadata=md, timeout=10)),
                     grpc.StatusCode.UNAUTHENTICATED, ["bearer token"], name)
        expect_error(lambda: stub.GetModelInfo(pb.GetModelInfoRequest(), metadata=md, timeout=10),
                     grpc.StatusCode.UNAUTHENTICATED, ["bearer token"], name)
        check_well_formed_is_served(stub, 1)


def test_bad_tokenize_and_detokenize(stub):
    expect_error(lambda: stub.Tokenize(pb.TokenizeRequest(text=b"\xff"), metadata=metadata(), timeout=10),
                 INVALID, ["text", "invalid UTF-8"], "tokenize")
    expect_error(lambda: stub.Detokenize(pb.DetokenizeRequest(token_ids=[1, 700]), metadata=metadata(), timeout=10),
                 INVALID, ["token_ids[1] = 700"], "detokenize")
    assert list(stub.Tokenize(pb.TokenizeRequest(text=b"Once upon a time", add_special_tokens=True),
                              metadata=metadata(), timeout=10).token_ids) == CASES[0]["prompt_ids"]
