"""Members as the till, the member and the support desk meet them: e-mail and QR identification,
one-time code login, merges, erasure, data export and member events."""

from __future__ import annotations

import json
import re
import uuid

import grpc
import pytest
import redis
from sqlalchemy import MetaData, create_engine, select

from deploy.local import Suite
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2 as pb
from loyalty.identity.v1 import identity_pb2_grpc
from tests.support import (
    Api,
    Pos,
    db_url,
    e164,
    eventually,
    last_code,
    log_in,
    logs_of,
    new_phone,
    run_check,
    sent_messages,
    service_channel,
)


def identity_stub(suite: Suite) -> identity_pb2_grpc.IdentityServiceStub:
    """Identity as campaigns calls it: SendMessage and ListEvents are its calls."""
    return identity_pb2_grpc.IdentityServiceStub(service_channel(suite, "identity", "campaigns"))


def test_e_mail_identifies_in_any_case_and_a_shared_one_is_ambiguous(pos: Pos) -> None:
    tag = uuid.uuid4().hex[:8]
    member = pos.enrol(email=f"Sara.{tag}@Example.com")
    found = pos.api.get("/v1/members/identify", params={"email": f" sara.{tag}@example.COM "})
    assert found.status_code == 200, found.text
    assert found.json()["member_id"] == member["id"]

    pos.enrol(email=f"sara.{tag}@example.com")
    shared = pos.api.get("/v1/members/identify", params={"email": f"sara.{tag}@example.com"})
    assert shared.status_code == 409
    assert shared.json()["code"] == "ambiguous-identifier"
    unknown = pos.api.get("/v1/members/identify", params={"email": f"nobody.{tag}@example.com"})
    assert unknown.status_code == 404


def test_a_qr_token_from_the_members_phone_identifies_them_and_a_forged_one_does_not(
    suite: Suite, pos: Pos
) -> None:
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Nima")
    me = Api(suite.gateway_url, log_in(suite, phone))
    issued = me.get("/v1/me/qr")
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]

    scanned = pos.api.get("/v1/members/identify", params={"token": token})
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["member_id"] == member["id"]
    assert scanned.json()["display_name"] == "Nima"

    prefix, member_hex, expires, signature = token.split(".")
    other = uuid.UUID(pos.enrol()["id"]).hex
    forgeries = [
        f"{prefix}.{other}.{expires}.{signature}",  # someone else's id under this signature
        f"{prefix}.{member_hex}.{int(expires) + 86400}.{signature}",  # a longer life
        f"{prefix}.{member_hex}.{expires}.{signature[:-2]}AA",  # a made-up signature
        "not-a-token",
    ]
    for forged in forgeries:
        refused = pos.api.get("/v1/members/identify", params={"token": forged})
        assert refused.status_code == 422, forged
        assert refused.json()["code"] == "invalid-qr-token"


def test_login_with_a_code_opens_a_session_for_that_member_only(suite: Suite, pos: Pos) -> None:
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Leila")
    pos.purchase(member["id"], amount="500000")
    token = log_in(suite, phone)
    me = Api(suite.gateway_url, token)
    mine = me.get("/v1/me")
    assert mine.status_code == 200, mine.text
    assert mine.json()["member"]["id"] == member["id"]
    assert mine.json()["points"]["available"] == 50
    ledger = me.get("/v1/me/ledger", params={"limit": 10})
    assert ledger.status_code == 200
    assert [entry["points"] for entry in ledger.json()["items"]] == [50]

    # A member session is no POS key and no admin token.
    assert me.get(f"/v1/members/{member['id']}/points").status_code == 403
    assert me.post("/v1/admin/stores", {"name": "mine now"}).status_code == 403

    assert me.post("/v1/auth/logout").status_code == 200
    # Every gateway process refuses it within the seconds it may keep a session in mind.
    assert eventually(lambda: me.get("/v1/me").status_code == 401)


def test_a_first_login_enrols_a_new_phone(suite: Suite) -> None:
    phone = new_phone()
    api = Api(suite.gateway_url)
    assert api.post("/v1/auth/otp", {"phone": phone}).status_code == 202
    code = last_code(suite, e164(phone))
    verified = api.post("/v1/auth/otp/verify", {"phone": phone, "code": code})
    assert verified.status_code == 200, verified.text
    assert verified.json()["enrolled"] is True
    again = api.post("/v1/auth/otp/verify", {"phone": phone, "code": code})
    assert again.status_code == 401  # a code works once


