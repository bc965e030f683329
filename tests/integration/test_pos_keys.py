"""A store's POS keys: listed without their secret, revoked, rotated with both keys valid for
the swap, and each key acting for its own store's transactions only."""

from __future__ import annotations

import time
import uuid

from deploy.local import Suite
from gateway.auth import LOCAL_TTL
from tests.support import Api, Pos


def refused_within(api: Api, seconds: float) -> bool:
    """True once the key gets 401, polling for at most `seconds` (each gateway process may
    remember a key for LOCAL_TTL seconds)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if api.get("/v1/members/identify", params={"card": "0"}).status_code == 401:
            return True
        time.sleep(0.1)
    return api.get("/v1/members/identify", params={"card": "0"}).status_code == 401


def works(api: Api) -> bool:
    # An unknown card is 404 or 422 for a valid key, 401 for a refused one.
    return api.get("/v1/members/identify", params={"card": "0"}).status_code != 401


def keys_of(pos: Pos) -> dict[str, dict]:
    listed = pos.admin.get(f"/v1/admin/stores/{pos.store_id}/api-keys")
    assert listed.status_code == 200, listed.text
    return {key["key_id"]: key for key in listed.json()["items"]}


def test_keys_are_listed_without_their_secret(suite: Suite, pos: Pos) -> None:
    second = pos.admin.post(f"/v1/admin/stores/{pos.store_id}/api-keys").json()
    listed = pos.admin.get(f"/v1/admin/stores/{pos.store_id}/api-keys")
    keys = keys_of(pos)
    assert second["key_id"] in keys and len(keys) == 2
    assert {k["status"] for k in keys.values()} == {"active"}
    assert pos.api_key not in listed.text and second["api_key"] not in listed.text
    other = Pos(suite)
    assert pos.api_key not in other.admin.get(f"/v1/admin/stores/{other.store_id}/api-keys").text
    unknown = pos.admin.get(f"/v1/admin/stores/{uuid.uuid4()}/api-keys")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "store-not-found")


def test_a_revoked_key_is_refused(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    (key_id,) = keys_of(pos)
    revoked = pos.admin.post(f"/v1/admin/stores/{pos.store_id}/api-keys/{key_id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert refused_within(pos.api, LOCAL_TTL + 1)
    refused = pos.purchase(member["id"])
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid-api-key")
    again = pos.admin.post(f"/v1/admin/stores/{pos.store_id}/api-keys/{key_id}/revoke")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert pos.admin.get(f"/v1/members/{member['id']}/points").json()["available"] == 0


def test_a_key_is_revoked_only_through_its_own_store(suite: Suite, pos: Pos) -> None:
    other = Pos(suite)
    (key_id,) = keys_of(pos)
    wrong = other.admin.post(f"/v1/admin/stores/{other.store_id}/api-keys/{key_id}/revoke")
    assert (wrong.status_code, wrong.json()["code"]) == (404, "api-key-not-found")
    garbage = pos.admin.post(f"/v1/admin/stores/{pos.store_id}/api-keys/nope/revoke")
    assert garbage.status_code == 404
    assert works(pos.api)


def test_both_keys_work_during_a_rotation_then_only_the_new_one(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    (old_id,) = keys_of(pos)
    rotated = pos.admin.post(
        f"/v1/admin/stores/{pos.store_id}/api-keys/{old_id}/rotate", {"grace_seconds": 3}
    )
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["replaced"]["status"] == "expiring"
    new = pos.api.with_token(rotated.json()["api_key"])
    # The swap: both tills sell for the store at the same time.
    assert pos.purchase(member["id"], "SWAP-OLD").status_code == 201
    assert (
        new.post(
            "/v1/purchases",
            {
                "transaction_id": "SWAP-NEW",
                "member_id": member["id"],
                "amount": "20000",
                "currency": "IRR",
            },
        ).status_code
        == 201
    )
    # The new key acts for the same store: it may refund what the old key sold.
    assert (
        new.post(
            "/v1/purchases/SWAP-OLD/refunds", {"refund_id": "R-1", "amount": "10000"}
        ).status_code
        == 201
    )
    statuses = {k["key_id"]: k["status"] for k in keys_of(pos).values()}
    assert statuses == {old_id: "expiring", rotated.json()["key_id"]: "active"}
    # The grace period ends: the old key is refused, the new one goes on.
    assert refused_within(pos.api, 3 + LOCAL_TTL + 1)
    assert works(new)
    assert keys_of(pos)[old_id]["status"] == "expired"


def test_a_rotation_without_grace_ends_the_old_key_at_once(suite: Suite, pos: Pos) -> None:
    (old_id,) = keys_of(pos)
    assert works(pos.api)
    rotated = pos.admin.post(
        f"/v1/admin/stores/{pos.store_id}/api-keys/{old_id}/rotate", {"grace_seconds": 0}
    )
    assert rotated.status_code == 201
    assert refused_within(pos.api, LOCAL_TTL + 1)
    assert works(pos.api.with_token(rotated.json()["api_key"]))
    again = pos.admin.post(f"/v1/admin/stores/{pos.store_id}/api-keys/{old_id}/rotate", {})
    assert (again.status_code, again.json()["code"]) == (422, "api-key-inactive")


def test_a_store_cannot_refund_another_stores_purchase(suite: Suite) -> None:
    mine, theirs = Pos(suite), Pos(suite)
    member = mine.enrol()
    assert mine.purchase(member["id"], "T-SCOPE", amount="500000").status_code == 201
    before = mine.balance(member["id"])
    refund = theirs.api.post(
        "/v1/purchases/T-SCOPE/refunds", {"refund_id": "R-X", "amount": "500000"}
    )
    assert (refund.status_code, refund.json()["code"]) == (404, "purchase-not-found")
    assert mine.balance(member["id"]) == before
    # The store that sold it still can.
    own = mine.api.post("/v1/purchases/T-SCOPE/refunds", {"refund_id": "R-X", "amount": "500000"})
    assert own.status_code == 201 and own.json()["points_reversed"] == before["available"]


def test_a_store_cannot_capture_or_void_another_stores_redemption(suite: Suite) -> None:
    mine, theirs = Pos(suite), Pos(suite)
    member = mine.enrol()
    assert mine.purchase(member["id"], amount="1000000").status_code == 201
    held = mine.api.post(
        "/v1/redemptions", {"redemption_id": "RD-SCOPE", "member_id": member["id"], "points": 40}
    )
    assert held.status_code == 201, held.text
    for action in ("capture", "void"):
        answer = theirs.api.post(f"/v1/redemptions/RD-SCOPE/{action}")
        assert (answer.status_code, answer.json()["code"]) == (404, "redemption-not-found")
    captured = mine.api.post("/v1/redemptions/RD-SCOPE/capture")
    assert captured.status_code == 200 and captured.json()["status"] == "captured"
