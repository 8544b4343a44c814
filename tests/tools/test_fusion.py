import pytest

from tools.fusion import FusionConfig, fuse, normalise_keyword, normalise_vector


def test_convex_combination_weights_the_legs() -> None:
    vector = {"a": 0.9, "b": 0.5}
    keyword = {"b": 1.0, "c": 0.4}
    fused = fuse(vector, keyword, FusionConfig("convex", 0.25))
    assert fused == pytest.approx({"a": 0.225, "b": 0.875, "c": 0.3})
    assert fuse(vector, keyword, FusionConfig("convex", 1.0)) == pytest.approx({"a": 0.9, "b": 0.5, "c": 0.0})


def test_rrf_uses_ranks_and_is_scaled_to_one() -> None:
    fused = fuse({"a": 0.9, "b": 0.1}, {"a": 5.0, "c": 1.0}, FusionConfig("rrf"))
    assert fused["a"] == pytest.approx(1.0)
    assert fused["b"] == pytest.approx((1 / 62) / (2 / 61))
    assert fused["c"] == fused["b"]


def test_leg_normalisation_stays_in_unit_range() -> None:
    assert normalise_vector(-0.3) == 0.0 and normalise_vector(1.2) == 1.0 and normalise_vector(0.4) == 0.4
    assert normalise_keyword(5.0, 10.0, 8.0, "saturation") == 0.5
    assert normalise_keyword(5.0, 10.0, 8.0, "max") == 0.625
    assert normalise_keyword(5.0, 0.0, 0.0, "saturation") == 0.0
