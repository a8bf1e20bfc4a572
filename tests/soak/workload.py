"""The soak's seeded workload: a pool of distinct requests (whose references are computed once,
each alone), how each issue of one behaves (plain, cancelled, deadline, slow reader), and bad
requests with the code each must get. Pure functions of the seed: two runs with one seed send
the same requests in each stream's order.

A spec is plain data: {"api": ..., "body": ...}. gRPC bodies are GenerateRequest fields as a dict
(bytes as str, turned into bytes when sent); OpenAI bodies are the JSON sent as is."""
import json
import random

GRPC_APIS = ("grpc_generate", "grpc_complete")
OPENAI_APIS = ("openai_completions", "openai_chat")
STOP_IDS = [1, 2]  # stories260K's BOS/EOS
VOCAB = 512
WORDS = ("once upon a time there was a little girl named lily she liked to play outside with her "
         "big red ball one day the sun was happy and tom saw a dog in the park they ran").split()
STOP_STRINGS = (".", " the", " and", "!", " was")


def _words(rng, lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def _sampling(rng):
    """Greedy or seeded sampling, with the knobs a real client sets."""
    if rng.random() < 0.5:
        return {"temperature": 0.0}
    out = {"temperature": round(rng.uniform(0.5, 1.3), 2), "seed": rng.randrange(1 << 31)}
    if rng.random() < 0.4:
        out["top_k"] = rng.randint(5, 60)
    if rng.random() < 0.4:
        out["top_p"] = round(rng.uniform(0.6, 0.99), 2)
    return out


def _max_new(rng):
    # Mostly short answers, some long ones that are still running when deadlines expire.
    return rng.randint(1, 24) if rng.random() < 0.5 else rng.randint(25, 160)


def _grpc_spec(rng, api):
    body = {"max_new_tokens": _max_new(rng), **_sampling(rng)}
    if rng.random() < 0.5:
        body["token_ids"] = [rng.randrange(3, VOCAB) for _ in range(rng.randint(1, 48))]
    else:
        body["text"] = _words(rng, 1, 30)
    if rng.random() < 0.5:
        body["stop_token_ids"] = STOP_IDS
    else:
        body["ignore_eos"] = True
    if rng.random() < 0.3:
        body["stop"] = rng.sample(STOP_STRINGS, rng.randint(1, 2))
    return {"api": api, "body": body}


def _openai_spec(rng, api):
    body = {"max_tokens": _max_new(rng), "stream": rng.random() < 0.6, **_sampling(rng)}
    if api == "openai_chat":
        turns = [{"role": "user", "content": _words(rng, 1, 15)}]
        if rng.random() < 0.3:
            turns += [{"role": "assistant", "content": _words(rng, 1, 10)},
                      {"role": "user", "content": _words(rng, 1, 10)}]
        body["messages"] = turns
    elif rng.random() < 0.5:
        body["prompt"] = [rng.randrange(3, VOCAB) for _ in range(rng.randint(1, 48))]
    else:
        body["prompt"] = _words(rng, 1, 30)
    if rng.random() < 0.5:
        body["ignore_eos"] = True
    if rng.random() < 0.3:
        body["stop"] = rng.sample(STOP_STRINGS, rng.randint(1, 2))
    if body["stream"]:
        body["stream_options"] = {"include_usage": True}
    return {"api": api, "body": body}


def make_pool(seed, size):
    """`size` distinct request specs: half gRPC (Generate and Complete), half OpenAI."""
    rng = random.Random(f"pool-{seed}")
    pool, seen = [], set()
    while len(pool) < size:
        api = rng.choice(GRPC_APIS + OPENAI_APIS)
        spec = _grpc_spec(rng, api) if api in GRPC_APIS else _openai_spec(rng, api)
        key = json.dumps(spec, sort_keys=True)
        if key not in seen:
            seen.add(key)
            pool.append(spec)
    return pool


# Bad requests and the status each must get (gRPC code names; OpenAI's HTTP statuses mapped onto
# them, as docs/api.md tables them).
BAD_GRPC = (
    ({"token_ids": [5, 6], "top_p": 1.5}, "INVALID_ARGUMENT"),
    ({"token_ids": [5, 6], "max_new_tokens": 0}, "INVALID_ARGUMENT"),
    ({"token_ids": [5, VOCAB + 88]}, "INVALID_ARGUMENT"),
    ({"text": "hello", "stop": [b"\xff\xfe"]}, "INVALID_ARGUMENT"),
    ({"text": "hello", "temperature": -1.0}, "INVALID_ARGUMENT"),
    ({"max_new_tokens": 4}, "INVALID_ARGUMENT"),  # no prompt at all
    ({"token_ids": list(range(3, 503)), "max_new_tokens": 100}, "INVALID_ARGUMENT"),  # context
)
BAD_OPENAI = (
    ("openai_completions", b'{"prompt": "once", "max_tokens": ', "INVALID_ARGUMENT"),  # cut JSON
    ("openai_completions", {"prompt": "once", "max_tokens": 0}, "INVALID_ARGUMENT"),
    ("openai_completions", {"prompt": "once", "top_p": 2}, "INVALID_ARGUMENT"),
    ("openai_chat", {"messages": [], "max_tokens": 4}, "INVALID_ARGUMENT"),
    ("openai_chat", {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
     "NOT_FOUND"),
)

BEHAVIOURS = (("plain", 0.62), ("cancel", 0.10), ("deadline", 0.12), ("slow", 0.10),
              ("bad", 0.06))


def next_issue(rng, pool):
    """One stream's next request: (spec or bad request, behaviour, its parameter)."""
    behaviour = rng.choices([b for b, _ in BEHAVIOURS], [w for _, w in BEHAVIOURS])[0]
    if behaviour == "bad":
        if rng.random() < 0.5:
            body, code = rng.choice(BAD_GRPC)
            return {"api": rng.choice(GRPC_APIS), "body": body, "expect": code}, "bad", None
        api, body, code = rng.choice(BAD_OPENAI)
        return {"api": api, "body": body, "expect": code}, "bad", None
    index = rng.randrange(len(pool))
    spec = pool[index]
    if behaviour == "deadline" and spec["api"] not in GRPC_APIS:
        behaviour = "plain"  # HTTP has no deadline: OpenAI requests are cancelled instead
    param = {"cancel": lambda: rng.uniform(0.0, 0.6),           # seconds after the send
             "deadline": lambda: rng.choice((0.005, 0.05, 0.2, 0.5, 1.5)),  # queued or running
             "slow": lambda: rng.uniform(0.02, 0.25),           # sleep between reads
             "plain": lambda: None}[behaviour]()
    return {"index": index, **spec}, behaviour, param
