"""IdentityService over gRPC: proto in, domain call, proto out; nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2 as pb
from loyalty.identity.v1 import identity_pb2_grpc
from services.identity import member_messages
from services.identity.audit import AuditTrail
from services.identity.contact_exports import ContactExports
from services.identity.directory import Directory, Enrollment, MemberView
from services.identity.events import EventFeed
from services.identity.imports import ImportRow, MemberImport
from services.identity.login import MemberLogin
from services.identity.member_messages import MemberMessages
from services.identity.merging import Merger
from services.identity.models import ApiKey, StaffAction, Store
from services.identity.privacy import Privacy
from services.identity.profiles import ProfileChange, Profiles
from services.identity.referrals import ReferralCodes
from services.identity.replies import SmsReplies
from services.identity.sessions import TILL_SESSION, Sessions
from services.identity.staff import Staff, StaffView
from services.identity.terminals import Terminals
from services.runtime.convert import to_timestamp
from services.runtime.errors import InvalidArgument, Unauthenticated
from services.runtime.outbox import Event

CHANNEL_NAMES = {pb.CONSENT_CHANNEL_SMS: "sms", pb.CONSENT_CHANNEL_EMAIL: "email"}
CHANNEL_ENUMS = {name: value for value, name in CHANNEL_NAMES.items()}
MESSAGE_CHANNELS = {pb.MESSAGE_CHANNEL_SMS: "sms", pb.MESSAGE_CHANNEL_EMAIL: "email"}
MESSAGE_STATUSES = {
    member_messages.SENT: pb.MESSAGE_STATUS_SENT,
    member_messages.NO_CONSENT: pb.MESSAGE_STATUS_SKIPPED_NO_CONSENT,
    member_messages.NO_ADDRESS: pb.MESSAGE_STATUS_SKIPPED_NO_ADDRESS,
    member_messages.ERASED: pb.MESSAGE_STATUS_SKIPPED_ERASED,
}
SESSION_KINDS = {
    "member": pb.SESSION_KIND_MEMBER,
    "staff": pb.SESSION_KIND_STAFF,
    "till": pb.SESSION_KIND_TILL,
}


def member_message(view: MemberView) -> pb.Member:
    return pb.Member(
        id=view.id,
        card_number=view.card_number,
        phone_masked=view.phone_masked,
        email_masked=view.email_masked,
        first_name=view.first_name,
        last_name=view.last_name,
        birth_date=view.birth_date,
        city=view.city,
        consents=[
            pb.Consent(
                channel=CHANNEL_ENUMS[c.channel],
                granted=c.granted,
                source=c.source,
                updated_at=to_timestamp(c.updated_at),
            )
            for c in view.consents
        ],
        enrolled_at=to_timestamp(view.enrolled_at),
        enrolled_store_id=view.enrolled_store_id,
        gender=view.gender,
        interests=list(view.interests),
        erased=view.erased,
        referrer_id=view.referrer_id,
    )


def api_key_message(key: ApiKey) -> pb.ApiKeyInfo:
    info = pb.ApiKeyInfo(
        key_id=str(key.id), store_id=str(key.store_id), created_at=to_timestamp(key.created_at)
    )
    if key.revoked_at is not None:
        info.revoked_at.CopyFrom(to_timestamp(key.revoked_at))
    if key.expires_at is not None:
        info.expires_at.CopyFrom(to_timestamp(key.expires_at))
    return info


def store_message(store: Store) -> pb.Store:
    message = pb.Store(id=str(store.id), name=store.name, created_at=to_timestamp(store.created_at))
    if store.closed_at is not None:
        message.closed_at.CopyFrom(to_timestamp(store.closed_at))
    return message


def staff_action_message(action: StaffAction) -> pb.StaffAction:
    return pb.StaffAction(
        id=str(action.id),
        at=to_timestamp(action.at),
        actor=action.actor,
        action=action.action,
        member_id=str(action.member_id) if action.member_id else "",
        subject=action.subject,
        detail=action.detail,
    )


def staff_message(view: StaffView) -> pb.StaffMember:
    return pb.StaffMember(
        id=view.id,
        email=view.email,
        role=view.role,
        disabled=view.disabled,
        created_at=to_timestamp(view.created_at),
    )


def event_message(event: Event) -> common_pb2.OutboxEvent:
    return common_pb2.OutboxEvent(
        sequence=event.sequence,
        type=event.type,
        member_id=event.member_id,
        payload_json=json.dumps(event.payload, separators=(",", ":")),
        occurred_at=to_timestamp(event.occurred_at),
    )


def _channel(value: int) -> str:
    if value not in CHANNEL_NAMES:
        raise InvalidArgument("consent channel is unspecified")
    return CHANNEL_NAMES[value]


@dataclass(frozen=True)
class IdentityParts:
    directory: Directory
    imports: MemberImport
    referral_codes: ReferralCodes
    terminals: Terminals
    profiles: Profiles
    replies: SmsReplies
    merger: Merger
    privacy: Privacy
    login: MemberLogin
    messages: MemberMessages
    sessions: Sessions
    staff: Staff
    events: EventFeed
    audit: AuditTrail
    contact_exports: ContactExports


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, parts: IdentityParts) -> None:
        self._parts = parts

    def EnrollMember(self, request: pb.EnrollMemberRequest, context: grpc.ServicerContext):
        consents = [(_channel(c.channel), c.granted) for c in request.consents]
        view = self._parts.directory.enroll(
            Enrollment(
                phone=request.phone,
                email=request.email,
                first_name=request.first_name,
                last_name=request.last_name,
                birth_date=request.birth_date,
                city=request.city,
                consents=tuple(consents),
                store_id=request.store_id,
                source=request.source or "pos",
                referral_code=request.referral_code,
            )
        )
        return pb.EnrollMemberResponse(member=member_message(view))

    def ImportMembers(self, request: pb.ImportMembersRequest, context: grpc.ServicerContext):
        rows = [
            ImportRow(
                line=row.line,
                phone=row.phone,
                external_id=row.external_id,
                card_number=row.card_number,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                birth_date=row.birth_date,
                city=row.city,
                consents=tuple(
                    (CHANNEL_NAMES.get(c.channel, ""), c.granted, c.given_on) for c in row.consents
                ),
            )
            for row in request.rows
        ]
        results = self._parts.imports.run(rows, request.dry_run)
        return pb.ImportMembersResponse(
            results=[
                pb.MemberImportResult(
                    line=r.line,
                    outcome=r.outcome,
                    member_id=r.member_id,
                    error_code=r.error_code,
                    error=r.error,
                    card_replaced=r.card_replaced,
                )
                for r in results
            ]
        )

    def GetReferralCode(self, request: pb.GetReferralCodeRequest, context: grpc.ServicerContext):
        code, invited = self._parts.referral_codes.code_of(request.member_id)
        return pb.GetReferralCodeResponse(code=code, invited=invited)

    def GetMember(self, request: pb.GetMemberRequest, context: grpc.ServicerContext):
        view = self._parts.directory.get(request.member_id)
        return pb.GetMemberResponse(member=member_message(view))

    def IdentifyMember(self, request: pb.IdentifyMemberRequest, context: grpc.ServicerContext):
        which = request.WhichOneof("identifier")
        if which == "phone":
            view = self._parts.directory.identify_by_phone(request.phone)
        elif which == "card_number":
            view = self._parts.directory.identify_by_card(request.card_number)
        elif which == "email":
            view = self._parts.directory.identify_by_email(request.email)
        elif which == "qr_token":
            view = self._parts.directory.identify_by_qr(request.qr_token)
        else:
            raise InvalidArgument("give a phone, card number, e-mail or QR token")
        return pb.IdentifyMemberResponse(member=member_message(view))

    def CreateStore(self, request: pb.CreateStoreRequest, context: grpc.ServicerContext):
        store = self._parts.terminals.create_store(request.name, request.actor)
        return pb.CreateStoreResponse(store=store_message(store))

    def ReceiveSms(self, request: pb.ReceiveSmsRequest, context: grpc.ServicerContext):
        return pb.ReceiveSmsResponse(
            outcome=self._parts.replies.receive(request.from_phone, request.text)
        )

    def GetStores(self, request: pb.GetStoresRequest, context: grpc.ServicerContext):
        found = self._parts.terminals.stores_of(list(request.store_ids))
        return pb.GetStoresResponse(
            stores=[
                pb.Store(
                    id=str(store.id), name=store.name, created_at=to_timestamp(store.created_at)
                )
                for store in found
            ]
        )

    def CreateApiKey(self, request: pb.CreateApiKeyRequest, context: grpc.ServicerContext):
        issued = self._parts.terminals.create_api_key(request.store_id, request.actor)
        return pb.CreateApiKeyResponse(key_id=issued.key_id, api_key=issued.api_key)

    def AuthenticateApiKey(
        self, request: pb.AuthenticateApiKeyRequest, context: grpc.ServicerContext
    ):
        key = self._parts.terminals.authenticate(request.api_key)
        answer = pb.AuthenticateApiKeyResponse(key_id=str(key.id), store_id=str(key.store_id))
        if key.expires_at is not None:
            answer.expires_at.CopyFrom(to_timestamp(key.expires_at))
        return answer

    def ListApiKeys(self, request: pb.ListApiKeysRequest, context: grpc.ServicerContext):
        keys = self._parts.terminals.list_api_keys(request.store_id)
        return pb.ListApiKeysResponse(keys=[api_key_message(key) for key in keys])

    def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: grpc.ServicerContext):
        key = self._parts.terminals.revoke_api_key(request.store_id, request.key_id, request.actor)
        return pb.RevokeApiKeyResponse(key=api_key_message(key), key_hash=key.key_hash)

    def RotateApiKey(self, request: pb.RotateApiKeyRequest, context: grpc.ServicerContext):
        rotation = self._parts.terminals.rotate_api_key(
            request.store_id,
            request.key_id,
            timedelta(seconds=request.grace_seconds),
            request.actor,
        )
        return pb.RotateApiKeyResponse(
            key_id=rotation.issued.key_id,
            api_key=rotation.issued.api_key,
            replaced=api_key_message(rotation.replaced),
            replaced_key_hash=rotation.replaced.key_hash,
        )

    def AuthenticateSession(
        self, request: pb.AuthenticateSessionRequest, context: grpc.ServicerContext
    ):
        view = self._parts.sessions.resolve(request.token)
        if view is None:
            raise Unauthenticated("the session is not valid", code="invalid-session")
        return pb.AuthenticateSessionResponse(
            kind=SESSION_KINDS[view.kind],
            subject_id=str(view.subject_id),
            role=view.role or "",
            expires_at=to_timestamp(view.expires_at),
        )

    def RevokeSession(self, request: pb.RevokeSessionRequest, context: grpc.ServicerContext):
        self._parts.sessions.revoke(request.token)
        return pb.RevokeSessionResponse()

    def OpenTillSession(self, request: pb.OpenTillSessionRequest, context: grpc.ServicerContext):
        key = self._parts.terminals.authenticate(request.api_key)
        issued = self._parts.sessions.issue("till", key.id, None, TILL_SESSION)
        return pb.OpenTillSessionResponse(
            token=issued.token,
            expires_at=to_timestamp(issued.expires_at),
            store_id=str(key.store_id),
            key_id=str(key.id),
        )

    def CreateStaff(self, request: pb.CreateStaffRequest, context: grpc.ServicerContext):
        view = self._parts.staff.create(
            request.email, request.password, request.role, request.actor
        )
        return pb.CreateStaffResponse(staff=staff_message(view))

    def LoginStaff(self, request: pb.LoginStaffRequest, context: grpc.ServicerContext):
        login = self._parts.staff.login(request.email, request.password, request.client_address)
        return pb.LoginStaffResponse(
            token=login.token,
            expires_at=to_timestamp(login.expires_at),
            staff=staff_message(login.staff),
        )

    def SetStaffDisabled(self, request: pb.SetStaffDisabledRequest, context: grpc.ServicerContext):
        view = self._parts.staff.set_disabled(request.staff_id, request.disabled, request.actor)
        return pb.SetStaffDisabledResponse(staff=staff_message(view))

    def UpdateProfile(self, request: pb.UpdateProfileRequest, context: grpc.ServicerContext):
        def given(name: str) -> str | None:
            return getattr(request, name) if request.HasField(name) else None

        change = ProfileChange(
            first_name=given("first_name"),
            last_name=given("last_name"),
            birth_date=given("birth_date"),
            city=given("city"),
            gender=given("gender"),
            email=given("email"),
            interests=tuple(request.interests) if request.set_interests else None,
        )
        update = self._parts.profiles.update(request.member_id, change, request.client_address)
        return pb.UpdateProfileResponse(
            member=member_message(update.view),
            email_code_expires_in_seconds=update.email_code_expires_in,
            email_code_sent_to=update.email_code_sent_to,
        )

    def SetConsent(self, request: pb.SetConsentRequest, context: grpc.ServicerContext):
        view = self._parts.profiles.set_consent(
            request.member_id, _channel(request.channel), request.granted, request.source
        )
        return pb.SetConsentResponse(member=member_message(view))

    def IssueQrToken(self, request: pb.IssueQrTokenRequest, context: grpc.ServicerContext):
        token, expires_at = self._parts.directory.issue_qr(request.member_id)
        return pb.IssueQrTokenResponse(token=token, expires_at=to_timestamp(expires_at))

    def FindDuplicates(self, request: pb.FindDuplicatesRequest, context: grpc.ServicerContext):
        pairs = self._parts.merger.duplicates(request.limit)
        return pb.FindDuplicatesResponse(
            pairs=[
                pb.DuplicatePair(
                    first=member_message(p.first),
                    second=member_message(p.second),
                    reason=p.reason,
                )
                for p in pairs
            ]
        )

    def MergeMembers(self, request: pb.MergeMembersRequest, context: grpc.ServicerContext):
        result = self._parts.merger.merge(request.survivor_id, request.duplicate_id, request.actor)
        return pb.MergeMembersResponse(
            survivor=member_message(result.survivor), available_points=result.available_points
        )

    def EraseMember(self, request: pb.EraseMemberRequest, context: grpc.ServicerContext):
        erased_at = self._parts.privacy.erase(request.member_id, request.actor)
        return pb.EraseMemberResponse(erased_at=to_timestamp(erased_at))

    def ExportMember(self, request: pb.ExportMemberRequest, context: grpc.ServicerContext):
        document = self._parts.privacy.export(request.member_id, request.actor)
        return pb.ExportMemberResponse(document_json=json.dumps(document, ensure_ascii=False))

    def StartLogin(self, request: pb.StartLoginRequest, context: grpc.ServicerContext):
        ttl = self._parts.login.start(request.phone, request.client_address, request.language)
        return pb.StartLoginResponse(expires_in_seconds=ttl)

    def VerifyLogin(self, request: pb.VerifyLoginRequest, context: grpc.ServicerContext):
        login = self._parts.login.verify(request.phone, request.code, request.referral_code)
        return pb.VerifyLoginResponse(
            token=login.token,
            expires_at=to_timestamp(login.expires_at),
            member=member_message(login.member),
            enrolled=login.enrolled,
        )

    def StartPhoneChange(self, request: pb.StartPhoneChangeRequest, context: grpc.ServicerContext):
        ttl = self._parts.profiles.start_phone_change(
            request.member_id, request.new_phone, request.client_address
        )
        return pb.StartPhoneChangeResponse(expires_in_seconds=ttl)

    def ConfirmPhoneChange(
        self, request: pb.ConfirmPhoneChangeRequest, context: grpc.ServicerContext
    ):
        view = self._parts.profiles.confirm_phone_change(
            request.member_id, request.new_phone, request.old_phone_code, request.new_phone_code
        )
        return pb.ConfirmPhoneChangeResponse(member=member_message(view))

    def ConfirmEmailChange(
        self, request: pb.ConfirmEmailChangeRequest, context: grpc.ServicerContext
    ):
        view = self._parts.profiles.confirm_email_change(
            request.member_id, request.new_email, request.code
        )
        return pb.ConfirmEmailChangeResponse(member=member_message(view))

    def SendMessage(self, request: pb.SendMessageRequest, context: grpc.ServicerContext):
        if request.channel not in MESSAGE_CHANNELS:
            raise InvalidArgument("message channel is unspecified", code="invalid-channel")
        status = self._parts.messages.send_to_member(
            request.message_id, request.member_id, MESSAGE_CHANNELS[request.channel], request.body
        )
        return pb.SendMessageResponse(status=MESSAGE_STATUSES[status])

    def ListEvents(self, request: common_pb2.ListEventsRequest, context: grpc.ServicerContext):
        found, next_cursor = self._parts.events.page(request.cursor, request.limit)
        return common_pb2.ListEventsResponse(
            events=[event_message(e) for e in found], next_cursor=next_cursor
        )

    def ListStores(self, request: pb.ListStoresRequest, context: grpc.ServicerContext):
        stores = self._parts.terminals.stores()
        return pb.ListStoresResponse(stores=[store_message(store) for store in stores])

    def ListStaff(self, request: pb.ListStaffRequest, context: grpc.ServicerContext):
        return pb.ListStaffResponse(
            staff=[staff_message(view) for view in self._parts.staff.accounts()]
        )

    def RevealMember(self, request: pb.RevealMemberRequest, context: grpc.ServicerContext):
        phone, email = self._parts.privacy.reveal(request.member_id, request.actor)
        return pb.RevealMemberResponse(phone=phone, email=email)

    def ExportContacts(self, request: pb.ExportContactsRequest, context: grpc.ServicerContext):
        contacts = self._parts.contact_exports.page(
            request.export_id,
            request.actor,
            request.segment_id,
            request.channel,
            list(request.member_ids),
            request.rows_before,
        )
        return pb.ExportContactsResponse(
            contacts=[
                pb.Contact(member_id=str(c.member_id), first_name=c.first_name, address=c.address)
                for c in contacts
            ]
        )

    def ListStaffActions(self, request: pb.ListStaffActionsRequest, context: grpc.ServicerContext):
        actions = self._parts.audit.actions(request.member_id, request.limit or 50)
        return pb.ListStaffActionsResponse(
            actions=[staff_action_message(action) for action in actions]
        )

    def SearchMembers(self, request: pb.SearchMembersRequest, context: grpc.ServicerContext):
        found = self._parts.directory.search_by_name(request.name_prefix, request.limit or 20)
        return pb.SearchMembersResponse(members=[member_message(view) for view in found])

    def ChangeStaff(self, request: pb.ChangeStaffRequest, context: grpc.ServicerContext):
        view = self._parts.staff.change(
            request.staff_id, request.actor, request.role, request.password, request.sign_out
        )
        return pb.ChangeStaffResponse(staff=staff_message(view))

    def RenameStore(self, request: pb.RenameStoreRequest, context: grpc.ServicerContext):
        store = self._parts.terminals.rename_store(request.store_id, request.name, request.actor)
        return pb.RenameStoreResponse(store=store_message(store))

    def CloseStore(self, request: pb.CloseStoreRequest, context: grpc.ServicerContext):
        store, revoked = self._parts.terminals.close_store(request.store_id, request.actor)
        return pb.CloseStoreResponse(store=store_message(store), revoked_key_hashes=revoked)
