"""Fixtures for the ribbond black-box tests: every daemon a test starts is killed when the test
(or module) ends, whatever happened."""
import os

import pytest

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
import ribbond_harness as h  # noqa: E402


@pytest.fixture
def start_ribbond(tmp_path):
    started = []

    def start(*args, env=None, model=h.STORIES, auth_token=None, tls=None, wait=True):
        workdir = tmp_path / f"ribbond{len(started)}"
        workdir.mkdir()
        daemon = h.Ribbond(str(workdir), args=args, env=env, model=model, auth_token=auth_token, tls=tls)
        started.append(daemon)
        return daemon.start() if wait else daemon

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture(scope="module")
def module_ribbond(tmp_path_factory, request):
    """One daemon for a whole module; its arguments come from the module's RIBBOND_ARGS."""
    args = getattr(request.module, "RIBBOND_ARGS", ())
    token = getattr(request.module, "RIBBOND_AUTH_TOKEN", None)
    workdir = tmp_path_factory.mktemp("ribbond")
    daemon = h.Ribbond(str(workdir), args=args, auth_token=token)
    try:
        yield daemon.start()
    finally:
        daemon.kill()


def pytest_collection_modifyitems(items):
    if not os.path.exists(h.RIBBOND):
        raise pytest.UsageError(f"{h.RIBBOND} is not built")
