"""Conversations for the chat-template parity test, and the reference renderer.

For every template, `conversations_for(source)` builds at least 20 conversations that cover:
with and without a system message, single and multi-turn, add_generation_prompt both ways,
non-ASCII content, and -- where the template reads them -- tool definitions, assistant tool
calls with tool results, reasoning content and retrieval documents. `features_of(case)` says which features one
conversation exercises, so the test can assert the coverage per template.

`render_reference(source, case)` renders with transformers' own path (the message
normalization of apply_chat_template, then chat_template_utils.render_jinja_template) with
strftime_now pinned to NOW.
"""

import datetime as _dt
import json

NOW = 1_780_000_000  # pinned clock for strftime_now, seconds since the epoch (UTC)
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}

TEXTS = [
    "What is the capital of France?",
    "Paris is the capital of France.",
    "Grüße aus Köln! Ça va? 日本語のテキストと emoji 🚀✨ — “quotes” and ‘more’.",
    "Explain recursion in one sentence.\nUse a second line, too.",
    "Recursion is when a function calls itself on a smaller input.",
    "  Leading and trailing spaces  ",
    "Привет, мир! Как дела? Ελληνικά και العربية.",
    'Quotes "double" and \'single\', a backslash \\ and {braces} <tags> & ampersands.',
]
SYSTEM = "You are a helpful assistant. Réponds en français si on te le demande. 你好!"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city (°C).",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city, e.g. Zürich"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "description": "Forecast days"},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "filters": {"type": "array", "items": {"type": "string"}},
                    "safe": {"type": "boolean"},
                    "score": {"type": "number"},
                },
                "required": ["query"],
            },
        },
    },
]

# Cohere's own tool format (command-r tool_use templates read parameter_definitions).
COHERE_TOOLS = [
    {
        "name": "get_weather",
        "description": "Get the current weather in a city (°C).",
        "parameter_definitions": {
            "city": {"description": "The city, e.g. Zürich", "type": "str", "required": True},
            "days": {"description": "Forecast days", "type": "int", "required": False},
        },
    },
]

TOOL_CALL_IDS = ["a1b2c3d4e", "f5g6h7i8j"]

# Retrieval documents (Command-R / Granite templates render them).
DOCUMENTS = [
    {"title": "Zürich", "text": "Zürich ist die größte Stadt der Schweiz."},
    {"title": "東京", "text": "東京は日本の首都です。"},
]


def _tool_call(i, name, args):
    return {"id": TOOL_CALL_IDS[i], "type": "function", "function": {"name": name, "arguments": args}}


def _tool_turns(parallel, string_args=False):
    """User asks, assistant calls tool(s), tool(s) answer, assistant concludes. With
    string_args the arguments are a JSON string and content is None, as OpenAI clients send."""
    calls = [_tool_call(0, "get_weather", {"city": "Zürich", "unit": "celsius", "days": 2})]
    if parallel:
        calls.append(_tool_call(1, "search", {"query": "météo 東京", "filters": ["news"], "safe": True, "score": 0.5}))
    if string_args:
        for call in calls:
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"], ensure_ascii=False)
    msgs = [
        {"role": "user", "content": "Wie ist das Wetter in Zürich? 天気は?"},
        {"role": "assistant", "content": None if string_args else "", "tool_calls": calls},
    ]
    results = ['{"temperature": 21.5, "condition": "sonnig ☀"}', '{"results": ["Tokyo: 18°C"]}']
    for i, call in enumerate(calls):
        msgs.append({"role": "tool", "tool_call_id": call["id"], "name": call["function"]["name"], "content": results[i]})
    msgs.append({"role": "assistant", "content": "In Zürich ist es sonnig, 21.5 °C."})
    return msgs


def _chat(turns, system, final_user=True):
    msgs = [{"role": "system", "content": SYSTEM}] if system else []
    for i in range(turns):
        msgs.append({"role": "user", "content": TEXTS[(2 * i) % len(TEXTS)]})
        if i < turns - 1 or not final_user:
            msgs.append({"role": "assistant", "content": TEXTS[(2 * i + 1) % len(TEXTS)]})
    return msgs


def uses(source, word):
    return word in source


