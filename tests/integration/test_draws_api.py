"""Prize draws through the real suite: chances bought with points are spent once however often
the page retries and come back when the draw is cancelled; closing reveals the seed that the
published commitment promised, and anyone re-running the published entries with it in another
process, with no database, gets the same winners."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deploy.local import ROOT, Suite
from services.campaigns.draw_selection import commitment
from services.campaigns.draws import winner_message_id
from tests.support import (
    Api,
    Pos,
    eventually,
    log_in,
    new_phone,
    run_check,
    sent_messages,
    staff_login,
)

PRIZES = [{"name": "Tablet", "count": 1}, {"name": "Gift card", "count": 2}]


def new_draw(marketer: Api, prizes: list[dict] = PRIZES, **chances: int | str) -> dict:
    closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    created = marketer.post(
        "/v1/marketing/draws",
        {
            "name": f"Yalda {uuid.uuid4().hex[:6]}",
            "closes_at": closes_at,
            "prizes": prizes,
            "chances": chances,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


def member_with_points(suite: Suite, pos: Pos, **fields: object) -> tuple[dict, Api]:
    phone = new_phone()
    member = pos.enrol(phone=phone, **fields)
    assert pos.purchase(member["id"], amount="2000000").status_code == 201
    return member, Api(suite.gateway_url, log_in(suite, phone))


def verify_elsewhere(path: Path, seed: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "services.campaigns.draw_selection", "verify", str(path)]
    return subprocess.run(
        [*command, seed], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def new_segment(marketer: Api, **definition: object) -> str:
    made = marketer.post(
        "/v1/marketing/segments", {"name": f"draw {uuid.uuid4().hex[:6]}", **definition}
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def listed_for(me: Api, draw: dict) -> dict | None:
    return next((d for d in me.get("/v1/me/draws").json()["items"] if d["id"] == draw["id"]), None)


def new_draw_for(marketer: Api, targeting: dict, **chances: int | str) -> dict:
    created = marketer.post(
        "/v1/marketing/draws",
        {
            "name": f"Nowruz {uuid.uuid4().hex[:6]}",
            "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            "prizes": [{"name": "Voucher", "count": 10}],
            "chances": chances,
            "targeting": targeting,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


def consents_known(marketer: Api, channel: str, members: list[Api]) -> None:
    """Campaigns learns consents from identity's events, a moment after enrolment: waits until
    its member view shows each member's consent on `channel`, as a draw open only to members
    consenting to it is listed for them."""
    consenting = new_segment(
        marketer, rule={"attr": f"consent_{channel}", "op": "eq", "value": True}
    )
    probe = new_draw_for(marketer, {"segments": [consenting]}, points_per_chance=1)
    for me in members:
        assert eventually(lambda me=me: listed_for(me, probe) is not None, 60), channel
    assert marketer.post(f"/v1/marketing/draws/{probe['id']}/cancel").status_code == 200


def test_chances_bought_with_points_are_spent_once_and_returned_on_cancelling(
    postgres_suite: Suite,
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    draw = new_draw(marketer, points_per_chance=5, max_per_member=10)
    member, me = member_with_points(suite, pos)
    before = pos.balance(member["id"])["available"]
    assert before >= 50

    path = f"/v1/me/draws/{draw['id']}/chances"
    body = {"request_id": "chances-1", "chances": 3}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: me.post(path, body), range(4)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert me.post(path, body).json()["my_chances"] == 3
    assert pos.balance(member["id"])["available"] == before - 15

    # The same request id for another purchase, more than the cap, more than the points.
    reused = me.post(path, {"request_id": "chances-1", "chances": 4})
    assert reused.status_code == 409 and reused.json()["code"] == "request-id-reused"
    over_cap = me.post(path, {"request_id": "chances-2", "chances": 8})
    assert over_cap.status_code == 422 and over_cap.json()["code"] == "too-many-chances"
    mine = me.get("/v1/me/draws").json()["items"]
    shown = next(d for d in mine if d["id"] == draw["id"])
    assert shown["my_chances"] == 3 and shown["seed_sha256"] == draw["seed_sha256"]
    assert shown["seed"] is None
    poor_draw = new_draw(marketer, points_per_chance=before * 10)
    poor = me.post(f"/v1/me/draws/{poor_draw['id']}/chances", {"request_id": "c", "chances": 1})
    assert poor.status_code == 422 and poor.json()["code"] == "insufficient-points"
    assert pos.balance(member["id"])["available"] == before - 15

    cancelled = marketer.post(f"/v1/marketing/draws/{draw['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert pos.balance(member["id"])["available"] == before
    late = me.post(path, {"request_id": "chances-3", "chances": 1})
    assert late.status_code == 422 and late.json()["code"] == "draw-not-open"
    refused = marketer.post(f"/v1/marketing/draws/{draw['id']}/close")
    assert refused.status_code == 422 and refused.json()["code"] == "draw-cancelled"
    assert run_check(suite.env).returncode == 0


def test_closing_picks_the_winners_anyone_can_re_run_from_the_seed(
    postgres_suite: Suite, tmp_path: Path
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    draw = new_draw(marketer, points_per_chance=1, max_per_member=20)
    holders = []
    for chances in (1, 2, 3, 4, 5):
        member, me = member_with_points(suite, pos, consents={"sms": True})
        bought = me.post(
            f"/v1/me/draws/{draw['id']}/chances", {"request_id": "r1", "chances": chances}
        )
        assert bought.status_code == 200, bought.text
        holders.append((member, me))
    consents_known(marketer, "sms", [me for _, me in holders])

    before = marketer.get(f"/v1/marketing/draws/{draw['id']}/entries").json()
    assert "seed" not in before and len(before["entries"]) == 5
    closed = marketer.post(f"/v1/marketing/draws/{draw['id']}/close")
    assert closed.status_code == 200, closed.text
    result = closed.json()
    assert commitment(result["seed"]) == draw["seed_sha256"]
    assert len(result["winners"]) == 3
    assert [w["prize"] for w in result["winners"]] == ["Tablet", "Gift card", "Gift card"]
    assert marketer.post(f"/v1/marketing/draws/{draw['id']}/close").json() == result

    published = marketer.get(f"/v1/marketing/draws/{draw['id']}/entries").json()
    ids = sorted(member["id"] for member, _ in holders)
    assert [e["member_id"] for e in published["entries"]] == ids
    assert "phone" not in json.dumps(published)
    document = tmp_path / "draw.json"
    document.write_text(json.dumps(published))
    rerun = verify_elsewhere(document, result["seed"])
    assert rerun.returncode == 0, rerun.stdout
    assert json.loads(rerun.stdout.splitlines()[0]) == result["winners"]
    forged = verify_elsewhere(document, "00" * 32)
    assert forged.returncode == 1 and "does not match" in forged.stdout

    # Winners see their prize in the portal and are told by SMS.
    winner_ids = {w["member_id"] for w in result["winners"]}
    for member, me in holders:
        shown = next(d for d in me.get("/v1/me/draws").json()["items"] if d["id"] == draw["id"])
        assert shown["seed"] == result["seed"]
        assert (member["id"] in {w["member_id"] for w in shown["winners"]}) == (
            member["id"] in winner_ids
        )
    expected = {str(winner_message_id(draw["id"], uuid.UUID(member))) for member in winner_ids}
    assert eventually(
        lambda: {m["message_id"] for m in sent_messages(suite)} & expected == expected, 30
    )


def chances_in(marketer: Api, draw: dict) -> dict[str, int]:
    entries = marketer.get(f"/v1/marketing/draws/{draw['id']}/entries").json()["entries"]
    return {e["member_id"]: e["chances"] for e in entries}


def seen_by_draw(marketer: Api, pos: Pos, marker_draw: dict) -> bool:
    """Whether campaigns has read every purchase made so far: a last purchase earns a chance
    in `marker_draw`, and events are applied in order."""
    marker = pos.enrol(phone=new_phone())
    assert pos.purchase(marker["id"], amount="100000").status_code == 201
    return eventually(lambda: marker["id"] in chances_in(marketer, marker_draw), 60)


def test_purchases_earn_chances_per_purchase_and_per_amount_up_to_the_limit(
    postgres_suite: Suite,
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    draw = new_draw(
        marketer, per_purchase=1, per_amount="500000", points_per_chance=1, max_per_member=5
    )
    assert draw["chances"]["per_amount"] == "500000.00"
    first, me = member_with_points(suite, pos)  # its purchase of 2,000,000: 1 + 4 chances
    second = pos.enrol(phone=new_phone())
    sale = f"T-{uuid.uuid4().hex[:12]}"
    assert pos.purchase(second["id"], sale, amount="1250000").status_code == 201  # 1 + 2
    assert pos.purchase(second["id"], sale, amount="1250000").status_code == 201  # a retry
    before_draw = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    late = pos.purchase(second["id"], amount="900000", occurred_at=before_draw)
    assert late.status_code == 201  # happened before the draw opened: no chance
    assert pos.purchase(first["id"], amount="600000").status_code == 201  # over the limit
    assert seen_by_draw(marketer, pos, draw)

    # Other tests' purchases earn chances in this open draw too: only ours are looked at.
    held = chances_in(marketer, draw)
    assert (held[first["id"]], held[second["id"]]) == (5, 3)
    mine = next(d for d in me.get("/v1/me/draws").json()["items"] if d["id"] == draw["id"])
    assert mine["my_chances"] == 5
    full = me.post(f"/v1/me/draws/{draw['id']}/chances", {"request_id": "r1", "chances": 1})
    assert full.status_code == 422 and full.json()["code"] == "too-many-chances"
    shown = marketer.get(f"/v1/marketing/draws/{draw['id']}").json()
    assert shown["entrants"] == len(held) and shown["chances_held"] == sum(held.values())

    # Cancelled, the draw gives no chance to any later purchase.
    assert marketer.post(f"/v1/marketing/draws/{draw['id']}/cancel").status_code == 200
    still_open = new_draw(marketer, per_purchase=1)
    assert pos.purchase(second["id"], amount="1250000").status_code == 201
    assert seen_by_draw(marketer, pos, still_open)
    assert chances_in(marketer, still_open)[second["id"]] == 1
    assert chances_in(marketer, draw)[second["id"]] == 3
    assert marketer.post(f"/v1/marketing/draws/{still_open['id']}/cancel").status_code == 200


def test_a_refund_takes_back_the_chances_its_purchase_earned_in_an_open_draw(
    postgres_suite: Suite,
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    draw = new_draw(marketer, per_purchase=1, per_amount="500000")
    member = pos.enrol(phone=new_phone())["id"]
    kept, returned = f"T-{uuid.uuid4().hex[:12]}", f"T-{uuid.uuid4().hex[:12]}"
    assert pos.purchase(member, kept, amount="2000000").status_code == 201  # 1 + 4
    assert pos.purchase(member, returned, amount="600000").status_code == 201  # 1 + 1
    assert seen_by_draw(marketer, pos, draw)
    assert chances_in(marketer, draw)[member] == 7

    pos.refund(kept, "1000000")  # 1,000,000 left of it: 1 + 2
    pos.refund(returned, "600000")  # nothing left: no chance
    assert seen_by_draw(marketer, pos, draw)
    assert chances_in(marketer, draw).get(member) == 3
    pos.refund(kept, "1000000")
    assert seen_by_draw(marketer, pos, draw)
    assert member not in chances_in(marketer, draw)
    assert marketer.post(f"/v1/marketing/draws/{draw['id']}/cancel").status_code == 200


def test_an_erased_member_is_left_out_of_the_entries_and_the_winners(
    postgres_suite: Suite,
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    # More prizes than members: everyone taking part wins, so a missing winner was left out.
    draw = new_draw(marketer, [{"name": "Voucher", "count": 10}], points_per_chance=1)
    holders = []
    for chances in (1, 1, 40):
        member, me = member_with_points(suite, pos)
        bought = me.post(
            f"/v1/me/draws/{draw['id']}/chances", {"request_id": "r1", "chances": chances}
        )
        assert bought.status_code == 200, bought.text
        holders.append(member["id"])
    kept, erased = holders[:2], holders[2]
    assert pos.admin.post(f"/v1/support/members/{erased}/erasure").status_code == 200

    # Campaigns learns of the erasure from identity's events, a moment later.
    def shown() -> tuple[int, int]:
        found = marketer.get(f"/v1/marketing/draws/{draw['id']}").json()
        return found["entrants"], found["chances_held"]

    assert eventually(lambda: shown() == (2, 2), 60), shown()
    closed = marketer.post(f"/v1/marketing/draws/{draw['id']}/close").json()
    assert sorted(w["member_id"] for w in closed["winners"]) == sorted(kept)
    published = marketer.get(f"/v1/marketing/draws/{draw['id']}/entries").json()
    assert sorted(e["member_id"] for e in published["entries"]) == sorted(kept)
    told = {m["message_id"] for m in sent_messages(suite)}
    assert str(winner_message_id(draw["id"], uuid.UUID(erased))) not in told


def test_only_members_in_a_draws_audience_earn_buy_and_see_its_chances(
    postgres_suite: Suite,
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    inside, inside_me = member_with_points(suite, pos)
    outside, outside_me = member_with_points(suite, pos)
    segment = new_segment(marketer, member_ids=[inside["id"]])
    draw = new_draw_for(marketer, {"segments": [segment]}, per_purchase=1, points_per_chance=5)
    assert draw["targeting"] == {"segments": [segment]}
    assert marketer.get(f"/v1/marketing/draws/{draw['id']}").json()["targeting"] == {
        "segments": [segment]
    }
    for refused in ({"stages": ["nobody"]}, {"segments": [str(uuid.uuid4())]}, {"colour": []}):
        answer = marketer.post(
            "/v1/marketing/draws",
            {
                "name": "Refused",
                "closes_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                "prizes": PRIZES,
                "chances": {"per_purchase": 1},
                "targeting": refused,
            },
        )
        assert answer.status_code == 422 and answer.json()["code"] == "invalid-targeting", refused
    in_use = marketer.request("DELETE", f"/v1/marketing/segments/{segment}")
    assert in_use.status_code == 409 and in_use.json()["code"] == "segment-in-use"

    # The outsider's purchase is read first; once the insider's, later, earned its chance,
    # the outsider's was read too and earned none.
    assert pos.purchase(outside["id"], amount="300000").status_code == 201
    assert pos.purchase(inside["id"], amount="300000").status_code == 201
    assert eventually(lambda: inside["id"] in chances_in(marketer, draw), 60)
    assert chances_in(marketer, draw) == {inside["id"]: 1}

    before = pos.balance(outside["id"])["available"]
    path = f"/v1/me/draws/{draw['id']}/chances"
    refused = outside_me.post(path, {"request_id": "r1", "chances": 1})
    assert refused.status_code == 422 and refused.json()["code"] == "not-eligible"
    assert pos.balance(outside["id"])["available"] == before
    assert listed_for(outside_me, draw) is None
    bought = inside_me.post(path, {"request_id": "r1", "chances": 2})
    assert bought.status_code == 200 and bought.json()["my_chances"] == 3
    assert "targeting" not in bought.json()
    assert listed_for(inside_me, draw)["my_chances"] == 3
    assert chances_in(marketer, draw) == {inside["id"]: 3}
    assert marketer.post(f"/v1/marketing/draws/{draw['id']}/cancel").status_code == 200


def test_winners_are_told_by_sms_else_by_e_mail_else_only_in_the_portal(
    postgres_suite: Suite,
) -> None:
    suite, pos = postgres_suite, Pos(postgres_suite)
    marketer = staff_login(suite, "marketer")
    tag = uuid.uuid4().hex[:8]
    silent, silent_me = member_with_points(suite, pos, email=f"none.{tag}@example.com")
    by_email, email_me = member_with_points(
        suite, pos, consents={"email": True}, email=f"mail.{tag}@example.com"
    )
    by_sms, sms_me = member_with_points(
        suite, pos, consents={"sms": True, "email": True}, email=f"sms.{tag}@example.com"
    )
    # Identity's events are read in order: once the later members' consents are known, so is
    # the silent member, enrolled first.
    consents_known(marketer, "email", [email_me, sms_me])
    consents_known(marketer, "sms", [sms_me])

    # More prizes than members: every one of them wins.
    draw = new_draw_for(marketer, {"everyone": True}, points_per_chance=1)
    for me in (sms_me, email_me, silent_me):
        bought = me.post(f"/v1/me/draws/{draw['id']}/chances", {"request_id": "r1", "chances": 1})
        assert bought.status_code == 200, bought.text
    closed = marketer.post(f"/v1/marketing/draws/{draw['id']}/close").json()
    winners = {w["member_id"] for w in closed["winners"]}
    assert {by_sms["id"], by_email["id"], silent["id"]} <= winners

    mine = {by_sms["id"], by_email["id"], silent["id"]}
    ids = {str(winner_message_id(draw["id"], uuid.UUID(member))): member for member in mine}

    def told(channel: str) -> list[str]:
        return [
            ids[m["message_id"]] for m in sent_messages(suite, channel) if m["message_id"] in ids
        ]

    # The dispatcher sends them, a moment after the closing.
    assert eventually(
        lambda: told("sms") == [by_sms["id"]] and told("email") == [by_email["id"]], 30
    )
    shown = listed_for(silent_me, draw)
    assert shown is not None and silent["id"] in {w["member_id"] for w in shown["winners"]}
    # Closing again tells no one twice.
    marketer.post(f"/v1/marketing/draws/{draw['id']}/close")
    time.sleep(3)  # more than a round of the dispatcher
    assert (told("sms"), told("email")) == ([by_sms["id"]], [by_email["id"]])
