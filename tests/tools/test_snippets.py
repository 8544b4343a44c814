from tools.snippets import best_window


def test_the_window_with_most_distinct_terms_is_chosen_and_centred() -> None:
    text = (
        " ".join(["filler"] * 100)
        + " vitamin alone here "
        + " ".join(["pad"] * 60)
        + " vitamin D deficiency raises fracture risk "
        + " ".join(["tail"] * 100)
    )
    snippet, terms = best_window(text, "vitamin D fractures", width=20)
    assert "vitamin D deficiency raises fracture risk" in snippet
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert snippet.split().index("vitamin") > 3  # matches are not pinned to the window's edge
    assert terms == ["vitamin", "D", "fracture"]


def test_short_texts_and_no_matches() -> None:
    assert best_window("Short text about pumps.", "boiler") == ("Short text about pumps.", [])
    long_text = " ".join(f"word{i}" for i in range(100))
    snippet, terms = best_window(long_text, "nothing")
    assert snippet.startswith("word0 ") and snippet.endswith(" …") and terms == []
    assert best_window("", "x") == ("", [])
