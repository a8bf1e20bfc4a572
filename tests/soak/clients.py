"""Issuing one soak request and recording what came back, over grpc.aio and over raw asyncio
HTTP/1.1 (the OpenAI API; no HTTP library, so the client side stays light on a 2-core machine).

Every call returns a record: {"code": gRPC code name, "ids": token ids received (gRPC),
"text": text received (str), "finish": finish reason name or None, "tokens": generated tokens
the server reported (None when it did not say), "latency": seconds}. A cancelled or failed call
keeps what it had received, so that the check can require it to be a prefix of the reference."""
import asyncio
import json
import socket
import time

import grpc

import ribbond_harness as h

pb = h.pb
# OpenAI finish reasons onto the gRPC names the references use.
_HTTP_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 413: "RESOURCE_EXHAUSTED",
               429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 503: "UNAVAILABLE",
               504: "DEADLINE_EXCEEDED"}


def to_proto(body, client_request_id=""):
    fields = dict(body)
    if "token_ids" in fields:
        fields["token_ids"] = pb.TokenIds(ids=fields["token_ids"])
    if "text" in fields:
        fields["text"] = fields["text"].encode()
    if "stop" in fields:
        fields["stop"] = [s if isinstance(s, bytes) else s.encode() for s in fields["stop"]]
    return pb.GenerateRequest(client_request_id=client_request_id, **fields)


def _record():
    return {"code": None, "ids": [], "text": b"", "finish": None, "tokens": None, "latency": None}


def _take(rec, message):
    rec["ids"].extend(message.token_ids)
    rec["text"] += message.text
    if message.finish_reason:
        rec["finish"] = pb.FinishReason.Name(message.finish_reason)
        rec["tokens"] = message.usage.generated_tokens


async def grpc_call(stub, spec, behaviour, param, client_request_id, timeout):
    """Generate (streamed) or Complete; `behaviour` cancels, sets the deadline, or reads slowly."""
    rec, start = _record(), time.monotonic()
    request = to_proto(spec["body"], client_request_id)
    deadline = param if behaviour == "deadline" else timeout
    streaming = spec["api"] == "grpc_generate"
    call = (stub.Generate if streaming else stub.Complete)(request, timeout=deadline)
    canceller = (asyncio.get_running_loop().call_later(param, call.cancel)
                 if behaviour == "cancel" else None)
    try:
        if streaming:
            async for message in call:
                _take(rec, message)
                if behaviour == "slow":
                    await asyncio.sleep(param)
        else:
            _take(rec, await call)
        rec["code"] = "OK"
    except grpc.aio.AioRpcError as e:
        rec["code"], rec["message"] = e.code().name, e.details()
    except asyncio.CancelledError:
        if not call.cancelled():
            raise  # the soak itself is stopping
        rec["code"] = "CANCELLED"
    finally:
        if canceller:
            canceller.cancel()
    rec["text"] = rec["text"].decode("utf-8", errors="replace")
    rec["latency"] = time.monotonic() - start
    return rec


def _http_request(port, path, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


async def _chunks(reader, headers):
    """The body's pieces as they arrive (chunked or Content-Length)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            line = await reader.readline()
            if not line:  # the connection closed without the last chunk (a killed server)
                raise ConnectionResetError("the connection closed in the middle of the body")
            size = int(line.strip() or b"0", 16)
            if size == 0:
                return
            piece = await reader.readexactly(size)
            await reader.readexactly(2)
            yield piece
    else:
        yield await reader.readexactly(int(headers.get("content-length", "0")))


def _take_choice(rec, obj, chat, stream):
    if "error" in obj:
        rec["code"] = obj["error"].get("code") or "UNKNOWN"
        if rec["code"] == "model_not_found":
            rec["code"] = "NOT_FOUND"
        return
    for choice in obj.get("choices", []):
        if chat:
            part = (choice.get("delta") if stream else choice.get("message")) or {}
            rec["text"] += (part.get("content") or "").encode()
        else:
            rec["text"] += choice.get("text", "").encode()
        if choice.get("finish_reason"):
            rec["finish"] = choice["finish_reason"]
    if obj.get("usage"):
        rec["tokens"] = obj["usage"]["completion_tokens"]


async def _read_response(reader, rec, chat, stream, behaviour, param):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection before answering")
    status = int(status_line.split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode().partition(":")
        headers[key.strip().lower()] = value.strip()
    buffered, done = b"", False
    async for piece in _chunks(reader, headers):
        if status != 200 or not stream:
            buffered += piece
            continue
        buffered += piece
        while b"\n\n" in buffered:
            event, buffered = buffered.split(b"\n\n", 1)
            payload = event[len(b"data: "):]
            done = done or payload == b"[DONE]"
            if payload != b"[DONE]":
                _take_choice(rec, json.loads(payload), chat, True)
        if behaviour == "slow":
            await asyncio.sleep(param)
    if status != 200:
        rec["code"] = _HTTP_CODES.get(status, f"HTTP_{status}")
        return
    if not stream:
        _take_choice(rec, json.loads(buffered), chat, False)
    elif not done:
        raise ConnectionResetError("the event stream ended without data: [DONE]")
    rec["code"] = rec["code"] or "OK"


async def openai_call(port, spec, behaviour, param, timeout):
    """One OpenAI request over its own connection; a cancel closes the connection."""
    rec, start = _record(), time.monotonic()
    chat = spec["api"] == "openai_chat"
    path = "/v1/chat/completions" if chat else "/v1/completions"
    body = spec["body"]
    stream = isinstance(body, dict) and body.get("stream", False)
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        if behaviour == "slow":  # a small receive buffer makes the server's writes wait on us
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        writer.write(_http_request(port, path, body))
        await writer.drain()
        wait = param if behaviour == "cancel" else timeout
        await asyncio.wait_for(_read_response(reader, rec, chat, stream, behaviour, param), wait)
    except asyncio.TimeoutError:
        rec["code"] = "CANCELLED" if behaviour == "cancel" else "CLIENT_TIMEOUT"
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as e:
        rec["code"], rec["message"] = "UNAVAILABLE", repr(e)
    finally:
        if writer is not None:
            writer.transport.abort()  # a cancel: the server sees the connection go
    rec["text"] = rec["text"].decode("utf-8", errors="replace")
    rec["latency"] = time.monotonic() - start
    return rec
