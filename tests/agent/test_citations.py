from __future__ import annotations

import pytest

from agent.citations import CitationStream, Sources, strip_markers


def _sources(n: int) -> Sources:
    sources = Sources()
    for i in range(1, n + 1):
        sources.add(f"c{i}", f"d{i}", f"Title {i}", i, f"snippet {i}", f"text {i}")
    return sources


def _run(pieces: list[str], n_sources: int = 2) -> tuple[str, list[list[int]], CitationStream]:
    stream = CitationStream(_sources(n_sources))
    shown, per_piece = [], []
    for piece in pieces:
        text, new = stream.feed(piece)
        shown.append(text)
        per_piece.append([c.n for c in new])
    shown.append(stream.finish())
    return "".join(shown), per_piece, stream


@pytest.mark.parametrize(
    "pieces",
    [
        ["It is five years [1]."],
        ["It is five years ", "[", "1", "]", "."],
        ["It is five years [", "1]."],
        ["It is five years [1", "]."],
    ],
)
def test_markers_split_across_tokens_resolve_once(pieces: list[str]) -> None:
    text, per_piece, stream = _run(pieces)
    assert text == "It is five years [1]."
    assert sum(per_piece, []) == [1]
    assert [c.chunk_id for c in stream.cited] == ["c1"]


def test_citation_is_emitted_when_its_marker_closes_not_before() -> None:
    _, per_piece, _ = _run(["A [", "2", "] b"])
    assert per_piece == [[], [], [2]]


def test_invalid_markers_are_removed_and_valid_ones_kept() -> None:
    text, _, stream = _run(["See [3] and [0] but [2], also [1, 3, 2]."])
    assert text == "See and but [2], also [1][2]."
    assert [c.n for c in stream.cited] == [2, 1]


def test_brackets_that_are_not_markers_pass_through() -> None:
    text, per_piece, _ = _run(["array[i] and [see above] and [", "x]", " and [12"])
    assert text == "array[i] and [see above] and [x] and [12"
    assert sum(per_piece, []) == []


def test_repeated_markers_cite_once() -> None:
    _, per_piece, stream = _run(["[1] then [1] then [2] then [1]"])
    assert per_piece == [[1, 2]] and len(stream.cited) == 2


def test_a_passage_shown_twice_keeps_its_number() -> None:
    sources = _sources(2)
    assert sources.add("c1", "d1", "Title 1", 1, "s", "t") == 1
    assert sources.add("c9", "d9", "Title 9", None, "s", "t") == 3


def test_strip_markers_for_history() -> None:
    assert strip_markers("Five years [1][2]. Two [3].") == "Five years. Two."
