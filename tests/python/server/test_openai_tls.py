"""The OpenAI-compatible port under server.tls_*: the official `openai` package, trusting a
self-signed certificate as its CA, gets the greedy goldens over HTTPS (whole and streamed, several
requests on one kept-alive connection, so a TLS connection is read again after an answer); a client
that does not trust the certificate, and plaintext HTTP, are refused; the bearer token applies."""
import os
import ssl
import subprocess

import openai
import pytest

import ribbond_harness as h

CASES = h.load_golden()
TEMPLATE = os.path.join(os.path.dirname(__file__), "data", "simple_chat_template.jinja")
MODEL = os.path.basename(h.STORIES)


def self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def client_for(daemon, ca=None, scheme="https", api_key="none"):
    http_client = openai.DefaultHttpxClient(verify=ssl.create_default_context(cafile=ca) if ca else True)
    return openai.OpenAI(base_url=f"{scheme}://127.0.0.1:{daemon.openai_port}/v1", api_key=api_key,
                         max_retries=0, timeout=60, http_client=http_client)


def test_https_serves_the_goldens_and_refuses_plaintext_and_untrusted_clients(tmp_path, start_ribbond):
    cert, key = self_signed(tmp_path)
    daemon = start_ribbond("--chat-template", TEMPLATE, tls=(cert, key), auth_token="sesame")
    client = client_for(daemon, ca=cert, api_key="sesame")
    assert [m.id for m in client.models.list().data] == [MODEL]
    for case in CASES[:4]:  # one client: its connection is kept alive across these requests
        want_ids, want_text, _ = h.golden_expectation(case, 64, True)
        whole = client.completions.create(model=MODEL, prompt=case["prompt_ids"], max_tokens=64, temperature=0,
                                          extra_body={"stop_token_ids": [1, 2]})
        assert whole.choices[0].text == want_text, case["name"]
        assert whole.usage.completion_tokens == len(want_ids)
        chunks = list(client.completions.create(model=MODEL, prompt=case["prompt_ids"], max_tokens=64,
                                                temperature=0, stream=True, extra_body={"stop_token_ids": [1, 2]}))
        assert "".join(c.choices[0].text for c in chunks if c.choices) == want_text
        assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    chat = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}],
                                          max_tokens=16, temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chat if c.choices)

    # The bearer token still applies over TLS.
    with pytest.raises(openai.AuthenticationError):
        client_for(daemon, ca=cert, api_key="wrong").models.list()
    # A client that does not trust the certificate fails the handshake.
    with pytest.raises(openai.APIConnectionError) as error:
        client_for(daemon, api_key="sesame").models.list()
    assert "CERTIFICATE_VERIFY_FAILED" in repr(error.value.__cause__) or "certificate" in repr(error.value.__cause__)
    # Plaintext HTTP to the TLS port gets no answer.
    with pytest.raises(openai.APIConnectionError):
        client_for(daemon, scheme="http", api_key="sesame").models.list()
    # After all of that the port still serves.
    assert client.completions.create(model=MODEL, prompt="Once", max_tokens=3).choices
    daemon.wait_kv_released()
