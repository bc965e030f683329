"""Wiring of the webhooks service process."""

from __future__ import annotations

from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.points.v1 import points_pb2_grpc
from loyalty.webhooks.v1 import webhooks_pb2_grpc
from services.runtime.channels import open_channel
from services.runtime.config import Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.event_feed import grpc_feed
from services.runtime.periodic import Periodic
from services.runtime.server import Registration, Service
from services.runtime.service_auth import ServiceCredentials
from services.webhooks.delivery import Dispatcher
from services.webhooks.endpoints import Endpoints
from services.webhooks.intake import Intake
from services.webhooks.secret_box import SecretBox
from services.webhooks.servicer import WebhooksServicer
from services.webhooks.settings import WebhooksSettings

SERVICE_NAME = "loyalty.webhooks.v1.WebhooksService"


def build(config: ServiceConfig, env: Env | None = None) -> Service:
    env = env or Env()
    settings = WebhooksSettings.from_env(env)
    credentials = ServiceCredentials.load(config.name, env)
    database = Database(config.database_url)
    box = SecretBox(settings.secret_key)
    identity = open_channel(settings.identity_addr, credentials, 10.0)
    points = open_channel(settings.points_addr, credentials, 10.0)
    intake = Intake(
        database,
        [
            grpc_feed("identity", identity_pb2_grpc.IdentityServiceStub(identity).ListEvents),
            grpc_feed("points", points_pb2_grpc.PointsServiceStub(points).ListEvents),
        ],
    )
    reader = Periodic(
        "webhook-intake",
        settings.feed_interval,
        intake.catch_up,
        "reading events failed; they are read again next time",
        backs_off=True,
    )
    endpoints = Endpoints(database, box)
    log_keeper = Periodic(
        "webhook-log",
        3600.0,
        lambda: endpoints.forget_old(settings.keep_days),
        "dropping old deliveries failed; it runs again next time",
    )
    dispatcher = Dispatcher(database, box, settings.delivery)
    reader.start()
    log_keeper.start()
    dispatcher.start(settings.delivery_interval)
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME,
                webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server,
                WebhooksServicer(endpoints),
            )
        ],
        credentials=credentials,
        on_stop=[reader.stop, log_keeper.stop, dispatcher.stop, identity.close, points.close],
    )
