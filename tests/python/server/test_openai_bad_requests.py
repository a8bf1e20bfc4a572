"""#17 must-show 3: bad HTTP requests to the OpenAI API (malformed JSON, wrong types, unknown model,
out-of-range values, body too large, missing auth, wrong method, non-UTF-8, a template error,
unimplemented features), each answered with the right status and an OpenAI-shaped error naming the
parameter, and the server serving a good request after each. Unknown fields are ignored with a
warning in the log."""
import http.client
import json
import os

import ribbond_harness as h

TEMPLATE = os.path.join(os.path.dirname(__file__), "data", "simple_chat_template.jinja")
RIBBOND_AUTH_TOKEN = "open-sesame"
RIBBOND_ARGS = ("--chat-template", TEMPLATE, "--openai.max_body_bytes", "65536")
MODEL = os.path.basename(h.STORIES)
AUTH = {"Authorization": f"Bearer {RIBBOND_AUTH_TOKEN}", "Content-Type": "application/json"}
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def body(**fields):
    return json.dumps({"model": MODEL, "max_tokens": 4, **fields}).encode()


def prompt(**fields):
    return body(prompt="Once upon a time", **fields)


def chat(**fields):
    return body(messages=[{"role": "user", "content": "Hi"}], **fields)


# (name, method, path, body bytes, headers, status, param or None, fragment of the message)
BAD = [
    ("malformed JSON", "POST", COMPLETIONS, b'{"prompt": ', AUTH, 400, "body", "not valid JSON"),
    ("body not an object", "POST", COMPLETIONS, b"[1, 2]", AUTH, 400, "body", "JSON object"),
    ("non-UTF-8 body", "POST", COMPLETIONS, b'{"prompt": "\xff\xfe"}', AUTH, 400, "body", "UTF-8"),
    ("max_tokens wrong type", "POST", COMPLETIONS, prompt(max_tokens="ten"), AUTH, 400, "max_tokens", "integer"),
    ("max_tokens zero", "POST", COMPLETIONS, prompt(max_tokens=0), AUTH, 400, "max_tokens", "max_tokens = 0"),
    ("max_tokens past the context", "POST", COMPLETIONS, prompt(max_tokens=100000), AUTH, 400, "max_tokens",
     "context"),
    ("temperature negative", "POST", COMPLETIONS, prompt(temperature=-1), AUTH, 400, "temperature", "temperature"),
    ("top_p zero", "POST", COMPLETIONS, prompt(top_p=0), AUTH, 400, "top_p", "top_p"),
    ("presence_penalty too big", "POST", CHAT, chat(presence_penalty=5), AUTH, 400, "presence_penalty", "[-2, 2]"),
    ("n zero", "POST", COMPLETIONS, prompt(n=0), AUTH, 400, "n", "n = 0"),
    ("n too big", "POST", CHAT, chat(n=1000), AUTH, 400, "n", "n = 1000"),
    ("unknown model", "POST", CHAT, json.dumps({"model": "gpt-5", "messages": []}).encode(), AUTH, 404, "model",
     "gpt-5"),
    ("logprobs too many", "POST", COMPLETIONS, prompt(logprobs=50), AUTH, 400, "logprobs", "logprobs"),
    ("top_logprobs too many", "POST", CHAT, chat(logprobs=True, top_logprobs=30), AUTH, 400, "top_logprobs",
     "top_logprobs"),
    ("stop wrong type", "POST", COMPLETIONS, prompt(stop=5), AUTH, 400, "stop", "stop"),
    ("prompt missing", "POST", COMPLETIONS, body(), AUTH, 400, "prompt", "prompt"),
    ("prompt empty", "POST", COMPLETIONS, body(prompt=""), AUTH, 400, "prompt", "empty"),
    ("prompt id outside the vocabulary", "POST", COMPLETIONS, body(prompt=[1, 99999]), AUTH, 400, "prompt",
     "99999"),
    ("messages empty", "POST", CHAT, body(messages=[]), AUTH, 400, "messages", "messages"),
    ("message without role", "POST", CHAT, body(messages=[{"content": "x"}]), AUTH, 400, "messages[0].role",
     "role"),
    ("logit_bias key not an id", "POST", COMPLETIONS, prompt(logit_bias={"abc": 1}), AUTH, 400, "logit_bias",
     "abc"),
    ("logit_bias id outside the vocabulary", "POST", COMPLETIONS, prompt(logit_bias={"9999": 1}), AUTH, 400,
     "logit_bias", "9999"),
    ("logit_bias out of range", "POST", COMPLETIONS, prompt(logit_bias={"5": 500}), AUTH, 400, "logit_bias",
     "[-100, 100]"),
    ("stream wrong type", "POST", CHAT, chat(stream="yes"), AUTH, 400, "stream", "true or false"),
    ("tools needing tool-call parsing", "POST", CHAT,
     chat(tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="auto"), AUTH, 400, "tools",
     "tool-call parsing"),
    ("response_format", "POST", CHAT, chat(response_format={"type": "json_object"}), AUTH, 400,
     "response_format", "response_format"),
    ("reasoning_effort", "POST", CHAT, chat(reasoning_effort="high"), AUTH, 400, "reasoning_effort",
     "reasoning"),
    ("echo", "POST", COMPLETIONS, prompt(echo=True), AUTH, 400, "echo", "echo"),
    ("template error", "POST", CHAT, body(messages=[{"role": "system", "content": "x"}]), AUTH, 400, "messages",
     "System role not supported by this template"),
    ("body too large", "POST", COMPLETIONS, prompt(user="x" * 100000), AUTH, 413, None, "openai.max_body_bytes"),
    ("missing auth", "POST", COMPLETIONS, prompt(), {"Content-Type": "application/json"}, 401, None,
     "bearer token"),
    ("wrong auth", "GET", "/v1/models", b"", {"Authorization": "Bearer nope"}, 401, None, "bearer token"),
    ("wrong method", "GET", COMPLETIONS, b"", AUTH, 405, None, "POST"),
    ("unknown path", "POST", "/v1/embeddings", prompt(), AUTH, 404, None, "/v1/embeddings"),
]


