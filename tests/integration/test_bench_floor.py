"""The load benchmark's purchase floor does a purchase's essential work: a retry of a
transaction id answers the first result and books nothing twice."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bench import floor, scale_data
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
