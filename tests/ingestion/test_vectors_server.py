"""The vector store on a Chroma server (``LECTERN_CHROMA_URL``): the same collection as embedded,
batches within the server's limit, read-your-writes, and a clear error instead of a hang when
the server is gone or stuck, with the same store working again once it is back."""

import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

from core.access import Principal
from core.settings import Settings
from ingestion.service import Ingestion
from ingestion.vectors import CHROMA_COLLECTION, ChromaVectorStore, VectorStoreUnavailable
from tests.support import ChromaServer
from tools.search import Retriever

ALICE = Principal("alice", "user")


@pytest.fixture
def vector_backend() -> str:
    return "server"


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return backend_settings


@pytest.fixture
def server(chroma_server: ChromaServer) -> Iterator[ChromaServer]:
    """The session's server, running again after the test whatever the test did to it."""
    yield chroma_server
    if chroma_server.process is not None and chroma_server.process.poll() is None:
        os.kill(chroma_server.process.pid, signal.SIGCONT)  # harmless unless a test stopped it
    else:
        chroma_server.start()


def _vectors(n: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_the_server_holds_the_same_collection_as_embedded(ingestion: Ingestion, server: ChromaServer) -> None:
    store = ingestion.vectors
    assert store.url == server.url and type(store.client._server).__name__ == "FastAPI"
    config = store.collection.configuration_json
    assert store.collection.name == CHROMA_COLLECTION
    assert config["hnsw"]["space"] == "cosine"
    assert config["embedding_function"]["name"] == "lectern"  # never Chroma's downloading default
    assert 1 <= store.batch_size <= store.client.get_max_batch_size()


def test_writes_larger_than_a_batch_go_in_batches(ingestion: Ingestion) -> None:
    store = ingestion.vectors
    store.batch_size = 7  # the server's own limit is in the thousands; the loop is what is tested
    ids = [f"doc:{i}" for i in range(20)]
    store.upsert(ids, _vectors(20, ingestion.embedder.dimension), [{"document_id": "doc"}] * 20)
    assert store.count() == 20 and sorted(store.ids_for_document("doc")) == sorted(ids)
    store.delete_ids(ids[:15])
    assert sorted(store.ids_for_document("doc")) == sorted(ids[15:])
    store.delete_document("doc")
    assert store.count() == 0


def test_a_search_right_after_ingestion_finds_the_document(ingestion: Ingestion) -> None:
    added = ingestion.add_file(b"Pomegranate syrup pairs with a flat white.", "fruit.txt", owner="alice")
    ingestion.run_until_idle()
    retriever = Retriever(ingestion)
    for search_type in ("vector", "hybrid"):
        hits = retriever.search("pomegranate syrup", principal=ALICE, search_type=search_type, top_k=3).results  # type: ignore[arg-type]
        assert [h.document_id for h in hits] == [added.document.id]


def test_a_stopped_server_gives_a_clear_error_and_the_store_works_once_it_is_back(
    ingestion: Ingestion, server: ChromaServer
) -> None:
    added = ingestion.add_file(b"The boiler heats water to 93 degrees.", "boiler.txt", owner="alice")
    ingestion.run_until_idle()
    retriever = Retriever(ingestion)
    query = ingestion.embedder.embed_query("boiler temperature")
    server.stop()
    started = time.monotonic()
    with pytest.raises(VectorStoreUnavailable) as raised:
        ingestion.vectors.query(query, 3)
    assert time.monotonic() - started < 5
    assert raised.value.code == "VECTOR_STORE_UNAVAILABLE" and raised.value.status == 503
    assert server.url in raised.value.message
    with pytest.raises(VectorStoreUnavailable):
        retriever.search("boiler temperature", principal=ALICE, search_type="vector")
    with pytest.raises(VectorStoreUnavailable):
        ChromaVectorStore(ingestion.embedder, url=server.url)  # a new process meeting a down server
    server.start()
    assert [h.document_id for h in retriever.search("boiler temperature", principal=ALICE).results] == [
        added.document.id
    ]
    assert ingestion.vectors.count() == ingestion.get(added.document.id).chunk_count


def test_a_stuck_server_times_out_instead_of_hanging(ingestion: Ingestion, server: ChromaServer) -> None:
    query = ingestion.embedder.embed_query("anything")
    impatient = ChromaVectorStore(ingestion.embedder, url=server.url, timeout_s=1.0)
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        with pytest.raises(VectorStoreUnavailable, match="Timeout"):
            impatient.query(query, 3)
        assert time.monotonic() - started < 5
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert impatient.query(query, 3) == []
    ChromaVectorStore(ingestion.embedder, url=server.url)  # the shared client's usual timeout again


def test_the_http_api_answers_503_in_the_error_envelope_while_the_server_is_down(
    settings: Settings, server: ChromaServer
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.services import Services

    services = Services.build(settings)
    try:
        headers = {"Authorization": f"Bearer {services.keys.create(role='admin', name='root')[1]}"}
        added = services.ingestion.add_file(b"The boiler heats water to 93 degrees.", "boiler.txt", owner="root")
        services.ingestion.run_until_idle()
        client = TestClient(create_app(services=services), raise_server_exceptions=False)
        server.stop()
        down = client.get("/v1/retrieve", params={"q": "boiler temperature"}, headers=headers)
        assert down.status_code == 503, down.text
        assert down.json()["error_code"] == "VECTOR_STORE_UNAVAILABLE" and down.json()["request_id"].startswith("req-")
        server.start()
        back = client.get("/v1/retrieve", params={"q": "boiler temperature"}, headers=headers)
        assert back.status_code == 200, back.text
        assert added.document.id in back.text
    finally:
        services.close()
