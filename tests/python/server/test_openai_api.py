"""#17 must-show 2: the official `openai` package (pinned in requirements.lock) drives ribbond's
OpenAI-compatible API on stories260K: completions and chat, streamed and not, n > 1, stop
strings, seeds, logprobs, usage equal to the gRPC API's for the same request, and greedy text
equal to the stories260K goldens. stories260K has no chat template, so the daemon gets a simple
one with --chat-template (tests/python/server/data/simple_chat_template.jinja)."""
import os

import grpc
import openai
import pytest

import ribbond_harness as h
from ribbond_harness import pb

TEMPLATE = os.path.join(os.path.dirname(__file__), "data", "simple_chat_template.jinja")
RIBBOND_ARGS = ("--chat-template", TEMPLATE, "--served-model-name", "stories")
CASES = h.load_golden()


@pytest.fixture(scope="module")
def client(module_ribbond):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{module_ribbond.openai_port}/v1", api_key="none",
                         max_retries=0, timeout=60)


def golden(case, max_new=64):
    return h.golden_expectation(case, max_new, True)


def stop_ids():
    return {"stop_token_ids": [1, 2]}


def test_models_lists_the_served_name_with_max_model_len(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["stories"]
    assert models.data[0].model_extra["max_model_len"] == 512


def test_greedy_completions_equal_the_goldens_streamed_and_not(client):
    streamed_chunks = 0
    for case in CASES:
        want_ids, want_text, _ = golden(case)
        result = client.completions.create(model="stories", prompt=case["prompt_ids"], max_tokens=64,
                                           temperature=0, extra_body=stop_ids())
        choice = result.choices[0]
        assert choice.text == want_text, case["name"]
        assert choice.finish_reason == ("length" if len(want_ids) == 64 else "stop")
        assert result.usage.prompt_tokens == len(case["prompt_ids"])
        assert result.usage.completion_tokens == len(want_ids)
        assert result.usage.total_tokens == len(case["prompt_ids"]) + len(want_ids)
        stream = client.completions.create(model="stories", prompt=case["prompt_ids"], max_tokens=64,
                                           temperature=0, stream=True, extra_body=stop_ids())
        chunks = list(stream)
        assert "".join(c.choices[0].text for c in chunks if c.choices) == want_text
        streamed_chunks += len(chunks)
        assert chunks[-1].choices[0].finish_reason == choice.finish_reason
    assert streamed_chunks > 3 * len(CASES)  # really streamed, not sent at the end


def test_text_prompt_and_usage_equal_the_grpc_api(client, module_ribbond):
    stub = module_ribbond.stub()
    case = next(c for c in CASES if c["prompt"])
    request = pb.GenerateRequest(text=case["prompt"].encode(), max_new_tokens=40, stop_token_ids=[1, 2])
    grpc_result = stub.Complete(request, timeout=60)
    result = client.completions.create(model="stories", prompt=case["prompt"], max_tokens=40, temperature=0,
                                       extra_body=stop_ids())
    assert result.choices[0].text == grpc_result.text.decode()
    assert result.usage.prompt_tokens == grpc_result.usage.prompt_tokens
    assert result.usage.completion_tokens == grpc_result.usage.generated_tokens


def test_chat_renders_the_template_and_matches_grpc_chat(client, module_ribbond):
    messages = [{"role": "user", "content": "Tell me a story."}, {"role": "assistant", "content": "Once"},
                {"role": "user", "content": "More, about Lily."}]
    result = client.chat.completions.create(model="stories", messages=messages, max_tokens=48, temperature=0)
    text = result.choices[0].message.content
    assert result.choices[0].message.role == "assistant" and text
    # The rendered prompt, tokenized without adding special tokens again (the template has BOS).
    rendered = "<s>" + "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
    stub = module_ribbond.stub()
    ids = list(stub.Tokenize(pb.TokenizeRequest(text=rendered.encode(), add_special_tokens=False)).token_ids)
    assert ids[0] == 1 and ids.count(1) == 1
    assert result.usage.prompt_tokens == len(ids)
    by_ids = stub.Complete(pb.GenerateRequest(token_ids=pb.TokenIds(ids=ids), max_new_tokens=48), timeout=60)
    assert text == by_ids.text.decode()
    chat = pb.ChatPrompt(messages=[pb.ChatMessage(role=m["role"], content=m["content"].encode()) for m in messages])
    by_chat = stub.Complete(pb.GenerateRequest(chat=chat, max_new_tokens=48), timeout=60)
    assert text == by_chat.text.decode()
    assert result.usage.completion_tokens == by_chat.usage.generated_tokens
    # Streamed: the same text, the role first, usage at the end.
    stream = client.chat.completions.create(model="stories", messages=messages, max_tokens=48, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == result.usage.total_tokens


def test_n_and_seeds(client, module_ribbond):
    args = dict(model="stories", prompt="Once upon a time", max_tokens=24, temperature=1.0, n=4, seed=1234)
    first = client.completions.create(**args)
    again = client.completions.create(**args)
    assert [c.index for c in first.choices] == [0, 1, 2, 3]
    texts = [c.text for c in first.choices]
    assert texts == [c.text for c in again.choices]  # same seed, same texts
    assert len(set(texts)) >= 3  # sequences differ
    assert first.usage.prompt_tokens == len(stub_ids(module_ribbond, "Once upon a time"))  # counted once
    assert 4 <= first.usage.completion_tokens <= 4 * 24
    other = client.completions.create(**{**args, "seed": 99})
    assert [c.text for c in other.choices] != texts
    # Streamed n = 4: every index ends once; the text per index equals the unary answer.
    chunks = list(client.completions.create(**args, stream=True))
    streamed = {i: "" for i in range(4)}
    finished = []
    for chunk in chunks:
        for choice in chunk.choices:
            streamed[choice.index] += choice.text
            if choice.finish_reason:
                finished.append(choice.index)
    assert sorted(finished) == [0, 1, 2, 3]
    assert [streamed[i] for i in range(4)] == texts
    # gRPC n = 4 with the same seed gives the same sequences.
    result = module_ribbond.stub().Complete(pb.GenerateRequest(text=b"Once upon a time", max_new_tokens=24,
                                                               temperature=1.0, n=4, seed=1234), timeout=60)
    assert [result.text.decode()] + [m.text.decode() for m in result.more] == texts
    assert [m.index for m in result.more] == [1, 2, 3]


def stub_ids(daemon, text):
    return list(daemon.stub().Tokenize(pb.TokenizeRequest(text=text.encode(), add_special_tokens=True)).token_ids)


def test_stop_strings(client):
    case = CASES[0]
    want_text = golden(case, 200)[1]
    for stream in (False, True):
        response = client.completions.create(model="stories", prompt=case["prompt_ids"], max_tokens=200,
                                             temperature=0, stop=["named Lily", "never"], stream=stream,
                                             extra_body=stop_ids())
        if stream:
            chunks = list(response)
            text = "".join(c.choices[0].text for c in chunks if c.choices)
            reason = chunks[-1].choices[0].finish_reason
        else:
            text, reason = response.choices[0].text, response.choices[0].finish_reason
        assert text == want_text[:want_text.index("named Lily")]
        assert reason == "stop"


def test_logprobs_in_both_formats_equal_grpc(client, module_ribbond):
    case = CASES[1]
    result = client.completions.create(model="stories", prompt=case["prompt_ids"], max_tokens=12,
                                       temperature=0, logprobs=3, extra_body={"ignore_eos": True})
    lp = result.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == 12
    assert all(len(top) <= 3 for top in lp.top_logprobs) and all(v <= 0 for v in lp.token_logprobs)
    assert "".join(lp.tokens).strip() == result.choices[0].text.strip()
    grpc_result = module_ribbond.stub().Complete(
        pb.GenerateRequest(token_ids=pb.TokenIds(ids=case["prompt_ids"]), max_new_tokens=12, ignore_eos=True,
                           logprobs=True, top_logprobs=3), timeout=60)
    assert lp.token_logprobs == pytest.approx([t.logprob for t in grpc_result.logprobs], abs=1e-5)
    chat = client.chat.completions.create(model="stories", messages=[{"role": "user", "content": "Hi"}],
                                          max_tokens=8, temperature=0, logprobs=True, top_logprobs=2,
                                          extra_body={"ignore_eos": True})
    content = chat.choices[0].logprobs.content
    assert len(content) == 8 and all(len(t.top_logprobs) == 2 for t in content)
    assert "".join(t.token for t in content).strip() == chat.choices[0].message.content.strip()
    assert all(bytes(t.bytes) == t.token.encode() for t in content)


def test_errors_are_openai_errors(client):
    with pytest.raises(openai.NotFoundError) as error:
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
    assert "gpt-4" in str(error.value)
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="stories", max_tokens=4,
                                       messages=[{"role": "system", "content": "be brief"}])
    assert "System role not supported by this template" in str(error.value)
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model="stories", prompt="x", max_tokens=2, temperature=7000)
    assert error.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="stories", messages=[{"role": "user", "content": "x"}],
                                       response_format={"type": "json_object"})
    assert "response_format" in str(error.value)


