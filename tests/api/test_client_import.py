import subprocess
import sys
import tomllib

import pytest

from tests.support import REPO

_SERVER_STACK = "('fastapi', 'chromadb', 'litellm', 'onnxruntime', 'sqlalchemy')"


@pytest.mark.parametrize("module", ["api.client", "lectern"])
def test_the_sdk_imports_without_the_server_stack(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in {_SERVER_STACK} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lectern_names_the_sdk_and_its_results() -> None:
    import lectern
    from api import client, schemas

    assert lectern.Client is client.Client and lectern.SyncClient is client.SyncClient
    assert lectern.LecternAPIError is client.LecternAPIError and lectern.BatchResult is schemas.BatchResult
    assert all(hasattr(lectern, name) for name in lectern.__all__)


def test_an_install_ships_the_lectern_module() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "lectern" in config["py-modules"] and (REPO / "lectern.py").is_file()
