"""The URL secret and tokens (api/download_urls.py); the routes are in tests/api/routes/test_downloads.py."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.download_urls import SECRET_FILE, DownloadUrls
from api.errors import ApiError
from tests.support import make_settings

SHA = "ab" * 32


def test_the_home_secret_is_generated_once_private_and_shared(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ThreadPoolExecutor(8) as pool:  # API processes starting together on one home agree on one secret
        signers = list(pool.map(lambda _: DownloadUrls.from_settings(make_settings(home)), range(8)))
    assert len({s.secret for s in signers}) == 1 and len(signers[0].secret) >= 32
    path = home / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == [SECRET_FILE]  # no candidate left behind
    token, _ = signers[0].issue("doc1", SHA, 60)
    assert DownloadUrls.from_settings(make_settings(home)).verify(token).document_id == "doc1"  # a restart
    assert DownloadUrls.from_settings(make_settings(tmp_path / "other")).secret != signers[0].secret


def test_the_setting_overrides_the_home_secret(tmp_path: Path) -> None:
    shared = "s" * 40
    machine_a = DownloadUrls.from_settings(make_settings(tmp_path / "a", url_secret=shared))
    machine_b = DownloadUrls.from_settings(make_settings(tmp_path / "b", url_secret=shared))
    token, expires_at = machine_a.issue("doc1", SHA, 60)
    grant = machine_b.verify(token)
    assert (grant.document_id, grant.sha256, grant.expires_at) == ("doc1", SHA, expires_at)
    assert not (tmp_path / "a" / SECRET_FILE).exists()
    with pytest.raises(ApiError) as refused:
        DownloadUrls.from_settings(make_settings(tmp_path / "a")).verify(token)
    assert refused.value.code == "DOWNLOAD_URL_INVALID" and refused.value.status == 403
    with pytest.raises(ValidationError, match="at least 32 characters"):
        make_settings(tmp_path / "c", url_secret="short")


def test_a_corrupt_secret_file_fails_at_start_with_the_remedy(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("\n")
    with pytest.raises(RuntimeError, match="delete it"):
        DownloadUrls.from_settings(make_settings(tmp_path))


def test_a_signed_token_of_another_format_is_invalid_not_a_crash(tmp_path: Path) -> None:
    import base64
    import hashlib
    import hmac

    signer = DownloadUrls.from_settings(make_settings(tmp_path, url_secret="k" * 32))
    for text in (
        "2:doc1:" + SHA + ":9999999999",
        "1:doc1:" + SHA,
        "1:doc1:" + SHA + ":soon",
        "\xff",
        "p:doc1:x:y",
        "p:doc1",
        "p",
    ):
        payload = base64.urlsafe_b64encode(text.encode("latin-1")).rstrip(b"=").decode()
        mac = hmac.new(b"k" * 32, payload.encode(), hashlib.sha256).digest()
        with pytest.raises(ApiError) as refused:
            signer.verify(f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}")
        assert (
            refused.value.code == "DOWNLOAD_URL_INVALID"
            and refused.value.details["reason"] == "the token's format is unknown"
        )


def test_a_public_token_names_only_its_document_and_never_expires(tmp_path: Path) -> None:
    signer = DownloadUrls.from_settings(make_settings(tmp_path, url_secret="k" * 32))
    token = signer.public_token("doc1", "n1")
    assert token == signer.public_token("doc1", "n1") != signer.public_token("doc2", "n1")  # one URL per document
    assert token != signer.public_token("doc1", "n2")  # and per time it was made public
    expiring = signer.issue("doc1", SHA, 60)[0]
    assert signer.verify(expiring).public is False
    signer.clock = lambda: 10.0**12  # tens of thousands of years on: the expiring one is over, the public one not
    grant = signer.verify(token)
    assert (grant.document_id, grant.sha256, grant.expires_at, grant.public, grant.nonce) == (
        "doc1", None, None, True, "n1",
    )  # fmt: skip
    with pytest.raises(ApiError) as expired:
        signer.verify(expiring)
    assert expired.value.code == "DOWNLOAD_URL_EXPIRED"
    with pytest.raises(ApiError) as refused:
        DownloadUrls.from_settings(make_settings(tmp_path / "other", url_secret="o" * 32)).verify(token)
    assert refused.value.details["reason"] == "the signature does not match"


def test_an_upload_token_is_its_own_kind_names_its_owner_and_expires() -> None:
    now = [1_000_000.0]
    urls = DownloadUrls(b"s" * 32, clock=lambda: now[0])
    token, expires_at = urls.upload_token("a" * 32, "alice:ops", "n1", 60)
    grant = urls.verify_upload(token)
    assert (grant.upload_id, grant.owner, grant.nonce, grant.expires_at) == ("a" * 32, "alice:ops", "n1", expires_at)
    download, _ = urls.issue("a" * 32, "f" * 64, 60)
    for wrong, check in ((token, urls.verify), (download, urls.verify_upload)):  # neither kind passes for the other
        with pytest.raises(ApiError) as refused:
            check(wrong)
        assert refused.value.code == "DOWNLOAD_URL_INVALID"
    now[0] += 60
    with pytest.raises(ApiError) as late:
        urls.verify_upload(token)
    assert late.value.code == "UPLOAD_URL_EXPIRED"
