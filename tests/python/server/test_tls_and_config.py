"""TLS serving, and ribbond's configuration front door: --help, --check-config (the resolved config
from file < environment < flags, secrets redacted, or the exact error), exit codes."""
import json
import os
import subprocess

import grpc
import pytest

import ribbond_harness as h
from ribbond_harness import pb


def ribbond(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RIBBON_") or k in (
        "RIBBON_BUILD", "RIBBON_SOURCE", "RIBBON_SHARED_DATA", "RIBBON_PYTHON")}
    full_env.update(env or {})
    return subprocess.run([h.RIBBOND, *args], capture_output=True, timeout=30, env=full_env)


def test_help_lists_every_documented_option():
    done = ribbond("--help")
    assert done.returncode == 0
    with open(os.path.join(h.SOURCE, "config", "ribbond.json")) as f:
        documented = json.load(f)
    for section, options in documented.items():
        if section.startswith("//"):
            continue
        for key in options:
            if not key.startswith("//"):
                assert f"--{section}.{key} [".encode() in done.stdout, key


def test_check_config_resolves_file_environment_and_flags(tmp_path):
    config = tmp_path / "ribbond.json"
    config.write_text(json.dumps({"model": {"path": h.STORIES}, "server": {"listen": "127.0.0.1:7001",
                                  "auth_token": "from-file"}, "engine": {"max_running_seqs": 8}}))
    done = ribbond("--check-config", "--config", str(config), "--engine.max-running-seqs", "4",
                   env={"RIBBON_SERVER_LISTEN": "127.0.0.1:7002", "RIBBON_LOG_FORMAT": "json"})
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert resolved["model"]["path"] == h.STORIES
    assert resolved["server"]["listen"] == "127.0.0.1:7002"
    assert resolved["log"]["format"] == "json"
    assert resolved["engine"]["max_running_seqs"] == 4
    assert resolved["server"]["auth_token"] == "<redacted>"
    assert b"from-file" not in done.stdout


@pytest.mark.parametrize("args, env, message", [
    (["--check-config"], {}, "model.path is required"),
    (["--check-config", "--model", "/nonexistent"], {}, "cannot read /nonexistent/config.json"),
    (["--check-config", "--model", h.STORIES, "--engine.block_size", "0"], {},
     "engine.block_size = 0 is outside [1, 64]"),
    (["--check-config", "--model", h.STORIES], {"RIBBON_LOG_LEVEL": "loud"},
     'log.level = "loud" is not one of'),
    (["--check-config", "--model", h.STORIES, "--listen", "nowhere"], {}, 'server.listen = "nowhere" is not host:port'),
    (["--model", h.STORIES, "--no-such-flag", "1"], {}, "unknown flag --no_such_flag"),
    (["--check-config", "--model", h.STORIES, "--engine.max_ribbon_tokens", "soon"], {},
     'engine.max_ribbon_tokens must be an integer or "auto", got "soon"'),
    (["--check-config", "--model", h.STORIES, "--engine.max_ribbon_tokens", "auto",
      "--memory.probe", "false"], {}, "engine.max_ribbon_tokens = auto times steps during the memory probe"),
])
def test_configuration_errors_exit_2_with_the_exact_error(args, env, message):
    done = ribbond(*args, env=env)
    assert done.returncode == 2
    assert message.encode() in done.stderr, done.stderr


def test_cannot_listen_exits_1(start_ribbond):
    first = start_ribbond()
    done = ribbond("--model", h.STORIES, "--listen", first.address, "--http-listen", "")
    assert done.returncode == 1
    assert b"cannot listen" in done.stderr


def test_tls_serves_and_plaintext_is_refused(tmp_path, start_ribbond):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    daemon = start_ribbond(tls=(str(cert), str(key)))
    result = daemon.stub().Complete(h.golden_request(h.load_golden()[0], 64, False), timeout=30)
    assert list(result.token_ids) == h.golden_expectation(h.load_golden()[0], 64, False)[0]
    plaintext = grpc.insecure_channel(daemon.address)
    with pytest.raises(grpc.RpcError) as error:
        pb_grpc_stub = h.pb_grpc.GenerationStub(plaintext)
        pb_grpc_stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    plaintext.close()
