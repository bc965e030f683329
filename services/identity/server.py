"""Wiring of the identity service process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from loyalty.identity.v1 import identity_pb2_grpc
from services.identity import member_cache
from services.identity.codes import CodePolicy, LoginCodes
from services.identity.directory import Directory
from services.identity.identifiers import PiiHasher
from services.identity.login import MemberLogin
from services.identity.merging import Merger
from services.identity.messages import Messages
from services.identity.points_client import PointsLedger
from services.identity.privacy import Privacy
from services.identity.profiles import Profiles
from services.identity.qr import QrTokens
from services.identity.senders import senders_from_env
from services.identity.servicer import IdentityParts, IdentityServicer
from services.identity.sessions import Sessions
from services.identity.staff import Staff
from services.identity.terminals import Terminals
from services.identity.throttle import LoginThrottle
from services.runtime.cache import Cache
from services.runtime.config import DEFAULT_ADDRS, Env, ServiceConfig, load_or_create_secret
from services.runtime.db import Database
from services.runtime.periodic import Periodic
from services.runtime.server import Registration, Service
from services.runtime.service_auth import ServiceCredentials

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.identity.v1.IdentityService"


def code_policy(env: Env) -> CodePolicy:
    return CodePolicy(
        ttl_seconds=env.int("IDENTITY_CODE_TTL_SECONDS", 300, minimum=30),
        max_tries=env.int("IDENTITY_CODE_MAX_TRIES", 5, minimum=1),
        sends_per_phone=env.int("IDENTITY_CODE_SENDS_PER_PHONE", 3, minimum=1),
        sends_per_client=env.int("IDENTITY_CODE_SENDS_PER_CLIENT", 20, minimum=1),
        window_seconds=env.int("IDENTITY_CODE_WINDOW_SECONDS", 600, minimum=60),
    )


def build(config: ServiceConfig) -> Service:
    env = Env()
    region = env.str("LOYALTY_DEFAULT_REGION", "IR").upper()
    hasher = PiiHasher(load_or_create_secret(env, "IDENTITY_PII_KEY", "identity-pii.key"))
    # Signed with a key derived from the PII key: one secret to keep, the same on every replica.
    qr_tokens = QrTokens(
        hasher("qr-token-key", "v1"), env.int("IDENTITY_QR_TTL_SECONDS", 120, minimum=10)
    )
    database = Database(config.database_url)
    staff_hours = env.int("IDENTITY_STAFF_SESSION_HOURS", 12, minimum=1)
    cache = Cache(config.redis_url, member_cache.namespace(config.cache_prefix))
    credentials = ServiceCredentials.load(config.name, env)
    points = PointsLedger(env.addr("POINTS_ADDR", DEFAULT_ADDRS["points"]), credentials)
    directory = Directory(database, cache, hasher, region, qr_tokens)
    sessions = Sessions(database, cache)
    messages = Messages(database, senders_from_env(env))
    codes = LoginCodes(database, cache, hasher, messages, code_policy(env))
    member_session = timedelta(minutes=env.int("IDENTITY_MEMBER_SESSION_MINUTES", 60, minimum=1))
    merger = Merger(database, directory, points, sessions)
    stalled_merges = Periodic(
        "stalled-merges",
        env.float("IDENTITY_MERGE_REPAIR_INTERVAL", 60.0),
        merger.finish_stalled,
        "finishing stalled merges failed; it runs again next time",
    )
    login_throttle = LoginThrottle(
        database, hasher, env.int("IDENTITY_STAFF_LOGIN_FAILURES_PER_MINUTE", 5, minimum=1)
    )
    expired_logins = Periodic(
        "login-attempts",
        300.0,
        login_throttle.forget_expired,
        "deleting expired login counts failed; it runs again next time",
    )
    expired_logins.start()
    parts = IdentityParts(
        directory=directory,
        terminals=Terminals(database),
        profiles=Profiles(database, directory, codes),
        merger=merger,
        privacy=Privacy(database, directory, codes, sessions),
        login=MemberLogin(database, directory, codes, sessions, member_session),
        messages=messages,
        sessions=sessions,
        staff=Staff(database, sessions, timedelta(hours=staff_hours), login_throttle),
    )
    stalled_merges.start()
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
        on_stop=[stalled_merges.stop, expired_logins.stop, cache.close, points.close],
    )
