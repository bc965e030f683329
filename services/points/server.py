"""Wiring of the points service process."""

from __future__ import annotations

from pathlib import Path

from loyalty.points.v1 import points_pb2_grpc
from services.points.adjustments import Adjustments
from services.points.audit import audit
from services.points.balance_cache import BalanceCache
from services.points.bonuses import CampaignBonuses
from services.points.book import count_committed_postings
from services.points.jobs import Jobs
from services.points.ledger import Ledger
from services.points.models import OutboxEvent
from services.points.policy import PointsPolicy
from services.points.redemptions import Redemptions
from services.points.refunds import Refunds
from services.points.reports import Reports
from services.points.servicer import PointsServicer
from services.runtime import metrics, outbox
from services.runtime.cache import Cache
from services.runtime.config import DEFAULT_ADDRS, Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.periodic import Periodic
from services.runtime.server import Registration, Service
from services.runtime.service_auth import ServiceCredentials

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.points.v1.PointsService"


def build(config: ServiceConfig) -> Service:
    env = Env()
    policy = PointsPolicy.from_env(env)
    credentials = ServiceCredentials.load(config.name, env)
    bonuses = CampaignBonuses(
        env.addr("CAMPAIGNS_ADDR", DEFAULT_ADDRS["campaigns"]),
        env.float("POINTS_CAMPAIGNS_TIMEOUT", 0.3),
        credentials,
    )
    database = Database(config.database_url)
    cache = Cache(config.redis_url, f"{config.cache_prefix}:points")
    balance_cache = BalanceCache(cache)
    database.after_commit(balance_cache.on_commit)
    database.after_commit(count_committed_postings)
    metrics.register(metrics.OutboxHead("points", lambda: _outbox_head(database)))
    jobs = Jobs(database, policy, bonuses=bonuses)
    runner = Periodic(
        "ledger-jobs",
        env.float("POINTS_JOB_INTERVAL", 60.0),
        jobs.run,
        "ledger jobs failed; they run again next time",
    )
    servicer = PointsServicer(
        Ledger(database, policy, bonuses, cache=balance_cache),
        Redemptions(database, policy),
        Refunds(database, policy),
        Adjustments(database, policy),
        jobs,
        Reports(database, policy),
    )
    runner.start()
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME, points_pb2_grpc.add_PointsServiceServicer_to_server, servicer
            )
        ],
        credentials=credentials,
        on_stop=[runner.stop, bonuses.close, cache.close],
    )


def _outbox_head(database: Database) -> int | None:
    with database.read() as session:
        return outbox.head(session, OutboxEvent)


def check(config: ServiceConfig) -> int:
    """`python -m services.points check`: proves the books balance; exit 1 if they do not."""
    database = Database(config.database_url)
    try:
        with database.engine.connect() as connection:
            findings = audit(connection)
    finally:
        database.dispose()
    for finding in findings:
        print(f"{finding.check}: {finding.count} (e.g. {', '.join(finding.examples)})")
    print("the books balance" if not findings else "the books do NOT balance")
    return 1 if findings else 0
