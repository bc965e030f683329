"""The identity service: members, their logins and profiles, staff, stores and POS keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.clients.calls import BATCH_RPC_TIMEOUT, Service, call
from loyalty.identity.v1 import identity_pb2 as pb
from loyalty.identity.v1.identity_pb2_grpc import IdentityServiceStub

# Argon2 is slow on purpose; on a busy host a hash may take longer than the usual deadline.
PASSWORD_RPC_TIMEOUT = 15.0
CONSENT_CHANNELS = {"sms": pb.CONSENT_CHANNEL_SMS, "email": pb.CONSENT_CHANNEL_EMAIL}
# How a till may name a member → the field of IdentifyMemberRequest.
IDENTIFIERS = {"phone": "phone", "card": "card_number", "email": "email", "token": "qr_token"}


@dataclass(frozen=True)
class Grant:
    """A session identity opened: the token, its end (as the API writes it, and as a time)."""

    token: str
    expires_at: str
    ends: datetime
    member_id: str = ""
    enrolled: bool = False
    staff_id: str = ""
    role: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """Whose session a token is: kind `member`, `staff` or `till`, and the subject's id (a
    member, a staff account, or the POS key a till session is bound to)."""

    kind: str
    subject_id: str
    role: str
    ends: datetime


@dataclass(frozen=True)
class PosKeyInfo:
    store_id: str
    key_id: str
    ends: datetime | None


def member_json(member: pb.Member) -> dict:
    return {
        "id": member.id,
        "card_number": member.card_number,
        "phone_masked": member.phone_masked,
        "email_masked": member.email_masked,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "birth_date": member.birth_date or None,
        "city": member.city,
        "consents": {
            pb.ConsentChannel.Name(c.channel).removeprefix("CONSENT_CHANNEL_").lower(): {
                "granted": c.granted,
                "source": c.source,
                "updated_at": c.updated_at.ToJsonString(),
            }
            for c in member.consents
        },
        "enrolled_at": member.enrolled_at.ToJsonString(),
        "gender": member.gender,
        "interests": list(member.interests),
    }


def store_json(store: pb.Store) -> dict:
    return {
        "id": store.id,
        "name": store.name,
        "closed_at": _when(store.closed_at, store.HasField("closed_at")),
    }


def staff_json(staff: pb.StaffMember) -> dict:
    return {"id": staff.id, "email": staff.email, "role": staff.role, "disabled": staff.disabled}


def _when(stamp: Timestamp, present: bool) -> str | None:
    return stamp.ToJsonString() if present else None


def key_json(key: pb.ApiKeyInfo) -> dict:
    if key.HasField("revoked_at"):
        status = "revoked"
    elif key.HasField("expires_at"):
        ends = key.expires_at.ToDatetime(tzinfo=UTC)
        status = "expired" if ends <= datetime.now(UTC) else "expiring"
    else:
        status = "active"
    return {
        "key_id": key.key_id,
        "status": status,
        "created_at": key.created_at.ToJsonString(),
        "revoked_at": _when(key.revoked_at, key.HasField("revoked_at")),
        "expires_at": _when(key.expires_at, key.HasField("expires_at")),
    }


def _grant(token: str, expires_at: Timestamp, **subject: str | bool) -> Grant:
    return Grant(
        token=token,
        expires_at=expires_at.ToJsonString(),
        ends=expires_at.ToDatetime(tzinfo=UTC),
        **subject,  # type: ignore[arg-type]
    )


class IdentityClient(Service):
    def __init__(self, channel: grpc.Channel) -> None:
        super().__init__(channel)
        self._stub = IdentityServiceStub(channel)

    # Members

    def enrol(self, details: dict, consents: dict[str, bool], store_id: str, source: str) -> dict:
        """A new member from ENROL_REQUEST's fields; `source` is `pos` or `admin`."""
        response = call(
            self._stub.EnrollMember,
            pb.EnrollMemberRequest(
                phone=details["phone"],
                email=details.get("email", ""),
                first_name=details.get("first_name", ""),
                last_name=details.get("last_name", ""),
                birth_date=details.get("birth_date", ""),
                city=details.get("city", ""),
                consents=[
                    pb.Consent(channel=CONSENT_CHANNELS[name], granted=granted)
                    for name, granted in consents.items()
                ],
                store_id=store_id,
                source=source,
                referral_code=details.get("referral_code", ""),
            ),
        )
        return member_json(response.member)

    def import_members(self, rows: list[dict], dry_run: bool) -> list[dict]:
        """A batch of an import file's members: each row has `line`, `phone` and any of the
        other MemberImportRow fields, `consents` as {channel: (granted, given_on)}. One result
        per row: `line`, `outcome`, `member_id`, `error_code`, `error`, `card_replaced`."""
        request = pb.ImportMembersRequest(
            rows=[
                pb.MemberImportRow(
                    consents=[
                        pb.ImportedConsent(
                            channel=CONSENT_CHANNELS[name], granted=granted, given_on=given_on
                        )
                        for name, (granted, given_on) in row.get("consents", {}).items()
                    ],
                    **{name: value for name, value in row.items() if name != "consents"},
                )
                for row in rows
            ],
            dry_run=dry_run,
        )
        response = call(self._stub.ImportMembers, request, timeout=BATCH_RPC_TIMEOUT)
        return [
            {
                "line": r.line,
                "outcome": r.outcome,
                "member_id": r.member_id,
                "error_code": r.error_code,
                "error": r.error,
                "card_replaced": r.card_replaced,
            }
            for r in response.results
        ]

    def identify(self, name: str, value: str) -> dict:
        """The member one identifier of IDENTIFIERS names."""
        lookup = pb.IdentifyMemberRequest(**{IDENTIFIERS[name]: value})
        return member_json(call(self._stub.IdentifyMember, lookup).member)

    def referral_code(self, member_id: str) -> tuple[str, int]:
        """The member's referral code (given at the first ask), and the friends who enrolled
        with it."""
        request = pb.GetReferralCodeRequest(member_id=member_id)
        answer = call(self._stub.GetReferralCode, request)
        return answer.code, answer.invited

    def search(self, name_prefix: str, limit: int = 20) -> list[dict]:
        """Live members whose first or last name starts with the prefix, by name."""
        found = call(
            self._stub.SearchMembers,
            pb.SearchMembersRequest(name_prefix=name_prefix, limit=limit),
        )
        return [member_json(member) for member in found.members]

    def member(self, member_id: str) -> dict:
        """The member `member_id` names (a merged duplicate's id names its survivor)."""
        response = call(self._stub.GetMember, pb.GetMemberRequest(member_id=member_id))
        return member_json(response.member)

    def update_profile(self, member_id: str, changes: dict, client_address: str) -> dict:
        """The profile after `changes` (fields of PROFILE_REQUEST; a new e-mail address gets a
        code and is in `email_change` until confirmed)."""
        change = pb.UpdateProfileRequest(member_id=member_id, client_address=client_address)
        for name in ("first_name", "last_name", "birth_date", "city", "gender", "email"):
            if name in changes:
                setattr(change, name, changes[name])
        if "interests" in changes:
            change.interests.extend(changes["interests"])
            change.set_interests = True
        response = call(self._stub.UpdateProfile, change)
        profile = member_json(response.member)
        if response.email_code_expires_in_seconds:
            profile["email_change"] = {
                "email": response.email_code_sent_to,
                "expires_in": response.email_code_expires_in_seconds,
            }
        return profile

    def confirm_email_change(self, member_id: str, email: str, code: str) -> dict:
        response = call(
            self._stub.ConfirmEmailChange,
            pb.ConfirmEmailChangeRequest(member_id=member_id, new_email=email, code=code),
        )
        return member_json(response.member)

    def set_consent(self, member_id: str, channel: str, granted: bool) -> dict:
        """Consent on `channel` (a name of CONSENT_CHANNELS), given by the member on the web."""
        response = call(
            self._stub.SetConsent,
            pb.SetConsentRequest(
                member_id=member_id,
                channel=CONSENT_CHANNELS[channel],
                granted=granted,
                source="web",
            ),
        )
        return member_json(response.member)

    def issue_qr(self, member_id: str) -> dict:
        issued = call(self._stub.IssueQrToken, pb.IssueQrTokenRequest(member_id=member_id))
        return {"token": issued.token, "expires_at": issued.expires_at.ToJsonString()}

    def start_phone_change(self, member_id: str, phone: str, client_address: str) -> int:
        """Sends codes to the current and the new number; seconds they work."""
        sent = call(
            self._stub.StartPhoneChange,
            pb.StartPhoneChangeRequest(
                member_id=member_id, new_phone=phone, client_address=client_address
            ),
        )
        return sent.expires_in_seconds

    def confirm_phone_change(self, member_id: str, phone: str, old_code: str, new_code: str):
        response = call(
            self._stub.ConfirmPhoneChange,
            pb.ConfirmPhoneChangeRequest(
                member_id=member_id,
                new_phone=phone,
                old_phone_code=old_code,
                new_phone_code=new_code,
            ),
        )
        return member_json(response.member)

    def export(self, member_id: str, actor: str = "") -> dict:
        """Everything identity holds about the member, as its own JSON document; taken by
        staff (`actor`), it is recorded in the audit trail."""
        document = call(
            self._stub.ExportMember, pb.ExportMemberRequest(member_id=member_id, actor=actor)
        )
        return json.loads(document.document_json)

    def reveal(self, member_id: str, actor: str) -> dict:
        """The member's phone and e-mail in full; recorded in the audit trail."""
        found = call(
            self._stub.RevealMember, pb.RevealMemberRequest(member_id=member_id, actor=actor)
        )
        return {"phone": found.phone, "email": found.email}

    def export_contacts(
        self,
        export_id: str,
        actor: str,
        segment_id: str,
        channel: str,
        member_ids: list[str],
        rows_before: int,
    ) -> list[dict]:
        """The consented contacts of a page of a segment's members; the page is counted into
        the export's record in the audit trail."""
        request = pb.ExportContactsRequest(
            export_id=export_id,
            actor=actor,
            segment_id=segment_id,
            channel=channel,
            member_ids=member_ids,
            rows_before=rows_before,
        )
        found = call(self._stub.ExportContacts, request, timeout=30)
        return [
            {"member_id": c.member_id, "first_name": c.first_name, "address": c.address}
            for c in found.contacts
        ]

    def duplicates(self, limit: int) -> list[dict]:
        found = call(self._stub.FindDuplicates, pb.FindDuplicatesRequest(limit=limit))
        return [
            {
                "first": member_json(pair.first),
                "second": member_json(pair.second),
                "reason": pair.reason,
            }
            for pair in found.pairs
        ]

    def merge(self, survivor_id: str, duplicate_id: str, actor: str) -> dict:
        merged = call(
            self._stub.MergeMembers,
            pb.MergeMembersRequest(survivor_id=survivor_id, duplicate_id=duplicate_id, actor=actor),
        )
        return {
            "survivor": member_json(merged.survivor),
            "available_points": merged.available_points,
        }

    def erase(self, member_id: str, actor: str) -> str:
        """Erases the member's personal data; when it was first erased."""
        erased = call(
            self._stub.EraseMember, pb.EraseMemberRequest(member_id=member_id, actor=actor)
        )
        return erased.erased_at.ToJsonString()

    # Logins and sessions

    def start_login(self, phone: str, client_address: str, language: str = "en") -> int:
        """Sends a login code to the phone, its message in `language`; seconds it works."""
        sent = call(
            self._stub.StartLogin,
            pb.StartLoginRequest(phone=phone, client_address=client_address, language=language),
        )
        return sent.expires_in_seconds

    def verify_login(
        self, phone: str, code: str, client_address: str, referral_code: str = ""
    ) -> Grant:
        """A member session for the code (a new phone number is enrolled, referred by the
        owner of `referral_code` if given)."""
        login = call(
            self._stub.VerifyLogin,
            pb.VerifyLoginRequest(
                phone=phone,
                code=code,
                client_address=client_address,
                referral_code=referral_code,
            ),
        )
        return _grant(
            login.token, login.expires_at, member_id=login.member.id, enrolled=login.enrolled
        )

    def login_staff(self, email: str, password: str, client_address: str) -> Grant:
        response = call(
            self._stub.LoginStaff,
            pb.LoginStaffRequest(email=email, password=password, client_address=client_address),
            timeout=PASSWORD_RPC_TIMEOUT,
        )
        return _grant(
            response.token,
            response.expires_at,
            staff_id=response.staff.id,
            role=response.staff.role,
        )

    def open_till_session(self, api_key: str) -> str:
        """A till session bound to the POS key; its token."""
        opened = call(self._stub.OpenTillSession, pb.OpenTillSessionRequest(api_key=api_key))
        return opened.token

    def session(self, token: str) -> SessionInfo:
        response = call(self._stub.AuthenticateSession, pb.AuthenticateSessionRequest(token=token))
        kinds = {pb.SESSION_KIND_MEMBER: "member", pb.SESSION_KIND_TILL: "till"}
        return SessionInfo(
            kind=kinds.get(response.kind, "staff"),
            subject_id=response.subject_id,
            role=response.role,
            ends=response.expires_at.ToDatetime(tzinfo=UTC),
        )

    def revoke_session(self, token: str) -> None:
        call(self._stub.RevokeSession, pb.RevokeSessionRequest(token=token))

    # Staff

    def create_staff(self, email: str, password: str, role: str, actor: str = "cli") -> dict:
        response = call(
            self._stub.CreateStaff,
            pb.CreateStaffRequest(email=email, password=password, role=role, actor=actor),
            timeout=PASSWORD_RPC_TIMEOUT,
        )
        return staff_json(response.staff)

    def set_staff_disabled(self, staff_id: str, disabled: bool, actor: str) -> dict:
        response = call(
            self._stub.SetStaffDisabled,
            pb.SetStaffDisabledRequest(staff_id=staff_id, disabled=disabled, actor=actor),
        )
        return staff_json(response.staff)

    def change_staff(
        self, staff_id: str, actor: str, role: str = "", password: str = "", sign_out: bool = False
    ) -> dict:
        """A new role or password, or the sessions ended; every session of the account ends."""
        response = call(
            self._stub.ChangeStaff,
            pb.ChangeStaffRequest(
                staff_id=staff_id, role=role, password=password, sign_out=sign_out, actor=actor
            ),
            timeout=PASSWORD_RPC_TIMEOUT,
        )
        return staff_json(response.staff)

    def staff(self) -> list[dict]:
        """Every staff account, by e-mail."""
        return [staff_json(s) for s in call(self._stub.ListStaff, pb.ListStaffRequest()).staff]

    def staff_actions(self, member_id: str = "", limit: int = 50) -> list[dict]:
        """What staff did through identity, newest first: to this member, or everything."""
        response = call(
            self._stub.ListStaffActions,
            pb.ListStaffActionsRequest(member_id=member_id, limit=limit),
        )
        return [
            {
                "at": action.at.ToJsonString(),
                "actor": action.actor,
                "action": action.action,
                "member_id": action.member_id,
                "subject": action.subject,
                "detail": action.detail,
            }
            for action in response.actions
        ]

    # Stores and their POS keys

    def create_store(self, name: str, actor: str = "cli") -> dict:
        store = call(self._stub.CreateStore, pb.CreateStoreRequest(name=name, actor=actor)).store
        return store_json(store)

    def stores(self) -> list[dict]:
        """Every store, by name."""
        found = call(self._stub.ListStores, pb.ListStoresRequest()).stores
        return [store_json(store) for store in found]

    def rename_store(self, store_id: str, name: str, actor: str) -> dict:
        request = pb.RenameStoreRequest(store_id=store_id, name=name, actor=actor)
        return store_json(call(self._stub.RenameStore, request).store)

    def close_store(self, store_id: str, actor: str) -> tuple[dict, list[str]]:
        """The closed store, and the hashes of the keys revoked now (to forget them)."""
        found = call(self._stub.CloseStore, pb.CloseStoreRequest(store_id=store_id, actor=actor))
        return store_json(found.store), list(found.revoked_key_hashes)

    def receive_sms(self, from_phone: str, text: str) -> str:
        """What an SMS from a member did (an opt-out withdraws their SMS consent)."""
        request = pb.ReceiveSmsRequest(from_phone=from_phone, text=text)
        return call(self._stub.ReceiveSms, request).outcome

    def store_names(self, store_ids: set[str]) -> dict[str, str]:
        """Store id → name, for the ids of stores that exist."""
        if not store_ids:
            return {}
        found = call(self._stub.GetStores, pb.GetStoresRequest(store_ids=sorted(store_ids)))
        return {store.id: store.name for store in found.stores}

    def pos_key(self, api_key: str) -> PosKeyInfo:
        """The store and key a POS key stands for; 401 when it is not valid."""
        response = call(
            self._stub.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=api_key)
        )
        ends = (
            response.expires_at.ToDatetime(tzinfo=UTC) if response.HasField("expires_at") else None
        )
        return PosKeyInfo(store_id=response.store_id, key_id=response.key_id, ends=ends)

    def create_api_key(self, store_id: str, actor: str = "cli") -> dict:
        issued = call(
            self._stub.CreateApiKey, pb.CreateApiKeyRequest(store_id=store_id, actor=actor)
        )
        return {"key_id": issued.key_id, "api_key": issued.api_key}

    def api_keys(self, store_id: str) -> list[dict]:
        response = call(self._stub.ListApiKeys, pb.ListApiKeysRequest(store_id=store_id))
        return [key_json(key) for key in response.keys]

    def revoke_api_key(self, store_id: str, key_id: str, actor: str) -> tuple[dict, str]:
        """The revoked key, and its hash (to forget it)."""
        response = call(
            self._stub.RevokeApiKey,
            pb.RevokeApiKeyRequest(store_id=store_id, key_id=key_id, actor=actor),
        )
        return key_json(response.key), response.key_hash

    def rotate_api_key(
        self, store_id: str, key_id: str, grace_seconds: int, actor: str
    ) -> tuple[dict, str]:
        """The new key (shown once) with the old one's end, and the old key's hash."""
        response = call(
            self._stub.RotateApiKey,
            pb.RotateApiKeyRequest(
                store_id=store_id, key_id=key_id, grace_seconds=grace_seconds, actor=actor
            ),
        )
        rotated = {
            "key_id": response.key_id,
            "api_key": response.api_key,
            "replaced": key_json(response.replaced),
        }
        return rotated, response.replaced_key_hash
