"""The SDK (api/client.py) over the in-process app; tests/e2e runs it against a real server."""

from __future__ import annotations

import pytest

from tests.support import PUBLIC, Api

pytestmark = pytest.mark.anyio


async def test_the_sdk_speaks_the_same_routes(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The SDK over the in-process app (the e2e tests run it against a real server)."""
    from api.client import Client, LecternAPIError

    transport = api.client._transport
    key = api.alice["Authorization"].split()[1]
    (tmp_path / "kettle.md").write_bytes(PUBLIC)
    (tmp_path / "faq.jsonl").write_text('{"docid": "q1", "text": "Descaling takes twenty minutes."}\n')
    async with Client(base_url="http://lectern.test", api_key=key, transport=transport) as client:
        batch = await client.files.upload_batch([tmp_path / "kettle.md", tmp_path / "faq.jsonl"])
        assert batch.has_failures and batch.summary() == {"total": 2, "succeeded": 1, "failed": 1}
        assert batch.failed()[0].filename == "faq.jsonl"
        assert len(batch) == 2 and [item.filename for item in batch] == ["kettle.md", "faq.jsonl"] and batch[1].error_code
        pushed = await client.collections.push_jsonl("faq", tmp_path / "faq.jsonl")
        assert pushed[0].status == "Created"
        api.services.ingestion.run_until_idle()
        assert (await client.collections.documents("faq")).total_count == 1
        listed = await client.files.list(file_type="md")
        assert listed.total_count == 1 and [f.filename for f in listed.items] == ["kettle.md"] == [f.filename for f in listed.files]
        async with client.chat_session() as session:
            answer = await session.send("How often do I descale the kettle?")
            kinds = [e.type async for e in session.stream("And how long does it take?")]
        assert answer.citations and kinds[0] == "session" and kinds[-1] == "done"
        with pytest.raises(LecternAPIError) as denied:
            await client.files.delete(batch.results[0].result.file_id)  # type: ignore[union-attr]
        assert denied.value.status == 403 and denied.value.error_code == "ACCESS_DENIED"
