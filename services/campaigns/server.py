"""Wiring of the campaigns service process."""

from __future__ import annotations

from pathlib import Path

from loyalty.campaigns.v1 import campaigns_pb2_grpc
from services.campaigns.servicer import CampaignsServicer
from services.runtime.config import ServiceConfig
from services.runtime.db import Database
from services.runtime.server import Registration, Service

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "loyalty.campaigns.v1.CampaignsService"


def build(config: ServiceConfig) -> Service:
    database = Database(config.database_url)
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME,
                campaigns_pb2_grpc.add_CampaignsServiceServicer_to_server,
                CampaignsServicer(),
            )
        ],
    )
