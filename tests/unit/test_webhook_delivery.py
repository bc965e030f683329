"""Webhook delivery rules over a SQLite file, on a clock the test moves: retries with doubling
pauses, a delivery given up after the retry window letting the member's next one go, an endpoint
switched off after a day of failures, and personal data only where it is allowed. The receiver
is a stand-in answering as the test says (it is another system)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import wait
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.runtime.db import Database
from services.runtime.outbox import Event
from services.webhooks import repository
from services.webhooks.delivery import Dispatcher, Outcome
from services.webhooks.endpoints import Endpoints
from services.webhooks.intake import take_in
from services.webhooks.models import MIGRATIONS, Delivery
from services.webhooks.secret_box import SecretBox
from services.webhooks.settings import DeliveryPolicy

START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
POLICY = DeliveryPolicy(
    timeout=5, retry_base=60, retry_max=600, retry_for=3600, disable_after=7200, workers=4
)


class World:
    def __init__(self, database: Database) -> None:
        self.db = database
        self.now = START
        self.answers: dict[str, int] = {}
        self.received: list[dict] = []
        box = SecretBox("test key")
        self.endpoints = Endpoints(database, box, lambda: self.now)
        self.dispatcher = Dispatcher(database, box, POLICY, self._send, lambda: self.now)
        self.sequence = 0

    def _send(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        event = json.loads(body)
        self.received.append(event)
        status = self.answers.get(event["member_id"], 204)
        return Outcome(status, "" if status < 300 else f"HTTP {status}")

    def happen(self, event_type: str, member_id: str, payload: dict) -> None:
        self.sequence += 1
        event = Event(self.sequence, event_type, member_id, payload, self.now)
        with self.db.write() as session:
            take_in(session, "identity", [event], self.now)

    def run(self) -> None:
        wait(self.dispatcher.dispatch())

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def deliveries(self) -> list[Delivery]:
        with self.db.read() as session:
            return sorted(
                repository.deliveries_of(session, self.endpoint_id, "", None, 100),
                key=lambda d: d.id,
            )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    database = Database(f"sqlite:///{tmp_path / 'webhooks.db'}")
    database.migrate(MIGRATIONS, "webhooks")
    found = World(database)
    registered = found.endpoints.register("https://crm.example.com/h", "", ["*"], False)
    found.endpoint_id = registered.endpoint.id
    yield found
    found.dispatcher.stop()
    database.dispose()


def enrolled(name: str) -> dict:
    return {"source": "pos", "first_name": name, "city": "Rasht"}


def test_a_failing_delivery_waits_doubling_pauses_then_is_given_up_and_the_next_goes(
    world: World,
) -> None:
    world.answers["m1"] = 503
    world.happen("member.enrolled", "m1", enrolled("Sara"))
    world.happen("member.enrolled", "m2", enrolled("Reza"))
    world.happen("member.merged", "m1", {"survivor_id": "m2"})
    world.run()
    assert [e["member_id"] for e in world.received] == ["m1", "m2"]
    first = world.deliveries()[0]
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 503)
    # Not due again before the pause: 60 s, then 120 s.
    world.later(59)
    world.run()
    assert len(world.received) == 2
    world.later(1)
    world.run()
    assert len(world.received) == 3
    world.later(119)
    world.run()
    assert len(world.received) == 3
    world.later(1)
    world.run()
    assert len(world.received) == 4
    # Failing still past the hour-long window: given up, and m1's merge goes next.
    world.later(3600)
    world.run()
    world.answers["m1"] = 204
    world.run()
    statuses = [(d.member_id, d.status) for d in world.deliveries()]
    assert statuses == [("m1", "failed"), ("m2", "delivered"), ("m1", "delivered")]
    assert [e["type"] for e in world.received][-1] == "member.merged"


def test_an_endpoint_failing_for_the_whole_window_is_switched_off(world: World) -> None:
    for hour in range(3):
        member_id = f"m{hour}"
        world.answers[member_id] = 500
        world.happen("member.enrolled", member_id, enrolled("Sara"))
        for _ in range(6):
            world.run()
            world.later(600)
    [endpoint] = world.endpoints.all()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "failing")
    sent = len(world.received)
    world.happen("member.enrolled", "m3", enrolled("Nima"))
    world.later(600)
    world.run()
    assert len(world.received) == sent


def test_personal_fields_go_only_where_allowed_and_are_forgotten_on_erasure(
    world: World,
) -> None:
    world.happen("member.enrolled", "m1", enrolled("Sara"))
    world.run()
    assert "first_name" not in world.received[0]["data"]
    assert world.received[0]["data"]["source"] == "pos"

    allowed = world.endpoints.register("https://bi.example.com/h", "", ["member.enrolled"], True)
    world.happen("member.enrolled", "m2", enrolled("Reza"))
    world.run()
    names = sorted(str(e["data"].get("first_name")) for e in world.received[1:])
    assert names == ["None", "Reza"]

    world.happen("member.erased", "m2", {})
    redelivered = world.endpoints.deliveries(str(allowed.endpoint.id), "", "", 10)
    again = world.endpoints.redeliver(str(allowed.endpoint.id), str(redelivered[-1].id))
    world.run()
    last = [e for e in world.received if e["id"] == again.event_id][-1]
    assert "first_name" not in last["data"]


def test_finished_deliveries_leave_the_log_after_the_keeping_time(world: World) -> None:
    world.answers["m2"] = 500
    world.happen("member.enrolled", "m1", enrolled("Sara"))
    world.happen("member.enrolled", "m2", enrolled("Reza"))
    world.run()
    world.later(31 * 86400)
    assert world.endpoints.forget_old(30) == 1
    # The waiting delivery stays, and can still be sent: its event is kept.
    [waiting] = world.deliveries()
    assert (waiting.member_id, waiting.status) == ("m2", "pending")
    world.answers["m2"] = 204
    world.run()
    assert world.received[-1]["member_id"] == "m2"
