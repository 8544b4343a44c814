import subprocess
import sys

from tests.support import REPO


def test_the_sdk_imports_without_the_server_stack() -> None:
    code = "import sys, api.client; print(sorted(m for m in ('fastapi', 'chromadb', 'litellm', 'onnxruntime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
