"""A real ``lectern serve --demo`` on 127.0.0.1, shared by the end-to-end tests of one module."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from agent.local_model import local_model_available
from tests.support import REPO, Server, stop_process

if not local_model_available():
    if os.environ.get("CI"):
        pytest.fail("the local model is not installed; `make test` installs it", pytrace=False)
    pytest.skip("the local model is not installed (make run installs it)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("e2e") / "home"
    port = _free_port()
    env = {**os.environ, "LECTERN_HOME": str(home), "PYTHONPATH": str(REPO), "LECTERN_SSE_HEARTBEAT_S": "0.5"}
    log = (home.parent / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    key = None
    deadline = time.monotonic() + 300
    while key is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"lectern serve exited: {(home.parent / 'server.log').read_text()[-2000:]}")
        found = re.search(r"Admin API key \(shown once\): (\S+)", line)
        key = found.group(1) if found else None
    assert key, "no admin key printed"
    # Keep draining stdout (uvicorn's access log): a full pipe would block the server.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield Server(base, key, home, process)
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every process a test starts is registered here and ended in teardown, whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop_process(process, timeout_s=10)
