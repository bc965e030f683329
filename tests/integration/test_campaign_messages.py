"""A message campaign reaches each consenting member of its audience once: never one who did not
consent, and never twice, even when the sender dies between sending and recording it; a
message that cannot be rendered is marked failed and holds up no other."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import time as day_time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from deploy.local import Suite
from services.campaigns.draw_selection import Prize
from services.campaigns.draws import ChanceRules
from services.campaigns.messages import Messages
from services.campaigns.models import Segment
from services.campaigns.settings import QuietHours
from services.runtime.errors import InvalidArgument
from tests.campaigns_support import CampaignsWorld
from tests.support import Api, Pos, log_in, member_view_caught_up, new_phone, start_suite


@pytest.fixture(scope="module")
def message_suite(
    tmp_path_factory: pytest.TempPathFactory, redis_available: None
) -> Iterator[Suite]:
    """A suite of its own, without quiet hours, whose campaigns process the test may kill."""
    suite = start_suite(
        tmp_path_factory.mktemp("messages-suite"),
        CAMPAIGNS_QUIET_HOURS="",
        CAMPAIGNS_FEED_INTERVAL="0.2",
        CAMPAIGNS_DISPATCH_INTERVAL="0.2",
    )
    yield suite
    suite.stop()


def sms(suite: Suite, marker: str) -> list[dict]:
    """What the development sender handed to the SMS provider that carries `marker`."""
    path = Path(suite.env["LOYALTY_DATA_DIR"]) / "outbox" / "sms.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [line for line in lines if marker in line["body"]]


def until(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return result


def sms_offer(marketer: Api, name: str, segment_id: str, template: str) -> str:
    """A draft offer campaign named `name` (its offer's title too) for the segment, with an SMS
    written from `template`; returns its id."""
    created = marketer.post(
        "/v1/marketing/campaigns",
        {
            "name": name,
            "kind": "offer",
            "offer": {"title": name},
            "targeting": {"segments": [segment_id]},
            "message": {"channel": "sms", "template": template},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_each_consenting_member_gets_the_message_once(message_suite: Suite) -> None:
    suite = message_suite
    pos = Pos(suite)
    api = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    consenting = [pos.enrol(first_name=n, consents={"sms": True})["id"] for n in ("Sara", "Ali")]
    silent = [pos.enrol(first_name="Reza", consents={"sms": False})["id"]]
    audience = api.post(
        "/v1/marketing/segments", {"name": "pilot", "member_ids": consenting + silent}
    ).json()
    assert until(lambda: member_view_caught_up(api)), "the member view did not learn the consents"

    marker = f"coffee-{uuid.uuid4().hex[:6]}"
    created = sms_offer(api, marker, audience["id"], "Hi {first_name}, {offer} is on us")
    assert api.post(f"/v1/marketing/campaigns/{created}/launch").status_code == 200
    sent = until(lambda: len(sms(suite, marker)) == 2 and sms(suite, marker))
    assert sent, "the messages were not sent"
    assert sorted(m["body"] for m in sent) == [
        f"Hi Ali, {marker} is on us\nلغو۱۱",  # every marketing SMS says how to stop them
        f"Hi Sara, {marker} is on us\nلغو۱۱",
    ]

    # The sender dies after handing the messages over but before recording it: kill the
    # campaigns process and put its records back to "not yet sent", then start it again.
    suite.processes["campaigns"].send_signal(signal.SIGKILL)
    suite.processes["campaigns"].wait(10)
    database = Path(suite.env["LOYALTY_DATA_DIR"]) / "campaigns.db"
    with sqlite3.connect(database) as db:
        reset = db.execute("UPDATE messages SET status = 'pending', sent_at = NULL").rowcount
    assert reset == 2
    suite.start_process("campaigns", "services.campaigns")
    suite.wait_ready()

    def settled() -> bool:
        with sqlite3.connect(database) as db:
            return (
                db.execute("SELECT count(*) FROM messages WHERE status = 'pending'").fetchone()[0]
                == 0
            )

    assert until(settled), "the restarted sender did not go through its outbox"
    assert len(sms(suite, marker)) == 2  # nothing sent twice
    report = api.get(f"/v1/marketing/campaigns/{created}/report").json()
    assert report["messages_sent"] == 2


def test_a_member_reads_what_the_club_sent_them_newest_first_a_page_at_a_time(
    message_suite: Suite,
) -> None:
    suite = message_suite
    pos = Pos(suite)
    api = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Nima", consents={"sms": True})["id"]
    other = pos.enrol(first_name="Mina", consents={"sms": True})["id"]
    audience = api.post(
        "/v1/marketing/segments", {"name": "inbox", "member_ids": [member, other]}
    ).json()
    assert until(lambda: member_view_caught_up(api)), "the member view did not learn the consents"
    marker = uuid.uuid4().hex[:6]
    names = [f"Week {n} {marker}" for n in (1, 2, 3)]
    for name in names:
        created = sms_offer(api, name, audience["id"], "{offer} for {first_name}")
        assert api.post(f"/v1/marketing/campaigns/{created}/launch").status_code == 200
        assert until(lambda n=name: len(sms(suite, n)) == 2), "the messages were not sent"

    me = Api(suite.gateway_url, log_in(suite, phone))
    first = me.get("/v1/me/messages", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["subject"] for m in page["items"]] == [names[2], names[1]]
    newest = page["items"][0]
    assert newest["channel"] == "sms"
    # Written for this member, never Mina's; the SMS's opt-out line is the SMS's own.
    assert newest["body"] == f"{names[2]} for Nima"
    assert newest["sent_at"] >= page["items"][1]["sent_at"]
    rest = me.get("/v1/me/messages", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [m["subject"] for m in rest["items"]] == [names[0]]
    assert rest["next_cursor"] is None

    bad = me.get("/v1/me/messages", params={"cursor": "not-a-cursor"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid-cursor")
    assert me.get("/v1/me/messages", params={"limit": 0}).status_code == 400
    assert Api(suite.gateway_url).get("/v1/me/messages").status_code == 401


def test_a_message_that_cannot_render_is_failed_and_the_next_still_goes(
    message_suite: Suite,
) -> None:
    suite = message_suite
    pos = Pos(suite)
    api = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    member = pos.enrol(first_name="Leila", consents={"sms": True})["id"]
    audience = api.post("/v1/marketing/segments", {"name": "one", "member_ids": [member]}).json()
    assert until(lambda: member_view_caught_up(api)), "the member view did not learn the consent"

    def campaign(marker: str) -> str:
        return sms_offer(api, marker, audience["id"], "Hi {first_name}, {offer}")

    # A template saved before templates were checked, which fails for every member: written
    # straight into the campaigns database.
    broken_marker, next_marker = (f"tea-{uuid.uuid4().hex[:6]}" for _ in range(2))
    broken = campaign(broken_marker)
    database = Path(suite.env["LOYALTY_DATA_DIR"]) / "campaigns.db"
    key = uuid.UUID(broken).hex
    with sqlite3.connect(database) as db:
        (text,) = db.execute("SELECT definition FROM campaigns WHERE id = ?", (key,)).fetchone()
        definition = json.loads(text)
        definition["message"]["template"] = "Hi {first_name:d}, {offer}"
        db.execute(
            "UPDATE campaigns SET definition = ? WHERE id = ?", (json.dumps(definition), key)
        )
    assert api.post(f"/v1/marketing/campaigns/{broken}/launch").status_code == 200

    def status_of_broken() -> str:
        with sqlite3.connect(database) as db:
            row = db.execute("SELECT status FROM messages WHERE campaign_id = ?", (key,)).fetchone()
        return row[0] if row and row[0] != "pending" else ""

    assert until(status_of_broken) == "failed-template"
    following = campaign(next_marker)
    assert api.post(f"/v1/marketing/campaigns/{following}/launch").status_code == 200
    sent = until(lambda: sms(suite, next_marker))
    assert [m["body"] for m in sent] == [f"Hi Leila, {next_marker}\nلغو۱۱"]
    assert sms(suite, broken_marker) == []


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, message_id: str, member_id: str, channel: str, body: str) -> str:
        self.sent.append((member_id, body))
        return "sent"

    def expiry(self, member_id: str) -> str:
        return ""


def test_a_campaign_whose_audience_cannot_be_computed_holds_up_no_other(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    member = world.enrol(first_name="Leila", consents={"sms": True})
    segment = world.segments.create("all", rule={"attr": "purchase_count", "op": "gte", "value": 0})
    world.launch(
        kind="offer",
        offer={"title": "Tea"},
        targeting={"segments": [segment.id]},
        message={"channel": "sms", "template": "Tea for {first_name}"},
    )
    # A rule stored before days were bounded.
    planted = {"attr": "days_since_enrolled", "op": "gt", "value": 10**9}
    with world.database.write() as session:
        session.execute(
            update(Segment)
            .where(Segment.id == uuid.UUID(segment.id))
            .values(rule=json.dumps(planted))
        )
    world.launch(
        kind="offer",
        offer={"title": "Cake"},
        message={"channel": "sms", "template": "Cake for {first_name}"},
    )
    sender = RecordingSender()
    messages = Messages(world.database, world.campaigns, sender, None, "UTC", world.clock)
    assert messages.run() == 1
    assert sender.sent == [(member, "Cake for Leila")]
    assert messages.run() == 0  # the other is not tried again


def test_nothing_goes_out_in_the_quiet_hours_not_even_to_a_draws_winners(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    _, draws = world.with_missions_and_draws()
    winner = world.enrol(first_name="Leila", consents={"sms": True})
    erased = world.enrol(first_name="Reza", consents={"sms": True})
    world.launch(
        kind="offer",
        offer={"title": "Tea"},
        message={"channel": "sms", "template": "Tea for {first_name}"},
    )
    prizes = [Prize("Tablet", 1), Prize("Gift card", 1)]
    draw = draws.create("Yalda", world.now() + timedelta(days=1), prizes, ChanceRules(1))
    world.buy(winner, 10)
    world.buy(erased, 10)
    sender = RecordingSender()
    quiet = QuietHours(day_time(21, 0), day_time(9, 0))
    messages = Messages(world.database, world.campaigns, sender, quiet, "UTC", world.clock)

    world.clock.now = world.clock.now.replace(hour=22)
    closed = draws.close(draw.id)
    assert {w["member_id"] for w in closed.winners} == {winner, erased}
    world.identity("member.erased", erased, {})
    assert messages.run() == 0
    world.clock.advance(hours=8, minutes=59)  # 06:59
    assert messages.run() == 0
    assert sender.sent == []

    world.clock.advance(hours=2, minutes=2)  # 09:01
    assert messages.run() == 2
    (prize,) = [w["prize"] for w in closed.winners if w["member_id"] == winner]
    told = [body for member, body in sender.sent if member == winner]
    assert "Tea for Leila" in told
    assert any(prize in body and "Yalda" in body for body in told)
    assert not any(member == erased for member, _ in sender.sent)
    draws.close(draw.id)  # closing again tells no one twice
    assert messages.run() == 0


def test_an_inbox_pages_newest_first_and_keeps_merged_duplicates_messages(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    _, draws = world.with_missions_and_draws()
    member = world.enrol(first_name="Leila", consents={"sms": True})
    duplicate = world.enrol(first_name="Leyla", consents={"sms": True})
    # Merged into the duplicate before the duplicate was merged into the member.
    older = world.enrol(first_name="Lila", consents={"sms": True})
    stranger = world.enrol(first_name="Reza", consents={"sms": True})
    messages = Messages(
        world.database, world.campaigns, RecordingSender(), None, "UTC", world.clock
    )

    def tell(name: str) -> None:
        audience = [member, duplicate, older]
        targeting = {"segments": [world.segments.create(name, member_ids=audience).id]}
        template = f"{name} for {{first_name}}"
        message = {"channel": "sms", "template": template}
        world.launch(
            name=name, kind="offer", offer={"title": name}, targeting=targeting, message=message
        )
        messages.run()
        world.clock.advance(minutes=1)

    tell("Tea")
    draw = draws.create(
        "Yalda", world.now() + timedelta(days=1), [Prize("Tablet", 1)], ChanceRules(1)
    )
    world.buy(member, 10)
    draws.close(draw.id)
    assert messages.run() == 1
    world.clock.advance(minutes=1)
    world.identity("member.merged", older, {"survivor_id": duplicate})
    world.identity("member.merged", duplicate, {"survivor_id": member})
    tell("Cake")  # the duplicates, merged, are not in the audience any more

    page, cursor = messages.of_member(member, 2, "")
    assert [(m.subject, m.body) for m in page] == [
        ("Cake", "Cake for Leila"),
        ("Yalda", page[1].body),
    ]
    assert "Tablet" in page[1].body
    rest, end = messages.of_member(member, 3, cursor)
    assert sorted(m.body for m in rest) == ["Tea for Leila", "Tea for Leyla", "Tea for Lila"]
    assert end == ""
    # One at a time, across two sent in the same instant: each once.
    walked, cursor = [], ""
    while True:
        one, cursor = messages.of_member(member, 1, cursor)
        walked += [m.id for m in one]
        if not cursor:
            break
    assert walked == [m.id for m in page + rest]
    assert messages.of_member(stranger, 20, "") == ([], "")
    with pytest.raises(InvalidArgument):
        messages.of_member(member, 2, "bm90LWEtY3Vyc29y")
