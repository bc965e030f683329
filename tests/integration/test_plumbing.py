"""What operators rely on: request ids across hops, hashed keys, a balanced ledger."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from deploy.local import Suite
from tests.ledger_support import PointsWorld
from tests.support import Pos, db_url, logs_of, run_check


def test_the_request_id_travels_from_the_gateway_through_every_service(suite: Suite) -> None:
    """A till identifies the member, then records the purchase, under one request id. The
    identification always asks identity (the purchase may not: points may already know the
    member from identity's events)."""
    pos = Pos(suite)
    member = pos.enrol()
    request_id = "till-7-req-000123"
    headers = {"Authorization": f"Bearer {pos.api_key}", "X-Request-Id": request_id}
    identified = requests.get(
        suite.gateway_url + "/v1/members/identify",
        params={"card": member["card_number"]},
        headers=headers,
        timeout=10,
    )
    assert identified.status_code == 200, identified.text
    response = requests.post(
        suite.gateway_url + "/v1/purchases",
        json={
            "transaction_id": "T-traced",
            "member_id": member["id"],
            "amount": "40000",
            "currency": "IRR",
        },
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["X-Request-Id"] == request_id

    lines = [json.loads(line) for line in logs_of(suite).splitlines() if request_id in line]
    by_process = {(line["process"], line.get("route") or line.get("method")) for line in lines}
    assert ("gateway", "/v1/members/identify") in by_process
    assert ("gateway", "/v1/purchases") in by_process
    assert any(process == "identity" for process, _ in by_process), by_process
    assert ("points", "/loyalty.points.v1.PointsService/RecordPurchase") in by_process
    assert ("campaigns", "/loyalty.campaigns.v1.CampaignsService/EvaluatePurchase") in by_process


def test_a_gateway_made_request_id_is_returned_when_none_or_a_bad_one_is_sent(
    suite: Suite,
) -> None:
    plain = requests.get(suite.gateway_url + "/healthz", timeout=5)
    assert len(plain.headers["X-Request-Id"]) == 32
    odd = requests.get(
        suite.gateway_url + "/healthz", headers={"X-Request-Id": "x" * 500}, timeout=5
    )
    assert odd.headers["X-Request-Id"] != "x" * 500


def test_pos_keys_are_stored_only_as_hashes(suite: Suite) -> None:
    pos = Pos(suite)
    engine = create_engine(db_url(suite, "identity"))
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash FROM api_keys")).scalars().all()
    engine.dispose()
    assert stored
    assert all(pos.api_key not in value and len(value) == 64 for value in stored)


def test_phones_are_looked_up_by_keyed_hash_not_in_clear(suite: Suite) -> None:
    pos = Pos(suite)
    member = pos.enrol()
    engine = create_engine(db_url(suite, "identity"))
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT phone, phone_hash FROM members WHERE card_number = :card"),
            {"card": member["card_number"]},
        ).one()
    engine.dispose()
    assert row.phone.startswith("+98912")
    assert row.phone not in row.phone_hash and len(row.phone_hash) == 64


def test_the_check_command_proves_the_books_balance(suite: Suite) -> None:
    pos = Pos(suite)
    members = [pos.enrol() for _ in range(3)]
    for n, member in enumerate(members):
        for k in range(n + 1):
            assert pos.purchase(member["id"], amount=f"{(k + 1) * 55000}").status_code == 201
    # Two stores may number their redemptions alike: two holds, each resolved once.
    redemption_id = f"R-{uuid.uuid4().hex[:6]}"
    for till, member in ((pos, members[1]), (Pos(suite), members[2])):
        held = till.api.post(
            "/v1/redemptions",
            {"redemption_id": redemption_id, "member_id": member["id"], "points": 5},
        )
        assert held.status_code == 201, held.text
        assert till.api.post(f"/v1/redemptions/{redemption_id}/capture").status_code == 200
    result = run_check(suite.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the books balance" in result.stdout


def test_the_check_command_finds_a_tampered_balance(tmp_path: Path) -> None:
    env = {**os.environ, "POINTS_DATABASE_URL": f"sqlite:///{tmp_path / 'points.db'}"}
    world = PointsWorld(env["POINTS_DATABASE_URL"])
    world.buy(str(uuid.uuid4()), 100)
    with world.database.engine.begin() as connection:
        connection.execute(text("UPDATE balances SET available = available + 1"))
    world.close()
    result = run_check(env)
    assert result.returncode == 1
    assert "balances that differ from a replay of their entries: 1" in result.stdout


def test_without_any_redis_the_suite_starts_without_its_cache(tmp_path: Path) -> None:
    env = {
        "LOYALTY_DATA_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "PATH": "/nonexistent",
    }
    suite = Suite(env)
    suite.prepare()
    assert suite.env["REDIS_URL"] == ""
    assert "running without" in suite.cache_note
    assert suite.redis_process is None
    assert Path(suite.env["LOYALTY_DATA_DIR"], "admin-token").exists()
    assert os.stat(Path(suite.env["LOYALTY_DATA_DIR"], "admin-token")).st_mode & 0o077 == 0
