import io
import json
import time
from pathlib import Path

import pytest

from tests.support import run_cli


def test_ingest_a_folder_then_list_as_json(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.md").write_text("# Heading\n\nSome markdown about pumps.\n")
    (folder / "nested" / "b.txt").write_text("Plain text about boilers.")
    (folder / "nested" / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really")
    (folder / "docs.jsonl").write_text(json.dumps({"docid": "k1", "text": "Collection text."}) + "\n")
    home = tmp_path / "home"

    result = run_cli(home, "ingest", str(folder), "--tags", "t1,t2")
    assert result.returncode == 0, result.stderr
    assert "3 document(s) indexed, 1 failed, 0 rejected" in result.stdout
    assert "broken.pdf: malformed_pdf" in result.stdout
    assert "indexing" in result.stderr  # the progress bar

    listed = json.loads(run_cli(home, "list", "--json").stdout)
    # A file keeps its path relative to the folder given, as its display name.
    assert sorted(d["name"] for d in listed) == ["a.md", "k1", "nested/b.txt", "nested/broken.pdf"]
    failed = json.loads(run_cli(home, "list", "--status", "failed", "--json").stdout)
    assert [(d["name"], d["failure_reason"]) for d in failed] == [("nested/broken.pdf", "malformed_pdf")]


def test_unsupported_files_are_rejected_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "image.bin").write_bytes(bytes(range(256)) * 8)
    result = run_cli(tmp_path / "home", "ingest", str(tmp_path / "image.bin"))
    assert result.returncode == 1
    assert "UNSUPPORTED_MEDIA_TYPE" in result.stderr


def test_keys_create_prints_a_working_key_once_and_list_hides_it(tmp_path: Path) -> None:
    from api.keys import KeyStore
    from core.access import Principal
    from core.db import Database

    created = run_cli(tmp_path / "home", "keys", "create", "--role", "user", "--name", "alice")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split()[0]
    reader = run_cli(tmp_path / "home", "keys", "create", "--role", "readonly", "--name", "dash", "--user", "alice")
    assert reader.returncode == 0, reader.stderr
    listed = run_cli(tmp_path / "home", "keys", "list").stdout
    assert "alice" in listed and secret not in listed and "readonly" in listed
    db = Database(f"sqlite:///{tmp_path / 'home' / 'lectern.db'}")
    found = KeyStore(db).authenticate(secret)
    read_only = KeyStore(db).authenticate(reader.stdout.split()[0])
    db.dispose()
    assert found is not None and found[1].user_id == "alice" and found[1].role == "user"
    assert read_only is not None and read_only[1] == Principal("alice", "readonly")  # a user's view, no writes


def test_an_api_process_with_indexing_off_never_claims_a_job(tmp_path: Path) -> None:
    from api.services import Services
    from tests.support import make_settings

    off = Services.build(make_settings(tmp_path / "off", indexing="off"))
    off.ingestion.add_file(io.BytesIO(b"Queued text about pumps."), "pumps.txt", owner="admin")
    try:
        off.start_indexing(idle_s=0.01)
        time.sleep(0.3)  # thirty polls of an indexing loop
        assert off._worker is None
        docs, _ = off.ingestion.list_documents()
        assert [d.status for d in docs] == ["pending"]
    finally:
        off.close()

    on = Services.build(make_settings(tmp_path / "on"))  # the default: the API process drains the queue
    try:
        on.start_indexing(idle_s=0.01)
        assert on._worker is not None and on._worker.is_alive()
    finally:
        on.close()


def test_serve_no_indexing_and_worker_options_parse(tmp_path: Path) -> None:
    from api.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve", "--no-indexing"]).no_indexing is True
    assert parser.parse_args(["serve"]).no_indexing is False
    worker = parser.parse_args(["worker", "--batch-size", "8", "--idle-s", "0.5"])
    assert (worker.batch_size, worker.idle_s) == (8, 0.5)
    assert parser.parse_args(["worker"]).batch_size == 32
    for bad in (["worker", "--batch-size", "0"], ["worker", "--idle-s", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_serve_with_several_workers_refuses_embedded_chroma(tmp_path: Path) -> None:
    """Several processes must not open one embedded Chroma directory: a clear refusal, before any demo load."""
    result = run_cli(tmp_path / "home", "serve", "--workers", "2", "--demo")
    assert result.returncode == 1
    assert "LECTERN_CHROMA_URL" in result.stderr and "only one process" in result.stderr
    assert "Admin API key" not in result.stdout
    assert run_cli(tmp_path / "home", "serve", "--workers", "0").returncode == 2  # argparse: at least 1
