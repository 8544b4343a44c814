"""Token counting with tiktoken's cl100k_base, read from the copy litellm ships (never downloaded)."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any


def litellm_tokenizer_dir() -> Path | None:
    """Where litellm keeps tiktoken's files, found without importing litellm (which costs ~2 s)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return path if path.is_dir() else None


def configure_offline_env() -> None:
    """Set the variables that keep litellm, Hugging Face and tiktoken from reaching the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer_dir = litellm_tokenizer_dir()
    if tokenizer_dir is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizer_dir))


@lru_cache(maxsize=1)
def encoding() -> Any:
    configure_offline_env()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))
