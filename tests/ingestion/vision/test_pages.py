"""The vision page spec: what an upload may send, how it is kept, how the worker expands it."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequest
from ingestion.vision import ALL, expand_pages, parse_page_spec, spec_from_seed


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        ("all", ALL), (" ALL ", ALL), ("true", ALL), ("3", "3"), ("1,3-5", "1,3-5"), ("5, 3-4 ,1", "1,3-5"),
        ("2-3,1", "1-3"), ("4-6,5-9", "4-9"), ("7,7,7", "7"), ("10 - 12", "10-12"),
        (None, None), ("", None), ("  ", None), ("none", None), ("false", None),
    ],
)  # fmt: skip
def test_specs_are_normalised(raw: str | None, spec: str | None) -> None:
    assert parse_page_spec(raw) == spec
    if spec is not None:
        assert parse_page_spec(spec) == spec  # a stored spec reads back as itself


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("0", "numbered from 1"), ("5-2", "runs backwards (write 2-5)"), ("1,,2", "'' is not a page number"),
        ("one", "'one' is not a page number"), ("-3", "'-3' is not a page number"), ("1.5", "not a page number"),
        ("100001", "past the largest page number"), ("1-" + "9" * 30, "past the largest"),
        ("1," * 1001, "longer than 2000 characters"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_a_400_naming_the_field_and_the_part(raw: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_page_spec(raw)
    assert says in refused.value.message and refused.value.message.startswith("vision_pages")
    assert refused.value.status == 400 and refused.value.details["field"] == "vision_pages"


def test_the_files_api_sends_true_false_or_page_numbers() -> None:
    assert spec_from_seed(True) == ALL
    assert spec_from_seed(False) is None and spec_from_seed(None) is None and spec_from_seed([]) is None
    assert spec_from_seed([4, 1, 2]) == "1-2,4"
    assert spec_from_seed("2-3") == "2-3"
    for bad in ([0], ["1"], [True], {"pages": 1}, 3):
        with pytest.raises(InvalidRequest) as refused:
            spec_from_seed(bad)
        assert "vision.transcribePages" in refused.value.message


def test_expansion_keeps_the_pages_that_exist_and_says_when_more_were_asked() -> None:
    assert expand_pages(ALL, 3) == ([1, 2, 3], False)
    assert expand_pages(ALL, 0) == ([], False)
    assert expand_pages("1,3-5", 10) == ([1, 3, 4, 5], False)
    assert expand_pages("1,3-5", 4) == ([1, 3, 4], True)
    assert expand_pages("9", 4) == ([], True)