def send(port, method, path, data, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=data or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def check_good_request_served(port, i):
    status, data = send(port, "POST", COMPLETIONS, prompt(max_tokens=3, seed=i), AUTH)
    assert status == 200, data
    answer = json.loads(data)
    assert answer["choices"][0]["text"] and answer["usage"]["completion_tokens"] == 3


def test_each_bad_request_gets_its_status_and_an_openai_error(module_ribbond):
    assert len(BAD) >= 25
    port = module_ribbond.openai_port
    for i, (name, method, path, data, headers, status, param, fragment) in enumerate(BAD):
        got, raw = send(port, method, path, data, headers)
        assert got == status, f"{name}: {got} {raw[:300]!r}"
        error = json.loads(raw)["error"]
        assert set(error) == {"message", "type", "param", "code"}, name
        assert isinstance(error["message"], str) and fragment in error["message"], f"{name}: {error}"
        assert isinstance(error["type"], str) and error["type"], name
        if param is not None:
            assert error["param"] == param, f"{name}: {error}"
        check_good_request_served(port, i)
    module_ribbond.wait_kv_released()


def test_unknown_fields_are_ignored_with_a_warning(module_ribbond):
    status, data = send(module_ribbond.openai_port, "POST", COMPLETIONS,
                        prompt(some_future_option=True, another=1), AUTH)
    assert status == 200, data
    warnings = h.wait_until(lambda: module_ribbond.log_events("openai_unknown_fields"), 10, what="a warning")
    assert warnings[-1]["fields"] == ["another", "some_future_option"]


def test_health_needs_no_token_and_metrics_do(module_ribbond):
    port = module_ribbond.openai_port
    assert send(port, "GET", "/health", b"", {})[0] == 200
    assert send(port, "GET", "/metrics", b"", {})[0] == 401
    status, data = send(port, "GET", "/metrics", b"", AUTH)
    assert status == 200 and b"ribbon_" in data
