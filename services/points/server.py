"""Wiring of the points service process."""

from __future__ import annotations

from pathlib import Path

from loyalty.points.v1 import points_pb2_grpc
from services.points.bonuses import CampaignBonuses
from services.points.earning import EarningRule
from services.points.ledger import Ledger
from services.points.servicer import PointsServicer
from services.runtime.config import DEFAULT_ADDRS, Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.server import Registration, Service

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.points.v1.PointsService"


def build(config: ServiceConfig) -> Service:
    env = Env()
    currency = env.currency("LOYALTY_CURRENCY", "IRR")
    rule = EarningRule.from_env(env, currency)
    bonuses = CampaignBonuses(
        env.addr("CAMPAIGNS_ADDR", DEFAULT_ADDRS["campaigns"]),
        env.float("POINTS_CAMPAIGNS_TIMEOUT", 0.3),
    )
    database = Database(config.database_url)
    servicer = PointsServicer(Ledger(database, rule, currency, bonuses))
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME, points_pb2_grpc.add_PointsServiceServicer_to_server, servicer
            )
        ],
        on_stop=[bonuses.close],
    )
