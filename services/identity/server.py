"""Wiring of the identity service process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from loyalty.identity.v1 import identity_pb2_grpc
from services.identity.directory import Directory
from services.identity.identifiers import PiiHasher
from services.identity.servicer import IdentityServicer
from services.identity.sessions import Sessions
from services.identity.staff import Staff
from services.identity.terminals import Terminals
from services.runtime.cache import Cache
from services.runtime.config import Env, ServiceConfig, load_or_create_secret
from services.runtime.db import Database
from services.runtime.server import Registration, Service

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.identity.v1.IdentityService"


def build(config: ServiceConfig) -> Service:
    env = Env()
    region = env.str("LOYALTY_DEFAULT_REGION", "IR").upper()
    pii_key = load_or_create_secret(env, "IDENTITY_PII_KEY", "identity-pii.key")
    database = Database(config.database_url)
    staff_hours = env.int("IDENTITY_STAFF_SESSION_HOURS", 12, minimum=1)
    cache = Cache(config.redis_url, f"{config.cache_prefix}:identity")
    sessions = Sessions(database, cache)
    servicer = IdentityServicer(
        Directory(database, cache, PiiHasher(pii_key), region),
        Terminals(database),
        sessions,
        Staff(database, sessions, timedelta(hours=staff_hours)),
    )
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME, identity_pb2_grpc.add_IdentityServiceServicer_to_server, servicer
            )
        ],
        on_stop=[cache.close],
    )
