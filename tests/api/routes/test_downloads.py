"""Signed download URLs (api/routes/downloads.py): issued for a key that may read the file, fetched without one."""

from __future__ import annotations

import base64
from datetime import datetime

import httpx
import pytest

from tests.support import PUBLIC, SECRET, Api, assert_needs_a_key, set_policies, upload

pytestmark = pytest.mark.anyio


async def _url(api: Api, file_id: str, headers: dict[str, str], **body: int) -> dict:
    response = await api.client.post(f"/v1/files/{file_id}/download-url", headers=headers, json=body or None)
    assert response.status_code == 200, response.text
    return response.json()


async def _refused(api: Api, url: str, code: str) -> dict:
    response = await api.client.get(url)
    assert response.status_code == 403 and response.json()["error_code"] == code, response.text
    return response.json()["details"]


async def test_issuing_needs_a_key(api: Api) -> None:
    await assert_needs_a_key(api, "POST", "/v1/files/x/download-url")


async def test_a_signed_url_downloads_the_original_without_a_key(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    issued = await _url(api, file_id, api.alice)
    assert issued["url"].startswith("http://lectern.test/v1/files/download/")
    expires = datetime.fromisoformat(issued["expires_at"])
    now = api.services.download_urls.clock()
    assert 3590 <= expires.timestamp() - now <= 3600  # the default: an hour
    got = await api.client.get(issued["url"])  # no Authorization header
    assert got.status_code == 200 and got.content == SECRET
    assert got.headers["content-disposition"] == 'attachment; filename="vault.md"'
    # A week at most; a key that cannot read the file cannot sign for it either (the same 404).
    week = await _url(api, file_id, api.admin, expires_in=7 * 24 * 3600)
    assert datetime.fromisoformat(week["expires_at"]).timestamp() - now >= 7 * 24 * 3600 - 10
    for bad in (0, 7 * 24 * 3600 + 1):
        response = await api.client.post(
            f"/v1/files/{file_id}/download-url", headers=api.alice, json={"expires_in": bad}
        )
        assert response.status_code == 422 and response.json()["details"]["errors"][0]["field"] == "body.expires_in"
    denied = await api.client.post(f"/v1/files/{file_id}/download-url", headers=api.bob)
    assert denied.status_code == 404 and denied.json()["error_code"] == "DOCUMENT_NOT_FOUND"


async def test_a_tampered_url_is_refused(api: Api) -> None:
    mine = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    theirs = (await upload(api, api.bob, "kettle.md", PUBLIC))["file_id"]
    url = (await _url(api, mine, api.alice))["url"]
    base, token = url.rsplit("/", 1)
    payload, signature = token.split(".")
    other_payload = (await _url(api, theirs, api.bob))["url"].rsplit("/", 1)[1].split(".")[0]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    # Another document's id, a later expiry (the payload re-encoded by hand), a changed signature, garbage.
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    later = ":".join([*decoded.split(":")[:3], str(int(decoded.split(":")[3]) + 86400)])
    stretched = base64.urlsafe_b64encode(later.encode()).rstrip(b"=").decode()
    for forged in (f"{other_payload}.{signature}", f"{stretched}.{signature}", f"{payload}.{flipped}",
                   payload, "x.y", "ünïcode.sig", "." * 3):  # fmt: skip
        details = await _refused(api, f"{base}/{forged}", "DOWNLOAD_URL_INVALID")
        assert details["reason"] == "the signature does not match"
    assert (await api.client.get(url)).content == SECRET  # the genuine one still works


async def test_an_expired_url_is_refused(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    urls = api.services.download_urls
    start = urls.clock()
    url = (await _url(api, file_id, api.alice, expires_in=60))["url"]
    urls.clock = lambda: start + 59
    assert (await api.client.get(url)).status_code == 200
    urls.clock = lambda: start + 61
    details = await _refused(api, url, "DOWNLOAD_URL_EXPIRED")
    assert details["expired_at"] == int(start) + 60


async def test_replacing_or_deleting_the_file_revokes_its_urls(api: Api) -> None:
    first = await upload(api, api.alice, "notes.md", PUBLIC, key="notes")
    old = (await _url(api, first["file_id"], api.alice))["url"]
    replaced = await upload(api, api.alice, "notes.md", SECRET, key="notes")
    assert replaced["file_id"] == first["file_id"]
    details = await _refused(api, old, "DOWNLOAD_URL_INVALID")
    assert details["reason"] == "the file's content was replaced after the URL was issued"
    new = (await _url(api, first["file_id"], api.alice))["url"]
    assert (await api.client.get(new)).content == SECRET
    assert (await api.client.delete(f"/v1/files/{first['file_id']}", headers=api.admin)).status_code == 200
    # Deleted is a 403 too, not a 404: the URL is what failed, and it does not say whether the file ever existed.
    assert (await _refused(api, new, "DOWNLOAD_URL_INVALID"))["reason"] == "the file was deleted"


@pytest.mark.parametrize("blob_backend", ["s3"])
async def test_with_originals_in_an_object_store_the_url_redirects_to_a_presigned_get(api: Api) -> None:
    file_id = (await upload(api, api.alice, "manual.md", PUBLIC))["file_id"]
    url = (await _url(api, file_id, api.alice))["url"]
    response = await api.client.get(url)
    assert response.status_code == 307
    location = response.headers["location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=60" in location
    fetched = httpx.get(location, timeout=10)  # from the object store itself, without a Lectern key
    assert fetched.status_code == 200 and fetched.content == PUBLIC
    assert fetched.headers["content-disposition"] == 'attachment; filename="manual.md"'
    assert (await api.client.delete(f"/v1/files/{file_id}", headers=api.admin)).status_code == 200
    await _refused(api, url, "DOWNLOAD_URL_INVALID")


async def test_a_url_whose_original_is_gone_is_a_404_envelope(api: Api) -> None:
    file_id = (await upload(api, api.alice, "lost.md", b"# Lost\n\nThis original will vanish from the store.\n"))[
        "file_id"
    ]
    url = (await _url(api, file_id, api.alice))["url"]
    api.services.ingestion.blobs.delete(api.services.ingestion.get(file_id).sha256)
    response = await api.client.get(url)
    assert response.status_code == 404 and response.json()["error_code"] == "DOCUMENT_NOT_FOUND"


async def _fetched(api: Api, url: str) -> bytes:
    """The bytes behind a download URL, fetched without a key (following the object store's redirect)."""
    response = await api.client.get(url)
    if response.status_code == 307:
        assert "X-Amz-Expires=60" in response.headers["location"]
        response = httpx.get(response.headers["location"], timeout=10)
    assert response.status_code == 200, response.text
    return response.content


async def _public_urls(api: Api, file_id: str, key: str) -> set[str | None]:
    """``public_url`` as the details, the listing and the lookup by key show it (one value when they agree)."""
    detail = (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).json()
    listed = (await api.client.get("/v1/files", headers=api.alice)).json()["files"]
    by_key = (await api.client.get(f"/v1/files/by-key/{key}", headers=api.alice)).json()
    return {detail["public_url"], *(f["public_url"] for f in listed if f["file_id"] == file_id), by_key["public_url"]}


@pytest.mark.parametrize("blob_backend", ["local", "s3"])
async def test_a_public_file_has_a_permanent_url_that_works_without_a_key_while_it_is_public(api: Api) -> None:
    file_id = (await upload(api, api.alice, "notes.md", PUBLIC, key="notes"))["file_id"]
    assert await _public_urls(api, file_id, "notes") == {None}
    set_policies(api, file_id, ["public_content"])
    (url,) = await _public_urls(api, file_id, "notes")
    assert url is not None and url.startswith("http://lectern.test/v1/files/download/")
    assert await _fetched(api, url) == PUBLIC
    urls = api.services.download_urls
    urls.clock = lambda: 4_000_000_000.0  # the year 2096: a public URL has no expiry
    assert await _fetched(api, url) == PUBLIC
    # Replacing the content by key keeps the address, which now serves the new bytes.
    assert (await upload(api, api.alice, "notes.md", SECRET, key="notes"))["file_id"] == file_id
    assert await _public_urls(api, file_id, "notes") == {url} and await _fetched(api, url) == SECRET
    set_policies(api, file_id, [])  # removing the policy revokes the URL at once
    assert await _public_urls(api, file_id, "notes") == {None}
    assert (await _refused(api, url, "DOWNLOAD_URL_INVALID"))["reason"] == "the file is no longer public"
    set_policies(api, file_id, ["public_content"])  # public again: a new URL; the one handed out before stays dead
    (again,) = await _public_urls(api, file_id, "notes")
    assert again is not None and again != url and await _fetched(api, again) == SECRET
    assert (await _refused(api, url, "DOWNLOAD_URL_INVALID"))["reason"] == (
        "the file was made private since this public URL was handed out"
    )
    url = again
    assert (await api.client.delete(f"/v1/files/{file_id}", headers=api.alice)).status_code == 200
    assert (await _refused(api, url, "DOWNLOAD_URL_INVALID"))["reason"] == "the file was deleted"
