"""Wiring of the campaigns service process."""

from __future__ import annotations

from loyalty.campaigns.v1 import campaigns_pb2_grpc
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.points.v1 import points_pb2_grpc
from services.campaigns.campaigns import Campaigns
from services.campaigns.cases import CaseBook
from services.campaigns.coupon_grants import CouponGrants
from services.campaigns.draws import Draws
from services.campaigns.evaluation import ActiveCampaigns, Evaluator
from services.campaigns.feedback import FeedbackBook
from services.campaigns.feeds import MemberView, feed_runner
from services.campaigns.member_profile import MemberProfiles
from services.campaigns.messages import Messages
from services.campaigns.missions import MissionRewards, Missions
from services.campaigns.points_client import PointsChanges, PointsCoupons
from services.campaigns.reconcile import reconcile
from services.campaigns.reports import Reports
from services.campaigns.segments import Segments
from services.campaigns.sending import IdentitySender
from services.campaigns.servicer import CampaignsParts, CampaignsServicer
from services.campaigns.settings import CampaignsSettings
from services.runtime.cache import Cache
from services.runtime.channels import open_channel
from services.runtime.config import Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.event_feed import Feed, grpc_feed
from services.runtime.periodic import Periodic
from services.runtime.server import Registration, Service
from services.runtime.service_auth import ServiceCredentials

SERVICE_NAME = "loyalty.campaigns.v1.CampaignsService"


def feeds(settings: CampaignsSettings, credentials: ServiceCredentials) -> tuple[list[Feed], list]:
    """The services whose events build the member view (identity's first), and their
    channels."""
    identity = open_channel(settings.identity_addr, credentials, 10.0)
    points = open_channel(settings.points_addr, credentials, 10.0)
    found = [
        grpc_feed("identity", identity_pb2_grpc.IdentityServiceStub(identity).ListEvents),
        grpc_feed("points", points_pb2_grpc.PointsServiceStub(points).ListEvents),
    ]
    return found, [identity, points]


def build(config: ServiceConfig) -> Service:
    env = Env()
    settings = CampaignsSettings.from_env(env)
    credentials = ServiceCredentials.load(config.name, env)
    database = Database(config.database_url)
    cache = Cache(config.redis_url, f"{config.cache_prefix}:campaigns")
    segments = Segments(database, settings.currency)
    point_changes = PointsChanges(settings.points_addr, credentials)
    campaigns = Campaigns(
        database, segments, cache, settings.currency, settings.timezone, rewards=point_changes
    )
    active = ActiveCampaigns(database, campaigns, cache, settings.refresh_seconds)
    evaluator = Evaluator(database, campaigns, active, settings.timezone)
    sources, channels = feeds(settings, credentials)
    missions = Missions(database, campaigns)
    sender = IdentitySender(settings.identity_addr, settings.points_addr, credentials)
    draws = Draws(database, point_changes, campaigns)
    view = MemberView(database, sources, settings.lifecycle, missions=missions, draws=draws)
    runner = feed_runner(view, settings.feed_interval, settings.stages_interval)
    messages = Messages(database, campaigns, sender, settings.quiet_hours, settings.timezone)
    servicer = CampaignsServicer(
        CampaignsParts(
            evaluator=evaluator,
            feedback=FeedbackBook(database, settings.lifecycle, missions=missions),
            cases=CaseBook(database, settings.lifecycle, sender),
            segments=segments,
            campaigns=campaigns,
            reports=Reports(database, campaigns),
            profiles=MemberProfiles(database),
            view=view,
            missions=missions,
            currency=settings.currency,
            draws=draws,
            messages=messages,
        )
    )
    dispatcher = Periodic(
        "messages",
        settings.dispatch_interval,
        messages.run,
        "sending messages failed; they are tried again next time",
    )
    dispatcher.start()
    coupons = PointsCoupons(settings.points_addr, settings.currency, credentials)
    issuer = Periodic(
        "coupons",
        settings.dispatch_interval,
        CouponGrants(database, campaigns, coupons).run,
        "issuing coupons failed; they are tried again next time",
    )
    issuer.start()
    mission_rewards = Periodic(
        "mission-rewards",
        settings.dispatch_interval,
        MissionRewards(database, point_changes, sender, campaigns).run,
        "paying mission rewards failed; they are tried again next time",
    )
    mission_rewards.start()
    draw_purchases = Periodic(
        "draw-purchases",
        settings.dispatch_interval,
        draws.finish,
        "finishing purchases of draw chances failed; they are tried again next time",
    )
    draw_purchases.start()
    award_counts = Periodic(
        "award-counts",
        settings.dispatch_interval,
        campaigns.count_awards,
        "counting awarded points failed; they are counted next time",
    )
    award_counts.start()
    on_stop = [
        award_counts.stop,
        mission_rewards.stop,
        draw_purchases.stop,
        issuer.stop,
        point_changes.close,
        dispatcher.stop,
        coupons.close,
        sender.close,
        runner.stop,
        cache.close,
        *(channel.close for channel in channels),
    ]
    runner.start()
    return Service(
        config=config,
        database=database,
        registrations=[
            Registration(
                SERVICE_NAME, campaigns_pb2_grpc.add_CampaignsServiceServicer_to_server, servicer
            )
        ],
        credentials=credentials,
        on_stop=on_stop,
    )


def rebuild(config: ServiceConfig) -> int:
    """`python -m services.campaigns rebuild`: forgets the member view; the running service
    rebuilds it from the first event."""
    database = Database(config.database_url)
    try:
        MemberView(database, [], CampaignsSettings.from_env(Env()).lifecycle).rebuild()
    finally:
        database.dispose()
    print("the member view will be rebuilt from the first event")
    return 0


def reconcile_command(config: ServiceConfig) -> int:
    """`python -m services.campaigns reconcile`: exit 1 with the drifted members, if any."""
    env = Env()
    settings = CampaignsSettings.from_env(env)
    database = Database(config.database_url)
    sources, channels = feeds(settings, ServiceCredentials.load(config.name, env))
    try:
        findings = reconcile(database, sources, settings.lifecycle)
    finally:
        database.dispose()
        for channel in channels:
            channel.close()
    for finding in findings:
        print(finding)
    print("the member view matches the events" if not findings else "the member view drifted")
    return 1 if findings else 0
