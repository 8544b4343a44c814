import json
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from ingestion.embedding.onnx_minilm import OnnxMiniLMEmbedder

REFERENCE = Path(__file__).parents[1] / "fixtures" / "minilm_reference_vectors.json"


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(Settings().embedding.embed_model_dir)


def test_onnx_conversion_matches_sentence_transformers(embedder: OnnxMiniLMEmbedder) -> None:
    # Reference vectors were computed once with sentence-transformers on torch (see the fixture's "model").
    reference = json.loads(REFERENCE.read_text())
    vectors = embedder.embed(reference["sentences"])
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    cosines = (vectors * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.9999, cosines


def test_dynamic_padding_gives_the_same_vectors_as_one_at_a_time(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [
        "short",
        "a somewhat longer sentence about espresso machines and descaling",
        "x " * 300,
        "medium length text here",
    ]
    batched = embedder.embed(texts)
    single = np.vstack([embedder.embed([t]) for t in texts])
    assert np.abs(batched - single).max() < 1e-4
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_the_query_path_gives_the_vectors_of_the_batch_path(embedder: OnnxMiniLMEmbedder) -> None:
    reference = json.loads(REFERENCE.read_text())
    texts = [*reference["sentences"], "x " * 300]
    batched = embedder.embed(texts)
    queried = np.vstack([embedder.embed_query(t) for t in texts])
    assert queried.shape == batched.shape
    assert np.abs(queried - batched).max() < 1e-4


def test_long_inputs_are_truncated_to_the_window_and_counted(embedder: OnnxMiniLMEmbedder) -> None:
    long_text = "word " * 1000
    assert embedder.count_tokens([long_text])[0] > 256
    assert embedder.embed([long_text]).shape == (1, 384)
    assert embedder.embed([]).shape == (0, 384)