def test_auth_applies_to_the_http_api(start_ribbond):
    daemon = start_ribbond(auth_token="sesame")
    base = f"http://127.0.0.1:{daemon.openai_port}/v1"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
    good = openai.OpenAI(base_url=base, api_key="sesame", max_retries=0)
    assert good.completions.create(model=os.path.basename(h.STORIES), prompt="Once", max_tokens=3).choices


def test_logit_bias_reaches_the_sampler_on_both_apis(client, module_ribbond):
    case = CASES[2]
    want_ids = golden(case, 64)[0]
    banned = want_ids[0]  # the greedy first token, pushed out
    favoured = 300
    result = client.completions.create(model="stories", prompt=case["prompt_ids"], max_tokens=8, temperature=0,
                                       logit_bias={str(banned): -100, str(favoured): 100},
                                       extra_body={"ignore_eos": True})
    grpc_result = module_ribbond.stub().Complete(
        pb.GenerateRequest(token_ids=pb.TokenIds(ids=case["prompt_ids"]), max_new_tokens=8, ignore_eos=True,
                           logit_bias={banned: -100.0, favoured: 100.0}), timeout=60)
    assert list(grpc_result.token_ids) == [favoured] * 8
    assert result.choices[0].text == grpc_result.text.decode()
    # A bias that only removes the greedy token changes the first token and nothing is favoured.
    only_ban = module_ribbond.stub().Complete(
        pb.GenerateRequest(token_ids=pb.TokenIds(ids=case["prompt_ids"]), max_new_tokens=4, ignore_eos=True,
                           logit_bias={banned: -100.0}), timeout=60)
    assert only_ban.token_ids[0] != banned
