"""Identity's servicer in this process, on a free port, over a SQLite file and without Redis,
called over gRPC as the gateway calls it: enrolment, identification, merges and their refusals,
messages and the events each change writes. Points is a stand-in answering merges."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from loyalty.identity.v1 import identity_pb2 as pb
from services.runtime.errors import ERROR_CODE_METADATA_KEY
from tests.unit.identity_support import Identity, running_identity


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Identity]:
    with running_identity(tmp_path) as running:
        yield running


def refusal(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error = raised.value
    codes = [v for k, v in error.trailing_metadata() or () if k == ERROR_CODE_METADATA_KEY]
    return error.code(), codes[0] if codes else ""


def test_an_enrolled_member_is_found_by_phone_card_and_id(identity: Identity) -> None:
    member = identity.enrol("0912 111 2233", first_name="Sara", city="Rasht")
    by_phone = identity.stub.IdentifyMember(pb.IdentifyMemberRequest(phone="+989121112233"))
    by_card = identity.stub.IdentifyMember(pb.IdentifyMemberRequest(card_number=member.card_number))
    by_id = identity.stub.GetMember(pb.GetMemberRequest(member_id=member.id))
    assert by_phone.member.id == by_card.member.id == by_id.member.id == member.id
    assert by_id.member.phone_masked == "+98 912 *** **33"
    assert refusal(lambda: identity.enrol("09121112233")) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "member-exists",
    )
    assert refusal(
        lambda: identity.stub.IdentifyMember(pb.IdentifyMemberRequest(phone="09129990000"))
    ) == (grpc.StatusCode.NOT_FOUND, "member-not-found")
    assert refusal(
        lambda: identity.stub.IdentifyMember(pb.IdentifyMemberRequest(card_number="1234"))
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid-card-number")


def test_a_merge_is_refused_for_the_same_a_missing_or_an_already_merged_member(
    identity: Identity,
) -> None:
    survivor = identity.enrol("09121110001", first_name="Sara")
    duplicate = identity.enrol("09121110002", city="Rasht")

    def merge(survivor_id: str, duplicate_id: str) -> pb.MergeMembersResponse:
        return identity.stub.MergeMembers(
            pb.MergeMembersRequest(
                survivor_id=survivor_id, duplicate_id=duplicate_id, actor="support"
            )
        )

    assert refusal(lambda: merge(survivor.id, survivor.id)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "same-member",
    )
    assert refusal(lambda: merge(survivor.id, str(uuid.uuid4()))) == (
        grpc.StatusCode.NOT_FOUND,
        "member-not-found",
    )
    merged = merge(survivor.id, duplicate.id)
    assert (merged.survivor.id, merged.survivor.city, merged.available_points) == (
        survivor.id,
        "Rasht",
        70,
    )
    assert identity.points.merges == [(duplicate.id, survivor.id)]
    # The duplicate's id and phone lead to the survivor from now on.
    assert identity.stub.GetMember(pb.GetMemberRequest(member_id=duplicate.id)).member.id == (
        survivor.id
    )
    found = identity.stub.IdentifyMember(pb.IdentifyMemberRequest(phone="09121110002"))
    assert found.member.id == survivor.id
    third = identity.enrol("09121110003")
    assert refusal(lambda: merge(third.id, duplicate.id)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "already-merged",
    )
    identity.stub.EraseMember(pb.EraseMemberRequest(member_id=third.id, actor="support"))
    fourth = identity.enrol("09121110004")
    assert refusal(lambda: merge(fourth.id, third.id)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "member-erased",
    )


def test_events_carry_the_payloads_consumers_read(identity: Identity) -> None:
    member = identity.enrol(
        "09121110011",
        first_name="Kian",
        last_name="Ahmadi",
        city="Rasht",
        birth_date="1990-02-03",
        email="kian@example.com",
        consents=[pb.Consent(channel=pb.CONSENT_CHANNEL_SMS, granted=True)],
    )
    other = identity.enrol("09121110012")
    identity.stub.UpdateProfile(
        pb.UpdateProfileRequest(member_id=member.id, city="Tabriz", gender="female")
    )
    identity.stub.SetConsent(
        pb.SetConsentRequest(
            member_id=member.id, channel=pb.CONSENT_CHANNEL_SMS, granted=False, source="web"
        )
    )
    identity.stub.MergeMembers(
        pb.MergeMembersRequest(survivor_id=member.id, duplicate_id=other.id, actor="support")
    )
    assert identity.events() == [
        (
            "member.enrolled",
            member.id,
            {
                "store_id": "",
                "source": "pos",
                "first_name": "Kian",
                "city": "Rasht",
                "birth_date": "1990-02-03",
                "gender": "",
                "interests": [],
                "consents": {"sms": True, "email": False},
            },
        ),
        (
            "member.enrolled",
            other.id,
            {
                "store_id": "",
                "source": "pos",
                "first_name": "",
                "city": "",
                "birth_date": "",
                "gender": "",
                "interests": [],
                "consents": {"sms": False, "email": False},
            },
        ),
        (
            "member.profile_changed",
            member.id,
            {
                "first_name": "Kian",
                "city": "Tabriz",
                "birth_date": "1990-02-03",
                "gender": "female",
                "interests": [],
            },
        ),
        (
            "member.consent_changed",
            member.id,
            {"channel": "sms", "granted": False, "source": "web"},
        ),
        ("member.merged", other.id, {"survivor_id": member.id}),
    ]
    identity.stub.EraseMember(pb.EraseMemberRequest(member_id=member.id, actor="support"))
    after = identity.events()
    assert after[-1] == ("member.erased", member.id, {})
    # The personal payloads of the member and of its merged duplicate are scrubbed.
    assert [payload for _, _, payload in after[:3]] == [{"erased": True}] * 3


def test_a_message_goes_once_and_its_id_names_one_member_and_channel(identity: Identity) -> None:
    yes = identity.enrol(
        "09121110021", consents=[pb.Consent(channel=pb.CONSENT_CHANNEL_SMS, granted=True)]
    )
    no = identity.enrol("09121110022")
    duplicate = identity.enrol("09121110023")

    def send(message_id: str, member_id: str, channel: int = pb.MESSAGE_CHANNEL_SMS) -> int:
        request = pb.SendMessageRequest(
            message_id=message_id, member_id=member_id, channel=channel, body="Double points"
        )
        return identity.stub.SendMessage(request).status

    assert send("m-1", yes.id) == pb.MESSAGE_STATUS_SENT
    assert send("m-1", yes.id) == pb.MESSAGE_STATUS_SENT
    assert send("m-2", no.id) == pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT
    assert refusal(lambda: send("m-1", no.id)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "idempotency-mismatch",
    )
    assert refusal(lambda: send("m-1", yes.id, pb.MESSAGE_CHANNEL_EMAIL)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "idempotency-mismatch",
    )
    assert refusal(lambda: send("not an id", yes.id)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid-message-id",
    )
    # Sent to a member later merged: a retry naming either id is the same message.
    assert send("m-3", duplicate.id) == pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT
    identity.stub.MergeMembers(
        pb.MergeMembersRequest(survivor_id=yes.id, duplicate_id=duplicate.id, actor="support")
    )
    assert send("m-3", duplicate.id) == pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT
    assert send("m-3", yes.id) == pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT
    lines = (identity.data_dir / "outbox" / "sms.jsonl").read_text().splitlines()
    assert [json.loads(line)["message_id"] for line in lines] == ["m-1"]
