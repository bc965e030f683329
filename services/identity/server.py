"""Wiring of the identity service process."""

from __future__ import annotations

from pathlib import Path

from loyalty.identity.v1 import identity_pb2_grpc
from services.identity import member_cache
from services.identity.audit import AuditTrail
from services.identity.codes import LoginCodes
from services.identity.contact_exports import ContactExports
from services.identity.directory import Directory
from services.identity.events import EventFeed
from services.identity.identifiers import PiiHasher
from services.identity.imports import MemberImport
from services.identity.login import MemberLogin
from services.identity.member_messages import MemberMessages
from services.identity.merging import Merger
from services.identity.points_client import PointsLedger
from services.identity.privacy import Privacy
from services.identity.profiles import Profiles
from services.identity.provider_sms import ProviderSmsSender
from services.identity.qr import QrTokens
from services.identity.referrals import ReferralCodes
from services.identity.replies import SmsReplies
from services.identity.senders import senders_for
from services.identity.servicer import IdentityParts, IdentityServicer
from services.identity.sessions import Sessions
from services.identity.settings import IdentitySettings
from services.identity.staff import Staff
from services.identity.terminals import Terminals
from services.identity.throttle import LoginThrottle
from services.runtime.cache import Cache
from services.runtime.config import Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.periodic import Periodic
from services.runtime.server import Registration, Service
from services.runtime.service_auth import ServiceCredentials

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.identity.v1.IdentityService"


def build(config: ServiceConfig, env: Env | None = None) -> Service:
    env = env or Env()
    settings = IdentitySettings.from_env(env)
    credentials = ServiceCredentials.load(config.name, env)
    database = Database(config.database_url)
    cache = Cache(config.redis_url, member_cache.namespace(config.cache_prefix))
    hasher = PiiHasher(settings.pii_key)
    # Signed with a key derived from the PII key: one secret to keep, the same on every replica.
    qr_tokens = QrTokens(hasher("qr-token-key", "v1"), settings.qr_ttl_seconds)
    points = PointsLedger(settings.points_addr, credentials)
    referral_codes = ReferralCodes(database, points.referrals_open)
    directory = Directory(database, cache, hasher, settings.region, qr_tokens, referral_codes)
    sessions = Sessions(database, cache)
    sms_provider = (
        ProviderSmsSender(database, settings.sms_provider) if settings.sms_provider else None
    )
    messages = MemberMessages(
        database,
        senders_for(settings.senders, settings.dev_outbox, sms_provider),
        settings.sms_opt_out_line,
    )
    codes = LoginCodes(database, cache, hasher, messages, settings.codes)
    merger = Merger(database, directory, points, sessions)
    login_throttle = LoginThrottle(database, hasher, settings.staff_login_failures_per_minute)
    parts = IdentityParts(
        directory=directory,
        imports=MemberImport(database, directory),
        referral_codes=referral_codes,
        terminals=Terminals(database),
        profiles=(profiles := Profiles(database, directory, codes)),
        replies=SmsReplies(directory, profiles),
        merger=merger,
        privacy=Privacy(database, directory, codes, sessions, points),
        login=MemberLogin(database, directory, codes, sessions, settings.member_session),
        messages=messages,
        sessions=sessions,
        staff=Staff(database, sessions, settings.staff_session, login_throttle),
        events=EventFeed(database),
        audit=AuditTrail(database),
        contact_exports=ContactExports(database),
    )
    background = [
        Periodic(
            "stalled-merges",
            settings.merge_repair_interval,
            merger.finish_stalled,
            "finishing stalled merges failed; it runs again next time",
        ),
        Periodic(
            "login-attempts",
            settings.login_count_cleanup_interval,
            login_throttle.forget_expired,
            "deleting expired login counts failed; it runs again next time",
        ),
    ]
    if sms_provider is not None and settings.sms_provider is not None:
        background.append(
            Periodic(
                "sms-delivery-status",
                settings.sms_provider.status_poll_interval,
                sms_provider.poll_statuses,
                "reading sms delivery statuses failed; it runs again next time",
            )
        )
    for work in background:
        work.start()
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME,
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                IdentityServicer(parts),
            )
        ],
        credentials=credentials,
        on_stop=[*(work.stop for work in background), cache.close, points.close],
    )
