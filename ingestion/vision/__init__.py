"""Vision transcription: chosen PDF pages rendered to images and read by a vision model.

``pages`` parses and expands the page spec an upload sends (``all``, ``1,3-5``); ``transcribe`` renders
the pages, asks the model (through litellm) and turns its Markdown into the page's elements. The
pipeline runs it in the worker after extraction (a network call has no place in the sandboxed child).
"""

from __future__ import annotations

from .pages import ALL, expand_pages, parse_page_spec, spec_from_seed

__all__ = ["ALL", "expand_pages", "parse_page_spec", "spec_from_seed"]
