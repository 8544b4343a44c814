"""``lectern ask`` and ``lectern chat``: a terminal over ``ChatSession.send(stream=True)``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from agent.events import CitationEvent, DoneEvent, ErrorEvent, TokenEvent, ToolCallEvent
from agent.session import ChatSession, SessionManager
from ingestion.service import Ingestion


async def _turn(session: ChatSession, question: str, args: argparse.Namespace, out: TextIO) -> bool:
    """Print one streamed answer and its sources; False when it ended in an error."""
    tags = [t.strip() for t in (args.tags or "").split(",") if t.strip()] or None
    cited: list[CitationEvent] = []
    async for event in session.send(question, stream=True, tags=tags, collection=args.collection):
        if isinstance(event, ToolCallEvent) and args.verbose:
            print(f"[{event.name} {event.arguments}]", file=sys.stderr)
        elif isinstance(event, TokenEvent):
            out.write(event.text)
            out.flush()
        elif isinstance(event, CitationEvent):
            cited.append(event)
        elif isinstance(event, ErrorEvent):
            print(f"\nlectern: {event.error_code}: {event.message}", file=sys.stderr)
            return False
        elif isinstance(event, DoneEvent):
            out.write("\n")
    if cited:
        out.write("\nSources:\n")
        for c in sorted(cited, key=lambda c: c.n):
            page = f", p. {c.page}" if c.page else ""
            out.write(f"  [{c.n}] {c.title}{page} — {c.snippet[:100]}\n")
    return True


async def _ask(args: argparse.Namespace, ingestion: Ingestion) -> int:
    manager = SessionManager(ingestion=ingestion)
    try:
        session = manager.create(model=args.model)
        ok = await _turn(session, args.question, args, sys.stdout)
        return 0 if ok else 1
    finally:
        manager.close()


async def _chat(args: argparse.Namespace, ingestion: Ingestion) -> int:
    manager = SessionManager(ingestion=ingestion)
    try:
        session = manager.load(args.session) if args.session else manager.create(model=args.model)
        print(f"Lectern chat — session {session.id} (empty line or Ctrl-D to leave)", file=sys.stderr)
        while True:
            try:
                question = await asyncio.to_thread(input, "> ")
            except EOFError:
                break
            if not question.strip():
                break
            await _turn(session, question, args, sys.stdout)
        return 0
    finally:
        manager.close()


def cmd_ask(args: argparse.Namespace, ingestion: Ingestion) -> int:
    return asyncio.run(_ask(args, ingestion))


def cmd_chat(args: argparse.Namespace, ingestion: Ingestion) -> int:
    return asyncio.run(_chat(args, ingestion))


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=None, help="a litellm model string (default: LECTERN_MODEL or local)")
        p.add_argument("--tags", default=None, help="only documents with any of these comma-separated tags")
        p.add_argument("--collection", default=None)
        p.add_argument("-v", "--verbose", action="store_true", help="show tool calls")

    ask = sub.add_parser("ask", help="ask one question; the answer streams, then its sources")
    ask.add_argument("question")
    common(ask)
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="an interactive chat session over your documents")
    chat.add_argument("--session", default=None, help="continue an earlier session by id")
    common(chat)
    chat.set_defaults(func=cmd_chat)
