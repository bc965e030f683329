"""The load benchmark's floors: the purchase floor does a purchase's essential work (a retry of
a transaction id answers the first result and books nothing twice), and the hop floor crosses
one or two gRPC relays doing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from bench import floor, relay, scale_data
from deploy.local import ROOT, free_port
from tests.support import throwaway_database


@pytest.fixture
def floor_url() -> Iterator[str]:
    with throwaway_database("loyalty_test_floor") as url:
        yield url


def test_a_repeated_purchase_is_booked_once(floor_url: str) -> None:
    floor.create_schema(floor_url, 3)
    client = floor.create_app(floor_url).test_client()
    member = str(scale_data.member_id(2))
    body = {"transaction_id": "T-1", "member_id": member, "amount": "250000", "currency": "IRR"}

    first = client.post("/v1/purchases", json=body)
    again = client.post("/v1/purchases", json=body)
    other = client.post("/v1/purchases", json={**body, "transaction_id": "T-2"})

    assert first.status_code == again.status_code == 201
    assert first.json["points_earned"] == again.json["points_earned"] == 25
    assert other.json["balance"] == 50
    assert client.get(f"/v1/members/{member}/points").json["available"] == 50
    with psycopg.connect(floor_url) as conn:
        assert conn.execute("SELECT count(*) FROM floor_entries").fetchone() == (2,)


def test_the_hop_floor_crosses_one_or_two_relays(floor_url: str) -> None:
    relays = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    started = [
        subprocess.Popen([sys.executable, "-m", "bench.relay", listen, *forward], cwd=ROOT)
        for listen, forward in ((relays[0], [relays[1]]), (relays[1], []))
    ]
    try:
        client = floor.create_app(floor_url, relays).test_client()
        assert client.get("/hops/2").json == {"answer": "floor.."}
        assert client.get("/hops/1").json == {"answer": "floor."}
        assert client.get("/hops/3").status_code == 404
    finally:
        for process in started:
            process.terminate()
            process.wait(10)


def test_the_last_relay_books_a_relayed_purchase_once_and_reads_the_balance(
    floor_url: str,
) -> None:
    floor.create_schema(floor_url, 3)
    relays = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    env = {**os.environ, relay.DATABASE_VARIABLE: floor_url}
    started = [
        subprocess.Popen([sys.executable, "-m", "bench.relay", listen, *forward], cwd=ROOT, env=env)
        for listen, forward in ((relays[0], [relays[1]]), (relays[1], []))
    ]
    try:
        client = floor.create_app(floor_url, relays).test_client()
        member = str(scale_data.member_id(1))
        body = {"transaction_id": "R-1", "member_id": member, "amount": "120000"}

        first = client.post("/relayed/v1/purchases", json=body)
        again = client.post("/relayed/v1/purchases", json=body)

        assert first.status_code == again.status_code == 201
        assert first.json == {"transaction_id": "R-1", "points_earned": 12, "balance": 12}
        assert again.json["points_earned"] == 12
        assert client.get(f"/v1/members/{member}/points").json["available"] == 12
        relayed_balance = client.get(f"/relayed/v1/members/{member}/points")
        assert relayed_balance.json == {"member_id": member, "available": 12}
        stranger = client.get(f"/relayed/v1/members/{scale_data.member_id(7)}/points")
        assert stranger.status_code == 404
        with psycopg.connect(floor_url) as conn:
            assert conn.execute("SELECT count(*) FROM floor_entries").fetchone() == (1,)
        assert (
            floor.create_app(floor_url)
            .test_client()
            .post("/relayed/v1/purchases", json=body)
            .status_code
            == 404
        )
    finally:
        for process in started:
            process.terminate()
            process.wait(10)
