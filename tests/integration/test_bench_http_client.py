"""The load benchmark's own HTTP client against the floor's real gunicorn: answers read whole
under concurrency, and a keep-alive connection the server has since closed never fails a call."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench import floor, http_client, scale_data
from bench.load import wait_answering
from deploy.local import ROOT, free_port
from tests.support import run_apart, throwaway_database

# The gateway's gunicorn closes a keep-alive connection idle this long (gateway.__main__).
SERVER_KEEPALIVE_SECONDS = 5


@pytest.fixture(scope="module")
def floor_url() -> Iterator[str]:
    with throwaway_database("loyalty_test_client") as database:
        floor.create_schema(database, 3)
        port = free_port()
        env = {
            **os.environ,
            floor.DATABASE_VARIABLE: database,
            "GATEWAY_PORT": str(port),
            "GATEWAY_WORKERS": "1",
            "GATEWAY_METRICS_PORT": "0",
        }
        server = subprocess.Popen([sys.executable, "-m", "bench.floor"], cwd=ROOT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_answering(url + "/ping")
            yield url
        finally:
            server.terminate()
            server.wait(20)


def test_concurrent_calls_each_get_their_own_answer(floor_url: str) -> None:
    member = str(scale_data.member_id(1))

    async def calls() -> tuple[list[http_client.Response], http_client.Response]:
        async with http_client.Client(floor_url) as client:
            purchases = await asyncio.gather(
                *(
                    client.request(
                        "POST",
                        "/v1/purchases",
                        {"transaction_id": f"C-{n}", "member_id": member, "amount": f"{n}0000"},
                    )
                    for n in range(1, 9)
                )
            )
            return purchases, await client.request("GET", f"/v1/members/{member}/points")

    purchases, balance = run_apart(calls())

    assert [p.status_code for p in purchases] == [201] * 8
    assert [p.json()["transaction_id"] for p in purchases] == [f"C-{n}" for n in range(1, 9)]
    assert [p.json()["points_earned"] for p in purchases] == list(range(1, 9))
    assert balance.status_code == 200
    assert balance.json()["available"] == sum(range(1, 9))
    assert balance.headers["content-type"] == "application/json"


def test_a_connection_the_server_closed_meanwhile_is_not_reused(floor_url: str) -> None:
    async def calls() -> list[int]:
        async with http_client.Client(floor_url) as client:
            first = await client.request("GET", "/ping")
            await asyncio.sleep(SERVER_KEEPALIVE_SECONDS + 0.5)
            second = await client.request("GET", "/ping")
            missing = await client.request("GET", "/no-such-route")
            return [first.status_code, second.status_code, missing.status_code]

    assert run_apart(calls()) == [200, 200, 404]


def test_a_server_that_is_not_there_is_a_call_error() -> None:
    async def call() -> None:
        async with http_client.Client(f"http://127.0.0.1:{free_port()}") as client:
            await client.request("GET", "/ping")

    with pytest.raises(http_client.ERRORS):
        run_apart(call())
