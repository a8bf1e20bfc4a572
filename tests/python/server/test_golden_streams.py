"""Must-show 1: 64 concurrent streams cycling through the 10 golden prompts, both lengths and both
stop settings, all match llama2.c's greedy output; the same through Complete; text prompts are
tokenized as llama2.c does."""
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import ribbond_harness as h
from ribbond_harness import pb

CASES = h.load_golden()
COMBOS = list(itertools.product(range(len(CASES)), (64, 200), (False, True)))
CONCURRENCY = 64


def check_result(combo, ids, text, finish_reason, usage):
    case_index, max_new, with_stop = combo
    case = CASES[case_index]
    want_ids, want_text, want_reason = h.golden_expectation(case, max_new, with_stop)
    label = f"{case['name']} max_new_tokens={max_new} stop_ids={with_stop}"
    assert ids == want_ids, label
    if want_text is not None:
        assert text.decode("utf-8") == want_text, label
    assert finish_reason == want_reason, label
    assert usage.prompt_tokens == len(case["prompt_ids"]), label
    assert usage.generated_tokens == len(want_ids), label


def run_concurrently(fn, count):
    """Runs fn(i) for i in range(count) on `count` threads released together."""
    barrier = threading.Barrier(count)

    def task(i):
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


def test_64_concurrent_streams_match_golden(module_ribbond):
    stub = module_ribbond.stub()

    def stream(i):
        combo = COMBOS[i % len(COMBOS)]
        request = h.golden_request(CASES[combo[0]], combo[1], combo[2], client_request_id=f"s{i}")
        ids, text, messages = h.collect_stream(stub.Generate(request, timeout=120))
        last = messages[-1]
        check_result(combo, ids, text, last.finish_reason, last.usage)
        assert last.request_id
        assert last.timings.total_seconds >= last.timings.time_to_first_token_seconds > 0
        # Only the last message carries the finish reason.
        assert all(m.finish_reason == pb.FINISH_REASON_UNSPECIFIED for m in messages[:-1])
        return len(messages)

    message_counts = run_concurrently(stream, CONCURRENCY)
    assert sum(message_counts) > CONCURRENCY  # tokens really were streamed, not sent at the end
    module_ribbond.wait_kv_released()
    access = [a for a in module_ribbond.access_log() if a["client_request_id"].startswith("s")]
    assert len(access) == CONCURRENCY
    assert all(a["status"] == "OK" and a["method"] == "Generate" for a in access)


def test_64_concurrent_completes_match_golden(module_ribbond):
    stub = module_ribbond.stub()

    def complete(i):
        combo = COMBOS[(i * 7) % len(COMBOS)]
        result = stub.Complete(h.golden_request(CASES[combo[0]], combo[1], combo[2]), timeout=120)
        check_result(combo, list(result.token_ids), result.text, result.finish_reason, result.usage)

    run_concurrently(complete, CONCURRENCY)
    module_ribbond.wait_kv_released()


def test_text_prompts_are_tokenized_like_llama2c(module_ribbond):
    stub = module_ribbond.stub()
    for case in [c for c in CASES if c["prompt"]][:4]:
        ids = list(stub.Tokenize(pb.TokenizeRequest(text=case["prompt"].encode(), add_special_tokens=True)).token_ids)
        assert ids == case["prompt_ids"], case["name"]
        request = pb.GenerateRequest(text=case["prompt"].encode(), max_new_tokens=64, stop_token_ids=[1, 2])
        result = stub.Complete(request, timeout=60)
        want_ids, want_text, _ = h.golden_expectation(case, 64, True)
        assert list(result.token_ids) == want_ids
        assert result.text.decode() == want_text
        assert result.usage.prompt_tokens == len(case["prompt_ids"])
        text = stub.Detokenize(pb.DetokenizeRequest(token_ids=want_ids, skip_special_tokens=True)).text
        assert text.decode().strip() == want_text.strip()


def test_stop_strings_truncate_text_and_end_the_sequence(module_ribbond):
    stub = module_ribbond.stub()
    case = CASES[0]  # ", there was a little girl named Lily. ..."
    request = h.golden_request(case, 200, True)
    request.stop.extend([b"named Lily", b"never appears"])
    ids, text, messages = h.collect_stream(stub.Generate(request, timeout=60))
    want_ids, want_text, _ = h.golden_expectation(case, 200, True)
    cut = want_text.index("named Lily")
    assert text.decode() == want_text[:cut]
    assert messages[-1].finish_reason == pb.FINISH_REASON_STOP_STRING
    # The ids stop at the token that completed the stop string; the engine stopped there too.
    assert ids == want_ids[:len(ids)] and 0 < len(ids) < 20
    assert messages[-1].usage.generated_tokens == len(ids)


def test_model_and_server_info(module_ribbond):
    stub = module_ribbond.stub()
    model = stub.GetModelInfo(pb.GetModelInfoRequest())
    assert (model.architecture, model.context_length, model.vocab_size) == ("LlamaForCausalLM", 512, 512)
    assert model.bos_token_id == 1 and list(model.eos_token_ids) == [2]
    assert model.parameters > 0 and model.dtype
    info = stub.GetServerInfo(pb.GetServerInfoRequest())
    assert info.version and info.kv_blocks_total > 0 and info.kv_block_size == 16
    assert '"listen": "127.0.0.1:0"' in info.config_json
