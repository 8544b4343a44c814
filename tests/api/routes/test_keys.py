"""``/v1/keys`` (issue 18's admin area): who a key is; admins list and create keys."""

from __future__ import annotations

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_me_tells_a_key_its_identity(api: Api) -> None:
    me = (await api.client.get("/v1/keys/me", headers=api.alice)).json()
    assert me == {"user_id": "alice", "role": "user", "is_admin": False}
    assert (await api.client.get("/v1/keys/me", headers=api.admin)).json()["is_admin"] is True
    assert (await api.client.get("/v1/keys/me")).status_code == 401


async def test_an_admin_creates_a_key_that_works_and_a_user_cannot(api: Api) -> None:
    made = await api.client.post("/v1/keys", json={"name": "carol", "role": "readonly"}, headers=api.admin)
    assert made.status_code == 201
    secret = made.json()["secret"]
    me = (await api.client.get("/v1/keys/me", headers={"Authorization": f"Bearer {secret}"})).json()
    assert me == {"user_id": "carol", "role": "readonly", "is_admin": False}
    listed = (await api.client.get("/v1/keys", headers=api.admin)).json()
    assert "carol" in [k["name"] for k in listed] and all(secret not in str(k) for k in listed)
    refused = await api.client.post("/v1/keys", json={"name": "mallory", "role": "admin"}, headers=api.alice)
    assert refused.status_code == 403 and refused.json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.get("/v1/keys", headers=api.alice)).status_code == 403
    bad = await api.client.post("/v1/keys", json={"name": "x", "role": "root"}, headers=api.admin)
    assert bad.status_code in (400, 422) and "error_code" in bad.json()