def test_a_sixth_try_on_a_code_is_refused_even_with_the_right_code(suite: Suite) -> None:
    phone = new_phone()
    api = Api(suite.gateway_url)
    assert api.post("/v1/auth/otp", {"phone": phone}).status_code == 202
    code = last_code(suite, e164(phone))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _try in range(5):
        answer = api.post("/v1/auth/otp/verify", {"phone": phone, "code": wrong})
        assert answer.status_code == 401
        assert answer.json()["code"] == "wrong-code"
    sixth = api.post("/v1/auth/otp/verify", {"phone": phone, "code": code})
    assert sixth.status_code == 429
    assert sixth.json()["code"] == "too-many-tries"
    assert int(sixth.headers["Retry-After"]) > 0


def test_codes_sent_to_one_phone_are_limited(suite: Suite) -> None:
    phone = new_phone()
    api = Api(suite.gateway_url)
    answers = [api.post("/v1/auth/otp", {"phone": phone}) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["code"] == "too-many-codes"
    assert int(answers[-1].headers["Retry-After"]) > 0
    codes = [last_code_in(m["body"]) for m in sent_messages(suite) if m["to"] == e164(phone)]
    assert len(codes) == 3

    # Only the latest code works.
    for stale in codes[:2]:
        if stale != codes[2]:
            refused = api.post("/v1/auth/otp/verify", {"phone": phone, "code": stale})
            assert refused.status_code == 401
    assert api.post("/v1/auth/otp/verify", {"phone": phone, "code": codes[2]}).status_code == 200

    logs = logs_of(suite)
    assert phone[1:] not in logs
    for code in codes:
        assert not re.search(rf"(?<![0-9a-f]){code}(?![0-9a-f])", logs)


def last_code_in(body: str) -> str:
    return next(word.strip(".:,") for word in body.split() if word.strip(".:,").isdigit())


def test_changing_the_phone_needs_a_code_from_the_old_and_the_new_number(
    suite: Suite, pos: Pos
) -> None:
    old, new = new_phone(), new_phone()
    member = pos.enrol(phone=old)
    me = Api(suite.gateway_url, log_in(suite, old))
    assert me.post("/v1/me/phone", {"phone": new}).status_code == 202
    old_code, new_code = last_code(suite, e164(old)), last_code(suite, e164(new))

    swapped = me.post(
        "/v1/me/phone/confirm", {"phone": new, "old_code": new_code, "new_code": old_code}
    )
    assert swapped.status_code == 401
    assert pos.api.get("/v1/members/identify", params={"phone": new}).status_code == 404

    changed = me.post(
        "/v1/me/phone/confirm", {"phone": new, "old_code": old_code, "new_code": new_code}
    )
    assert changed.status_code == 200, changed.text
    assert (
        pos.api.get("/v1/members/identify", params={"phone": new}).json()["member_id"]
        == (member["id"])
    )
    assert pos.api.get("/v1/members/identify", params={"phone": old}).status_code == 404


def test_profile_and_consents_change_only_declared_fields(suite: Suite, pos: Pos) -> None:
    phone = new_phone()
    member = pos.enrol(phone=phone)
    me = Api(suite.gateway_url, log_in(suite, phone))
    changed = me.request(
        "PATCH",
        "/v1/me",
        json={"first_name": "Maryam", "city": "Tabriz", "interests": ["Tea", "tea"], "id": "x"},
    )
    assert changed.status_code == 200, changed.text
    profile = changed.json()
    assert (profile["id"], profile["first_name"], profile["city"], profile["interests"]) == (
        member["id"],
        "Maryam",
        "Tabriz",
        ["tea"],
    )
    consent = me.request("PUT", "/v1/me/consents/sms", json={"granted": True})
    assert consent.status_code == 200
    assert consent.json()["consents"]["sms"]["granted"] is True
    assert consent.json()["consents"]["sms"]["source"] == "web"
    bad = me.request("PATCH", "/v1/me", json={"birth_date": "1990-13-45"})
    assert bad.status_code == 422


def test_merge_moves_points_and_identifiers_to_the_survivor_and_is_audited(
    suite: Suite, pos: Pos
) -> None:
    keep_phone, dup_phone = new_phone(), new_phone()
    survivor = pos.enrol(phone=keep_phone, first_name="Reza")
    duplicate = pos.enrol(phone=dup_phone, city="Yazd", email=f"r.{uuid.uuid4().hex[:6]}@ex.com")
    assert pos.purchase(survivor["id"], amount="300000").status_code == 201
    assert pos.purchase(duplicate["id"], amount="200000").status_code == 201
    duplicate_session = Api(suite.gateway_url, log_in(suite, dup_phone))
    for _ in range(4):  # so that every gateway process remembers whom the phone named
        before = pos.api.get("/v1/members/identify", params={"phone": dup_phone}).json()
        assert (before["member_id"], before["points"]["available"]) == (duplicate["id"], 20)

    merged = pos.admin.post(
        "/v1/support/members/merges",
        {"survivor_id": survivor["id"], "duplicate_id": duplicate["id"]},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["available_points"] == 50
    assert merged.json()["survivor"]["city"] == "Yazd"  # a field the survivor lacked

    for params in ({"phone": dup_phone}, {"card": duplicate["card_number"]}):
        found = pos.api.get("/v1/members/identify", params=params)
        assert found.status_code == 200
        assert found.json()["member_id"] == survivor["id"]
        assert found.json()["points"]["available"] == 50
    assert pos.balance(duplicate["id"])["member_id"] == survivor["id"]
    assert pos.balance(survivor["id"])["available"] == 50
    # The duplicate's login ended; logging in again with its phone is the survivor's session.
    assert eventually(lambda: duplicate_session.get("/v1/me").status_code == 401)
    again_in = Api(suite.gateway_url, log_in(suite, dup_phone)).get("/v1/me").json()
    assert again_in["member"]["id"] == survivor["id"]

    again = pos.admin.post(
        "/v1/support/members/merges",
        {"survivor_id": survivor["id"], "duplicate_id": duplicate["id"]},
    )
    assert again.status_code == 200  # a retry changes nothing
    assert pos.balance(survivor["id"])["available"] == 50

    export = pos.admin.get(f"/v1/support/members/{survivor['id']}/export").json()
    [audit] = export["identity"]["merges"]
    assert audit["duplicate_id"] == duplicate["id"] and audit["actor"] == "admin-token"
    assert run_check(suite.env).returncode == 0


def test_likely_duplicates_are_listed(pos: Pos) -> None:
    tag = uuid.uuid4().hex[:8]
    a = pos.enrol(first_name="Ali", last_name=f"Rad{tag}", birth_date="1990-02-03")
    b = pos.enrol(first_name="ali", last_name=f"rad{tag}", birth_date="1990-02-03")
    c = pos.enrol(email=f"{tag}@example.com")
    d = pos.enrol(email=f"{tag}@EXAMPLE.com")
    listed = pos.admin.get("/v1/support/members/duplicates", params={"limit": 500})
    assert listed.status_code == 200
    pairs = {
        (frozenset((p["first"]["id"], p["second"]["id"])), p["reason"])
        for p in listed.json()["pairs"]
    }
    assert (frozenset((a["id"], b["id"])), "name-and-birth-date") in pairs
    assert (frozenset((c["id"], d["id"])), "email") in pairs


def test_an_erased_member_neither_earns_nor_spends(pos: Pos) -> None:
    member = pos.enrol()
    assert pos.purchase(member["id"], amount="400000").status_code == 201
    erased = pos.admin.post(f"/v1/support/members/{member['id']}/erasure")
    assert erased.status_code == 200, erased.text

    # Refused at once: identity tells points as it erases, before its event feed does.
    for _ in range(2):
        bought = pos.purchase(member["id"], amount="400000")
        assert (bought.status_code, bought.json()["code"]) == (422, "member-erased")
    held = pos.api.post(
        "/v1/redemptions",
        {"redemption_id": f"RD-{uuid.uuid4().hex[:8]}", "member_id": member["id"], "points": 10},
    )
    assert (held.status_code, held.json()["code"]) == (422, "member-erased")
    line = {
        "transaction_id": f"T-{uuid.uuid4().hex[:8]}",
        "member_id": member["id"],
        "amount": "400000",
        "currency": "IRR",
    }
    batch = pos.api.post("/v1/purchases/batch", {"purchases": [line]})
    assert [(r["status"], r["code"]) for r in batch.json()["results"]] == [(422, "member-erased")]
    points = pos.balance(member["id"])
    assert (points["available"], points["held"]) == (40, 0)  # nothing posted


def test_erasure_leaves_no_personal_data_and_the_books_still_balance(
    suite: Suite, pos: Pos
) -> None:
    phone = new_phone()
    email = f"erase.{uuid.uuid4().hex[:8]}@example.com"
    member = pos.enrol(
        phone=phone,
        email=email,
        first_name="Shirin",
        last_name=f"Erasable{uuid.uuid4().hex[:6]}",
        birth_date="1988-08-08",
        city="Kerman",
        consents={"sms": True},
    )
    token = log_in(suite, phone)
    me = Api(suite.gateway_url, token)
    me.request("PATCH", "/v1/me", json={"interests": ["saffron"]})
    assert pos.purchase(member["id"], amount="400000").status_code == 201

    erased = pos.admin.post(f"/v1/support/members/{member['id']}/erasure")
    assert erased.status_code == 200, erased.text
    assert pos.admin.post(f"/v1/support/members/{member['id']}/erasure").json() == erased.json()

    assert pos.api.get("/v1/members/identify", params={"phone": phone}).status_code == 404
    card = pos.api.get("/v1/members/identify", params={"card": member["card_number"]})
    assert card.status_code == 404
    assert eventually(lambda: me.get("/v1/me").status_code == 401)  # the sessions ended
    assert pos.balance(member["id"])["available"] == 40  # the ledger is untouched

    personal = [
        phone,
        phone[1:],
        e164(phone),
        email,
        "Shirin",
        member["last_name"],
        "1988-08-08",
        "Kerman",
        "saffron",
        member["card_number"],
    ]
    engine = create_engine(db_url(suite, "identity"))
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        dump = "\n".join(
            repr(row)
            for table in metadata.sorted_tables
            for row in connection.execute(select(table))
        )
    engine.dispose()
    cache = redis.Redis.from_url(suite.env["REDIS_URL"])
    prefix = suite.env["LOYALTY_CACHE_PREFIX"]
    cached = "\n".join(
        f"{key!r}={cache.get(key)!r}" for key in cache.scan_iter(f"{prefix}:*", count=1000)
    )
    for value in personal:
        assert value not in dump, f"{value} is still in the identity database"
        assert value not in cached, f"{value} is still in the cache"
    assert run_check(suite.env).returncode == 0


def test_a_member_exports_everything_held_about_them(suite: Suite, pos: Pos) -> None:
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Omid", consents={"email": False})
    pos.purchase(member["id"], amount="100000")
    me = Api(suite.gateway_url, log_in(suite, phone))
    said = {"feedback_id": "f-export", "rating": 2, "comment": "The <b>queue</b> was long"}
    assert me.post("/v1/me/feedback", said).status_code < 300
    export = me.get("/v1/me/export")
    assert export.status_code == 200, export.text
    document = export.json()
    assert document["identity"]["member"]["phone"] == e164(phone)
    assert document["identity"]["member"]["first_name"] == "Omid"
    assert document["identity"]["member"]["consents"][0]["channel"] == "email"
    assert [entry["points"] for entry in document["ledger"]] == [10]
    assert document["points"]["available"] == 10
    assert [(f["rating"], f["comment"]) for f in document["feedback"]] == [
        (2, "The <b>queue</b> was long")
    ]


def test_messages_go_only_to_consenting_members_and_only_once(suite: Suite, pos: Pos) -> None:
    stub = identity_stub(suite)
    yes = pos.enrol(consents={"sms": True})
    no = pos.enrol(consents={"sms": False})
    message_id = f"campaign-1:{uuid.uuid4().hex}"

    def send(member_id: str, suffix: str) -> int:
        return stub.SendMessage(
            pb.SendMessageRequest(
                message_id=f"{message_id}:{suffix}",
                member_id=member_id,
                channel=pb.MESSAGE_CHANNEL_SMS,
                body="Double points this weekend",
            ),
            timeout=5,
        ).status

    assert send(yes["id"], "yes") == pb.MESSAGE_STATUS_SENT
    assert send(yes["id"], "yes") == pb.MESSAGE_STATUS_SENT  # a replay
    with pytest.raises(grpc.RpcError) as reused:  # the same id for another member
        send(no["id"], "yes")
    assert reused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert send(no["id"], "no") == pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT
    delivered = [m for m in sent_messages(suite) if m["message_id"].startswith(message_id)]
    assert [m["message_id"] for m in delivered] == [f"{message_id}:yes"]
    assert delivered[0]["to"].startswith("+98")


def test_a_marketing_sms_says_how_to_stop_and_the_reply_stops_them(suite: Suite, pos: Pos) -> None:
    stub = identity_stub(suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, consents={"sms": True})
    message_id = f"campaign-2:{uuid.uuid4().hex}"

    def send(suffix: str) -> int:
        request = pb.SendMessageRequest(
            message_id=f"{message_id}:{suffix}",
            member_id=member["id"],
            channel=pb.MESSAGE_CHANNEL_SMS,
            body="Double points this weekend",
        )
        return stub.SendMessage(request, timeout=5).status

    assert send("1") == pb.MESSAGE_STATUS_SENT
    (sent,) = [m for m in sent_messages(suite) if m["message_id"] == f"{message_id}:1"]
    assert sent["body"] == "Double points this weekend\nلغو۱۱"

    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    other = admin.post("/v1/admin/sms/inbound", {"from": e164(phone), "text": "thanks!"})
    assert other.json() == {"outcome": "not-an-opt-out"}
    assert send("2") == pb.MESSAGE_STATUS_SENT
    stranger = admin.post("/v1/admin/sms/inbound", {"from": "+989990000001", "text": "لغو"})
    assert stranger.json()["outcome"] in ("unknown-sender", "opted-out")
    for _ in range(2):  # a provider's retried delivery is harmless
        reply = admin.post("/v1/admin/sms/inbound", {"from": e164(phone), "text": " لغو ۱۱ "})
        assert (reply.status_code, reply.json()) == (200, {"outcome": "opted-out"})
    assert send("3") == pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT
    bad = admin.post("/v1/admin/sms/inbound", {"from": e164(phone)})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid-request")


def test_member_events_describe_each_change_without_phone_or_e_mail(suite: Suite, pos: Pos) -> None:
    stub = identity_stub(suite)
    cursor = ""
    while True:  # start from the end of what is there
        page = stub.ListEvents(common_pb2.ListEventsRequest(cursor=cursor, limit=1000), timeout=5)
        if not page.events:
            break
        cursor = page.next_cursor
    phone = new_phone()
    email = f"ev.{uuid.uuid4().hex[:8]}@example.com"
    member = pos.enrol(phone=phone, email=email, first_name="Kian", consents={"sms": True})
    other = pos.enrol()
    me = Api(suite.gateway_url, log_in(suite, phone))
    me.request("PATCH", "/v1/me", json={"city": "Rasht"})
    me.request("PUT", "/v1/me/consents/sms", json={"granted": False})
    pos.admin.post(
        "/v1/support/members/merges", {"survivor_id": member["id"], "duplicate_id": other["id"]}
    )
    pos.admin.post(f"/v1/support/members/{member['id']}/erasure")

    def read() -> common_pb2.ListEventsResponse:
        return stub.ListEvents(common_pb2.ListEventsRequest(cursor=cursor, limit=1000), timeout=5)

    # On PostgreSQL an event is served once every older transaction of the server has ended.
    assert eventually(lambda: len(read().events) == 6, within=30)
    page = read()
    mine = [(e.type, e.member_id, json.loads(e.payload_json)) for e in page.events]
    assert [(kind, who) for kind, who, _ in mine] == [
        ("member.enrolled", member["id"]),
        ("member.enrolled", other["id"]),
        ("member.profile_changed", member["id"]),
        ("member.consent_changed", member["id"]),
        ("member.merged", other["id"]),
        ("member.erased", member["id"]),
    ]
    assert mine[3][2] == {"channel": "sms", "granted": False, "source": "web"}
    assert mine[4][2] == {"survivor_id": member["id"]}
    # Erasure scrubbed the personal fields of the member's (and its merged duplicate's) events.
    assert [payload for _, _, payload in mine[:3]] == [{"erased": True}] * 3
    everything = page.SerializeToString()
    for secret in (phone[1:], email.encode().decode(), "Kian", "Rasht"):
        assert secret.encode() not in everything
