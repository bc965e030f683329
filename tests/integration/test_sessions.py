"""Member and staff sessions: opaque tokens kept as hashes, refused once expired or revoked,
admitted only where a route's guard lets their kind in."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import create_engine, text

from deploy.local import Suite
from gateway.auth import SESSION_LOCAL_TTL
from services.runtime.config import Env, database_url
from tests.support import Api, Pos, identity_sessions


def refused_within(api: Api, seconds: float) -> bool:
    """True once GET /v1/session answers 401, polling for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if api.get("/v1/session").status_code == 401:
            return True
        time.sleep(0.1)
    return api.get("/v1/session").status_code == 401


def test_a_member_session_says_who_it_is(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    with identity_sessions(suite) as sessions:
        token = sessions.open("member", uuid.UUID(member["id"]), None, timedelta(minutes=5))
    api = pos.api.with_token(token)
    answer = api.get("/v1/session")
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "member"
    assert answer.json()["member_id"] == member["id"]


def test_sessions_are_stored_only_as_hashes(suite: Suite) -> None:
    with identity_sessions(suite) as sessions:
        token = sessions.open("staff", uuid.uuid4(), "support", timedelta(minutes=5))
    engine = create_engine(database_url(Env(suite.env), "identity"))
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM sessions")).scalars().all()
    engine.dispose()
    assert stored
    assert all(token not in value and len(value) == 64 for value in stored)


def test_a_member_token_cannot_call_pos_or_admin_routes(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    with identity_sessions(suite) as sessions:
        token = sessions.open("member", uuid.UUID(member["id"]), None, timedelta(minutes=5))
    api = pos.api.with_token(token)
    attempts = [
        api.get(f"/v1/members/{member['id']}/points"),
        api.get(f"/v1/members/{member['id']}/ledger"),
        api.get("/v1/members/identify", params={"card": member["card_number"]}),
        api.post(
            "/v1/purchases",
            {
                "transaction_id": "T-1",
                "member_id": member["id"],
                "amount": "1000",
                "currency": "IRR",
            },
        ),
        api.post(
            "/v1/redemptions", {"redemption_id": "R-1", "member_id": member["id"], "points": 1}
        ),
        api.post("/v1/admin/stores", {"name": "mine now"}),
        api.get("/v1/admin/reports/points"),
    ]
    assert [a.status_code for a in attempts] == [403] * len(attempts)
    assert {a.json()["code"] for a in attempts} == {"forbidden"}
    assert pos.balance(member["id"])["available"] == 0


def test_a_revoked_session_is_refused(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    with identity_sessions(suite) as sessions:
        token = sessions.open("member", uuid.UUID(member["id"]), None, timedelta(minutes=5))
        api = pos.api.with_token(token)
        assert api.get("/v1/session").status_code == 200
        sessions.revoke(token)
        # Identity refuses it at once; a gateway process may remember it for its local moment.
        assert sessions.resolve(token) is None
    assert refused_within(api, SESSION_LOCAL_TTL + 1)
    assert api.get("/v1/session").json()["code"] == "invalid-session"


def test_revoking_all_of_a_members_sessions_ends_each(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    subject = uuid.UUID(member["id"])
    with identity_sessions(suite) as sessions:
        phone, laptop = (
            sessions.open("member", subject, None, timedelta(minutes=5)) for _ in range(2)
        )
        other = sessions.open("member", uuid.UUID(pos.enrol()["id"]), None, timedelta(minutes=5))
        for token in (phone, laptop):
            assert sessions.resolve(token) is not None
        assert sessions.revoke_all("member", subject) == 2
        assert sessions.resolve(phone) is None and sessions.resolve(laptop) is None
        assert sessions.resolve(other) is not None


def test_an_expired_session_is_refused(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    with identity_sessions(suite) as sessions:
        token = sessions.open("member", uuid.UUID(member["id"]), None, timedelta(seconds=2))
    api = pos.api.with_token(token)
    assert api.get("/v1/session").status_code == 200
    assert refused_within(api, 2 + SESSION_LOCAL_TTL + 1)


def test_a_forged_token_or_the_wrong_scheme_is_refused(suite: Suite) -> None:
    api = Api(suite.gateway_url)
    for header in ("Bearer ls_" + "x" * 43, "Bearer nothing", "Basic abc", "Bearer "):
        answer = api.get("/v1/session", headers={"Authorization": header})
        assert answer.status_code == 401, header
