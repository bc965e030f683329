"""Wiring of the points service process."""

from __future__ import annotations

import logging
from pathlib import Path

from loyalty.points.v1 import points_pb2_grpc
from services.points import events
from services.points.activity import Activity
from services.points.adjustments import Adjustments
from services.points.audit import audit
from services.points.balance_cache import BalanceCache
from services.points.balances import Balances
from services.points.bonuses import CampaignBonuses
from services.points.campaigns_client import CampaignsAudiences
from services.points.catalog import Catalog
from services.points.coupons import Coupons
from services.points.identity_client import IdentityMembers
from services.points.jobs import Jobs
from services.points.ledger import count_committed_postings
from services.points.members import Members
from services.points.models import FeedCursor, OutboxEvent
from services.points.openings import OpeningBalances
from services.points.purchases import Purchases
from services.points.redemptions import Redemptions
from services.points.referrals import Referrals
from services.points.refunds import Refunds
from services.points.reports import Reports
from services.points.rewards import Rewards
from services.points.servicer import PointsParts, PointsServicer, balance_answer
from services.points.settings import PointsSettings
from services.runtime import metrics, outbox
from services.runtime.cache import Cache
from services.runtime.config import Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.errors import Unavailable
from services.runtime.event_feed import FeedReader
from services.runtime.logs import log
from services.runtime.periodic import Periodic
from services.runtime.server import Registration, Service
from services.runtime.service_auth import ServiceCredentials

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.points.v1.PointsService"
logger = logging.getLogger(__name__)


def build(config: ServiceConfig) -> Service:
    env = Env()
    settings = PointsSettings.from_env(env)
    policy = settings.policy
    credentials = ServiceCredentials.load(config.name, env)
    bonuses = CampaignBonuses(settings.campaigns_addr, settings.campaigns_timeout, credentials)
    audiences = CampaignsAudiences(settings.campaigns_addr, settings.audiences_timeout, credentials)
    identity = IdentityMembers(settings.identity_addr, settings.identity_timeout, credentials)
    database = Database(config.database_url)
    cache = Cache(config.redis_url, f"{config.cache_prefix}:points")
    balance_cache = BalanceCache(cache)
    balances = Balances(database, policy, cache=balance_cache)
    # Each view cached goes with points' answer for it, which the gateway may serve itself.
    balance_cache.publish = lambda member, view: balance_answer(
        member, view, balances, policy.currency
    ).SerializeToString()
    database.after_commit(balance_cache.on_commit)
    database.after_commit(count_committed_postings)
    metrics.register(metrics.OutboxHead("points", lambda: _outbox_head(database)))
    members = Members(database, identity)
    member_feed = FeedReader(database, identity.feed(), FeedCursor, members.apply, "points")
    coupons = Coupons(database, policy, members)
    catalog = Catalog(database, policy, members, audiences)
    jobs = Jobs(database, policy, bonuses=bonuses, coupons=coupons)
    runners = [
        # An invalidation lost while Redis was away is made good within a second of its
        # return, even with no read or change here: the gateway serves cached balances itself.
        Periodic(
            "balance-epoch",
            1.0,
            balance_cache.settle,
            "moving the balance cache's epoch failed; it is tried again next time",
        ),
        Periodic(
            "ledger-jobs",
            settings.job_interval,
            jobs.run,
            "ledger jobs failed; they run again next time",
        ),
        Periodic(
            "member-feed",
            settings.member_feed_interval,
            lambda: _catch_up(member_feed),
            "reading identity's members failed; it runs again next time",
            backs_off=True,
        ),
    ]
    servicer = PointsServicer(
        PointsParts(
            purchases=Purchases(database, policy, bonuses, members),
            balances=balances,
            activity=Activity(database),
            redemptions=Redemptions(database, policy, members),
            refunds=Refunds(database, policy),
            adjustments=Adjustments(database, policy, members),
            openings=OpeningBalances(database, policy),
            jobs=jobs,
            reports=Reports(database, policy),
            members=members,
            referrals=Referrals(database, policy),
            catalog=catalog,
            rewards=Rewards(database, policy, members, catalog, coupons),
            coupons=coupons,
            events=lambda cursor, limit: events.read(database, cursor, limit),
            currency=policy.currency,
            policy=policy,
        )
    )
    for runner in runners:
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
        on_stop=[
            *(runner.stop for runner in runners),
            bonuses.close,
            audiences.close,
            identity.close,
            cache.close,
        ],
    )


def _catch_up(feed: FeedReader) -> int | None:
    try:
        return feed.catch_up()
    except Unavailable as error:
        log(logger, "identity's events unavailable", logging.WARNING, reason=error.detail)
        return None


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
