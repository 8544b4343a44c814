"""Prompt templates, loaded by name.

They are plain text files beside this module so they can be read and changed without
touching code. Placeholders use ``$name`` (``string.Template``) because retrieved
documents are full of braces that ``str.format`` would trip on.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

NAMES = ("system", "native_tools", "answer_with_citations", "condense_question", "decline", "transcribe_page")


@cache
def load(name: str) -> str:
    if name not in NAMES:
        raise KeyError(f"no prompt named {name!r}; known: {', '.join(NAMES)}")
    return resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8").strip()


def render(name: str, **values: str) -> str:
    """Fill a template; every placeholder must be given (a missing one is a bug, not a blank)."""
    return Template(load(name)).substitute(values)
