"""IdentityService over gRPC: proto in, domain call, proto out; nothing else."""

from __future__ import annotations

from datetime import timedelta

import grpc

from loyalty.identity.v1 import identity_pb2 as pb
from loyalty.identity.v1 import identity_pb2_grpc
from services.identity.directory import Directory, Enrollment, MemberView
from services.identity.models import ApiKey
from services.identity.sessions import Sessions
from services.identity.staff import Staff, StaffView
from services.identity.terminals import Terminals
from services.runtime.convert import to_timestamp
from services.runtime.errors import InvalidArgument, Unauthenticated

CHANNEL_NAMES = {pb.CONSENT_CHANNEL_SMS: "sms", pb.CONSENT_CHANNEL_EMAIL: "email"}
CHANNEL_ENUMS = {name: value for value, name in CHANNEL_NAMES.items()}
SESSION_KINDS = {"member": pb.SESSION_KIND_MEMBER, "staff": pb.SESSION_KIND_STAFF}


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


def staff_message(view: StaffView) -> pb.StaffMember:
    return pb.StaffMember(
        id=view.id,
        email=view.email,
        role=view.role,
        disabled=view.disabled,
        created_at=to_timestamp(view.created_at),
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self, directory: Directory, terminals: Terminals, sessions: Sessions, staff: Staff
    ) -> None:
        self._directory = directory
        self._terminals = terminals
        self._sessions = sessions
        self._staff = staff

    def EnrollMember(self, request: pb.EnrollMemberRequest, context: grpc.ServicerContext):
        consents = []
        for consent in request.consents:
            if consent.channel not in CHANNEL_NAMES:
                raise InvalidArgument("consent channel is unspecified")
            consents.append((CHANNEL_NAMES[consent.channel], consent.granted))
        view = self._directory.enroll(
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
            )
        )
        return pb.EnrollMemberResponse(member=member_message(view))

    def GetMember(self, request: pb.GetMemberRequest, context: grpc.ServicerContext):
        return pb.GetMemberResponse(member=member_message(self._directory.get(request.member_id)))

    def IdentifyMember(self, request: pb.IdentifyMemberRequest, context: grpc.ServicerContext):
        which = request.WhichOneof("identifier")
        if which == "phone":
            view = self._directory.identify_by_phone(request.phone)
        elif which == "card_number":
            view = self._directory.identify_by_card(request.card_number)
        else:
            raise InvalidArgument("give a phone or a card number")
        return pb.IdentifyMemberResponse(member=member_message(view))

    def CreateStore(self, request: pb.CreateStoreRequest, context: grpc.ServicerContext):
        store = self._terminals.create_store(request.name)
        return pb.CreateStoreResponse(
            store=pb.Store(
                id=str(store.id), name=store.name, created_at=to_timestamp(store.created_at)
            )
        )

    def CreateApiKey(self, request: pb.CreateApiKeyRequest, context: grpc.ServicerContext):
        issued = self._terminals.create_api_key(request.store_id)
        return pb.CreateApiKeyResponse(key_id=issued.key_id, api_key=issued.api_key)

    def AuthenticateApiKey(
        self, request: pb.AuthenticateApiKeyRequest, context: grpc.ServicerContext
    ):
        key = self._terminals.authenticate(request.api_key)
        answer = pb.AuthenticateApiKeyResponse(key_id=str(key.id), store_id=str(key.store_id))
        if key.expires_at is not None:
            answer.expires_at.CopyFrom(to_timestamp(key.expires_at))
        return answer

    def ListApiKeys(self, request: pb.ListApiKeysRequest, context: grpc.ServicerContext):
        keys = self._terminals.list_api_keys(request.store_id)
        return pb.ListApiKeysResponse(keys=[api_key_message(key) for key in keys])

    def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: grpc.ServicerContext):
        key = self._terminals.revoke_api_key(request.store_id, request.key_id)
        return pb.RevokeApiKeyResponse(key=api_key_message(key), key_hash=key.key_hash)

    def RotateApiKey(self, request: pb.RotateApiKeyRequest, context: grpc.ServicerContext):
        rotation = self._terminals.rotate_api_key(
            request.store_id, request.key_id, timedelta(seconds=request.grace_seconds)
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
        view = self._sessions.resolve(request.token)
        if view is None:
            raise Unauthenticated("the session is not valid", code="invalid-session")
        return pb.AuthenticateSessionResponse(
            kind=SESSION_KINDS[view.kind],
            subject_id=str(view.subject_id),
            role=view.role or "",
            expires_at=to_timestamp(view.expires_at),
        )

    def RevokeSession(self, request: pb.RevokeSessionRequest, context: grpc.ServicerContext):
        self._sessions.revoke(request.token)
        return pb.RevokeSessionResponse()

    def CreateStaff(self, request: pb.CreateStaffRequest, context: grpc.ServicerContext):
        view = self._staff.create(request.email, request.password, request.role)
        return pb.CreateStaffResponse(staff=staff_message(view))

    def LoginStaff(self, request: pb.LoginStaffRequest, context: grpc.ServicerContext):
        login = self._staff.login(request.email, request.password)
        return pb.LoginStaffResponse(
            token=login.token,
            expires_at=to_timestamp(login.expires_at),
            staff=staff_message(login.staff),
        )

    def SetStaffDisabled(self, request: pb.SetStaffDisabledRequest, context: grpc.ServicerContext):
        view = self._staff.set_disabled(request.staff_id, request.disabled)
        return pb.SetStaffDisabledResponse(staff=staff_message(view))