def conversations_for(source):
    """The cases for one template: [{"name", "inputs": {...}}]."""
    cases = []

    def add(name, messages, agp, tools=None, kwargs=None, documents=None):
        if uses(source, "+ functions"):  # firefunction-v2 reads `functions` and `datetime` kwargs
            kwargs = {"functions": json.dumps(TOOLS, ensure_ascii=False), "datetime": "2026-12-04", **(kwargs or {})}
        inputs = {"messages": messages, "add_generation_prompt": agp, "special_tokens": SPECIAL_TOKENS}
        if tools is not None:
            inputs["tools"] = tools
        if documents is not None:
            inputs["documents"] = documents
        if kwargs:
            inputs["kwargs"] = kwargs
        cases.append({"name": name, "inputs": inputs})

    for system in (False, True):
        for turns in (1, 2, 3):
            for agp in (True, False):
                add(f"chat sys={system} turns={turns} agp={agp}", _chat(turns, system), agp)
        add(f"ends-with-assistant sys={system}", _chat(2, system, final_user=False), False)
    tools = COHERE_TOOLS if uses(source, "parameter_definitions") else TOOLS
    if uses(source, "tools"):
        for system in (False, True):
            for turns in (1, 2):
                for agp in (True, False):
                    add(f"tools-defined sys={system} turns={turns} agp={agp}", _chat(turns, system), agp, tools=tools)
    if uses(source, "tool_calls"):
        for parallel in (False, True):
            for system in (False, True):
                msgs = ([{"role": "system", "content": SYSTEM}] if system else []) + _tool_turns(parallel)
                add(f"tool-calls parallel={parallel} sys={system}", msgs, False, tools=tools)
                follow = msgs + [{"role": "user", "content": "Danke! Und morgen?"}]
                add(f"tool-calls+followup parallel={parallel} sys={system}", follow, True, tools=tools)
        add("tool-calls string-arguments", _tool_turns(False, string_args=True), False, tools=tools)
        add("tool-calls string-arguments parallel", _tool_turns(True, string_args=True), False, tools=tools)
    if uses(source, "reasoning_content") or uses(source, "thinking"):
        msgs = _chat(2, True, final_user=False)
        msgs[2] = dict(msgs[2], reasoning_content="Let me think… 考えています. The user asks about France.")
        add("reasoning", msgs + [{"role": "user", "content": "And Germany?"}], True)
        add("reasoning-final", msgs, False)
    if uses(source, "enable_thinking"):
        add("enable_thinking=False", _chat(1, False), True, kwargs={"enable_thinking": False})
        add("enable_thinking=True", _chat(1, True), True, kwargs={"enable_thinking": True})
    if uses(source, "documents"):
        for system in (False, True):
            add(f"documents sys={system}", _chat(1, system), True, documents=DOCUMENTS)
            add(f"documents+tools sys={system}", _chat(1, system), True, tools=tools, documents=DOCUMENTS)
    # Conversations many templates reject: they must fail the same way in both renderers.
    add("two-users-in-a-row", [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello again"}], True)
    add("system-not-first", [{"role": "user", "content": "Hi"}, {"role": "system", "content": SYSTEM}], True)
    add("content-list", [{"role": "user", "content": [{"type": "text", "text": "Beschreibe das Bild. 画像"}]}], True)
    return cases


def features_of(case, source):
    msgs = case["inputs"]["messages"]
    text = json.dumps(msgs, ensure_ascii=False)
    return {
        "system": any(m["role"] == "system" for m in msgs),
        "no-system": not any(m["role"] == "system" for m in msgs),
        "multi-turn": sum(m["role"] == "user" for m in msgs) >= 2,
        "agp-true": case["inputs"]["add_generation_prompt"],
        "agp-false": not case["inputs"]["add_generation_prompt"],
        "non-ascii": any(ord(c) > 127 for c in text),
        "tools": bool(case["inputs"].get("tools")),
        "tool-calls": any("tool_calls" in m for m in msgs),
        "documents": bool(case["inputs"].get("documents")),
    }


def required_features(source):
    required = {"system", "no-system", "multi-turn", "agp-true", "agp-false", "non-ascii"}
    if uses(source, "tools"):
        required.add("tools")
    if uses(source, "tool_calls"):
        required.add("tool-calls")
    if uses(source, "documents"):
        required.add("documents")
    return required


class _PinnedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        moment = _dt.datetime.fromtimestamp(NOW, tz=_dt.timezone.utc)
        return moment if tz else moment.replace(tzinfo=None)


def render_reference(source, inputs):
    """{"output": str} or {"error": str, "type": str} from transformers' rendering path."""
    from transformers.utils import chat_template_utils as ctu

    ctu.datetime = _PinnedDatetime
    try:
        conversation = ctu._normalize_chat_messages(inputs["messages"])
        kwargs = {**inputs.get("special_tokens", {}), **inputs.get("kwargs", {})}
        rendered, _ = ctu.render_jinja_template(
            conversations=[conversation],
            tools=inputs.get("tools"),
            documents=inputs.get("documents"),
            chat_template=source,
            add_generation_prompt=inputs["add_generation_prompt"],
            **kwargs,
        )
        return {"output": rendered[0]}
    except Exception as e:  # the template's own errors are part of the comparison
        return {"error": str(e), "type": type(e).__name__}
