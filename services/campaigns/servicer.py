"""CampaignsService over gRPC: proto <-> domain mapping only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc

from loyalty.campaigns.v1 import campaigns_pb2 as pb
from loyalty.campaigns.v1 import campaigns_pb2_grpc
from loyalty.common.v1 import common_pb2
from services.campaigns.campaigns import Campaigns, CampaignView
from services.campaigns.cases import CaseBook
from services.campaigns.draw_selection import Prize
from services.campaigns.draws import ChanceRules, Draws, DrawView
from services.campaigns.evaluation import Evaluator, Item, PurchaseFacts
from services.campaigns.feedback import FeedbackBook
from services.campaigns.feeds import MemberView
from services.campaigns.member_profile import MemberProfiles
from services.campaigns.messages import Messages
from services.campaigns.missions import Missions
from services.campaigns.models import Case
from services.campaigns.reports import GroupFigures, Reports
from services.campaigns.segments import Segments, SegmentView
from services.runtime.convert import from_timestamp, to_timestamp
from services.runtime.errors import InvalidArgument

ACTIONS = {
    pb.CAMPAIGN_ACTION_LAUNCH: "launch",
    pb.CAMPAIGN_ACTION_PAUSE: "pause",
    pb.CAMPAIGN_ACTION_END: "end",
}
ACTION_VALUES = {name: value for value, name in ACTIONS.items()}


def _json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidArgument(f"{field} is not valid JSON", code="invalid-json") from None


def _stamp(target: Any, value: datetime | None) -> None:
    if value is not None:
        target.CopyFrom(to_timestamp(value))


def _segment(view: SegmentView) -> pb.Segment:
    segment = pb.Segment(
        id=view.id,
        name=view.name,
        kind=view.kind,
        rule_json=json.dumps(view.rule) if view.rule is not None else "",
    )
    _stamp(segment.created_at, view.created_at)
    return segment


def _campaign(view: CampaignView) -> pb.Campaign:
    campaign = pb.Campaign(
        id=str(view.id),
        name=view.name,
        kind=view.kind,
        status=view.status,
        definition_json=json.dumps(view.body),
        awarded_points=view.awarded_points,
        allowed_actions=[ACTION_VALUES[action] for action in view.actions],
        deletable=view.deletable,
    )
    _stamp(campaign.created_at, view.created_at)
    _stamp(campaign.launched_at, view.launched_at)
    return campaign


def _figures(group: GroupFigures) -> pb.GroupFigures:
    return pb.GroupFigures(
        members=group.members,
        buyers=group.buyers,
        visits=group.visits,
        spend_minor=group.spend_minor,
        spend_per_member_minor=group.spend_per_member_minor,
        visits_per_member=group.visits_per_member,
    )


def case_message(found: Case) -> pb.Case:
    message = pb.Case(
        case_id=found.case_id,
        member_id=str(found.member_id),
        kind=found.kind,
        channel=found.channel,
        category=found.category,
        text=found.text,
        status=found.status,
        opened_by=found.opened_by,
        opened_at=to_timestamp(found.opened_at),
        resolved_by=found.resolved_by,
        resolution=found.resolution,
        follow_up=found.follow_up,
    )
    if found.resolved_at is not None:
        message.resolved_at.CopyFrom(to_timestamp(found.resolved_at))
    return message


def draw_message(view: DrawView) -> pb.Draw:
    rules = view.rules
    message = pb.Draw(
        id=view.id,
        name=view.name,
        prizes=[pb.DrawPrize(name=p.name, count=p.count) for p in view.prizes],
        chances=pb.DrawChanceRules(
            per_purchase=rules.per_purchase,
            per_amount_minor=rules.per_amount_minor,
            points_per_chance=rules.points_per_chance,
            max_per_member=rules.max_per_member,
        ),
        seed_sha256=view.seed_sha256,
        seed=view.seed,
        status=view.status,
        winners=[pb.DrawWinner(member_id=w["member_id"], prize=w["prize"]) for w in view.winners],
        my_chances=view.my_chances,
        entrants=view.entrants,
        chances_held=view.chances_held,
        targeting_json=json.dumps(view.targeting.shown()),
    )
    _stamp(message.closes_at, view.closes_at)
    _stamp(message.created_at, view.created_at)
    _stamp(message.closed_at, view.closed_at)
    return message


@dataclass(frozen=True)
class CampaignsParts:
    evaluator: Evaluator
    feedback: FeedbackBook
    cases: CaseBook
    segments: Segments
    campaigns: Campaigns
    reports: Reports
    profiles: MemberProfiles
    view: MemberView
    missions: Missions
    currency: str
    draws: Draws
    messages: Messages


class CampaignsServicer(campaigns_pb2_grpc.CampaignsServiceServicer):
    def __init__(self, parts: CampaignsParts) -> None:
        self._parts = parts

    def EvaluatePurchase(
        self, request: pb.EvaluatePurchaseRequest, context: grpc.ServicerContext
    ) -> pb.EvaluatePurchaseResponse:
        if not request.member_id or not request.transaction_id:
            raise InvalidArgument("member_id and transaction_id are required")
        if request.amount.amount_minor <= 0:
            raise InvalidArgument("amount must be more than zero", code="invalid-amount")
        items = []
        for item in request.items:
            try:
                amount = int(Decimal(item.quantity or "1") * item.unit_price.amount_minor)
            except InvalidOperation:
                amount = item.unit_price.amount_minor
            items.append(Item(item.sku, item.category, amount))
        bonuses = self._parts.evaluator.evaluate(
            PurchaseFacts(
                store_id=request.store_id,
                transaction_id=request.transaction_id,
                member_id=request.member_id,
                amount_minor=request.amount.amount_minor,
                base_points=request.base_points,
                items=tuple(items),
                occurred_at=from_timestamp(request.occurred_at),
                fingerprint=request.request_fingerprint,
                recorded=request.recorded,
            )
        )
        return pb.EvaluatePurchaseResponse(
            bonuses=[
                pb.Bonus(campaign_id=b.campaign_id, points=b.points, reason=b.reason)
                for b in bonuses
            ]
        )

    def ListOffers(self, request: pb.ListOffersRequest, context: grpc.ServicerContext):
        offers = []
        for offer in self._parts.evaluator.offers(request.member_id, request.store_id):
            message = pb.Offer(
                campaign_id=offer.campaign_id,
                title=offer.title,
                description=offer.description,
                code=offer.code,
            )
            _stamp(message.ends_at, offer.ends_at)
            offers.append(message)
        return pb.ListOffersResponse(offers=offers)

    def SubmitFeedback(self, request: pb.SubmitFeedbackRequest, context: grpc.ServicerContext):
        stage = self._parts.feedback.submit(
            request.feedback_id, request.member_id, request.rating, request.comment
        )
        return pb.SubmitFeedbackResponse(stage=stage)

    def ListFeedback(self, request: pb.ListFeedbackRequest, context: grpc.ServicerContext):
        found = self._parts.feedback.recent(request.limit, request.member_id)
        return pb.ListFeedbackResponse(
            items=[
                pb.FeedbackItem(
                    feedback_id=item.feedback_id,
                    member_id=item.member_id,
                    first_name=item.first_name,
                    rating=item.rating,
                    comment=item.comment,
                    created_at=to_timestamp(item.created_at),
                )
                for item in found
            ]
        )

    def OpenCase(self, request: pb.OpenCaseRequest, context: grpc.ServicerContext):
        opened = self._parts.cases.open(
            request.case_id,
            request.member_id,
            request.kind,
            request.channel,
            request.category,
            request.text,
            request.actor,
        )
        return pb.CaseResponse(case=case_message(opened))

    def ResolveCase(self, request: pb.ResolveCaseRequest, context: grpc.ServicerContext):
        resolved = self._parts.cases.resolve(request.case_id, request.resolution, request.actor)
        return pb.CaseResponse(case=case_message(resolved))

    def ListCases(self, request: pb.ListCasesRequest, context: grpc.ServicerContext):
        found = self._parts.cases.listed(request.member_id, request.status, request.limit or 50)
        return pb.ListCasesResponse(cases=[case_message(one) for one in found])

    def CountComplaints(self, request: pb.CountComplaintsRequest, context: grpc.ServicerContext):
        counts = self._parts.cases.complaints_by_category(request.days or 30)
        return pb.CountComplaintsResponse(
            categories=[
                pb.ComplaintCount(category=category, complaints=total, still_open=still_open)
                for category, total, still_open in counts
            ]
        )

    def CreateSegment(self, request: pb.CreateSegmentRequest, context: grpc.ServicerContext):
        rule = _json(request.rule_json, "rule_json") if request.rule_json else None
        members = list(request.member_ids) if rule is None else None
        view = self._parts.segments.create(request.name, rule=rule, member_ids=members)
        return pb.CreateSegmentResponse(segment=_segment(view))

    def GetSegment(self, request: pb.GetSegmentRequest, context: grpc.ServicerContext):
        return pb.GetSegmentResponse(segment=_segment(self._parts.segments.get(request.segment_id)))

    def ListSegments(self, request: pb.ListSegmentsRequest, context: grpc.ServicerContext):
        return pb.ListSegmentsResponse(segments=[_segment(s) for s in self._parts.segments.list()])

    def DeleteSegment(self, request: pb.DeleteSegmentRequest, context: grpc.ServicerContext):
        self._parts.campaigns.delete_segment(request.segment_id)
        return pb.DeleteSegmentResponse()

    def DeleteCampaign(self, request: pb.DeleteCampaignRequest, context: grpc.ServicerContext):
        self._parts.campaigns.delete(request.campaign_id)
        return pb.DeleteCampaignResponse()

    def PreviewSegment(self, request: pb.PreviewSegmentRequest, context: grpc.ServicerContext):
        if request.segment_id:
            preview = self._parts.segments.preview(segment_id=request.segment_id)
        else:
            preview = self._parts.segments.preview(rule=_json(request.rule_json, "rule_json"))
        return pb.PreviewSegmentResponse(
            size=preview.size or 0,
            sample=[pb.MemberSample(stage=s.stage, tier=s.tier) for s in preview.sample],
            fewer_than=preview.fewer_than or 0,
        )

    def ListSegmentMembers(
        self, request: pb.ListSegmentMembersRequest, context: grpc.ServicerContext
    ):
        ids = self._parts.segments.members(
            request.segment_id, request.after_member_id, request.limit
        )
        return pb.ListSegmentMembersResponse(member_ids=[str(i) for i in ids])

    def CreateCampaign(self, request: pb.CreateCampaignRequest, context: grpc.ServicerContext):
        view = self._parts.campaigns.create(_json(request.definition_json, "definition_json"))
        return pb.CreateCampaignResponse(campaign=_campaign(view))

    def UpdateCampaign(self, request: pb.UpdateCampaignRequest, context: grpc.ServicerContext):
        body = _json(request.definition_json, "definition_json")
        return pb.UpdateCampaignResponse(
            campaign=_campaign(self._parts.campaigns.update(request.campaign_id, body))
        )

    def GetCampaign(self, request: pb.GetCampaignRequest, context: grpc.ServicerContext):
        return pb.GetCampaignResponse(
            campaign=_campaign(self._parts.campaigns.get(request.campaign_id))
        )

    def ListCampaigns(self, request: pb.ListCampaignsRequest, context: grpc.ServicerContext):
        return pb.ListCampaignsResponse(
            campaigns=[_campaign(c) for c in self._parts.campaigns.list()]
        )

    def ChangeCampaignStatus(
        self, request: pb.ChangeCampaignStatusRequest, context: grpc.ServicerContext
    ):
        action = ACTIONS.get(request.action)
        if action is None:
            raise InvalidArgument("action must be launch, pause or end", code="invalid-action")
        view = self._parts.campaigns.transition(request.campaign_id, action)
        return pb.ChangeCampaignStatusResponse(campaign=_campaign(view))

    def GetCampaignReport(
        self, request: pb.GetCampaignReportRequest, context: grpc.ServicerContext
    ):
        report = self._parts.reports.campaign(request.campaign_id)
        response = pb.GetCampaignReportResponse(
            campaign_id=report.campaign_id,
            status=report.status,
            audience=report.audience,
            reached=report.reached,
            messages_sent=report.messages_sent,
            points_awarded=report.points_awarded,
            budget_points=report.budget_points or 0,
            target=_figures(report.target),
            control=_figures(report.control),
            currency=self._parts.currency,
            coupons_issued=report.coupons_issued,
            coupons_used=report.coupons_used,
            missions_started=report.missions_started,
            missions_completed=report.missions_completed,
            mission_points_paid=report.mission_points_paid,
        )
        _stamp(response.window_start, report.window_start)
        _stamp(response.window_end, report.window_end)
        return response

    def GetMemberProfile(self, request: pb.GetMemberProfileRequest, context: grpc.ServicerContext):
        found = self._parts.profiles.profile(request.member_id)
        answer = pb.GetMemberProfileResponse(
            stage=found.stage,
            rfm_r=found.rfm[0],
            rfm_f=found.rfm[1],
            rfm_m=found.rfm[2],
            purchases=found.purchases,
            spend=common_pb2.Money(amount_minor=found.spend_minor, currency=self._parts.currency),
            open_complaints=found.open_complaints,
        )
        _stamp(answer.stage_since, found.stage_since)
        _stamp(answer.last_purchase_at, found.last_purchase_at)
        for move in found.stage_history:
            line = answer.stage_history.add(from_stage=move.from_stage, to_stage=move.to_stage)
            _stamp(line.changed_at, move.changed_at)
        for given in found.feedback:
            item = answer.feedback.add(
                feedback_id=given.feedback_id, rating=given.rating, comment=given.comment
            )
            _stamp(item.created_at, given.created_at)
        return answer

    def GetStageOverview(self, request: pb.GetStageOverviewRequest, context: grpc.ServicerContext):
        overview = self._parts.reports.stages(min(max(request.limit or 100, 1), 1000))
        dissatisfied = []
        for member in overview.dissatisfied:
            item = pb.DissatisfiedMember(
                member_id=member.member_id,
                first_name=member.first_name,
                last_rating=member.last_rating or 0,
            )
            _stamp(item.since, member.since)
            dissatisfied.append(item)
        return pb.GetStageOverviewResponse(
            dissatisfied=dissatisfied,
            stages=[pb.StageCount(stage=s, members=n) for s, n in overview.counts.items()],
            days=[
                pb.StageDay(day=d.day.isoformat(), stage=d.stage, entered=d.entered)
                for d in overview.days
            ],
        )

    def GetClubFigures(self, request: pb.GetClubFiguresRequest, context: grpc.ServicerContext):
        if not request.HasField("first_week_starts_at"):
            raise InvalidArgument("first_week_starts_at is required", code="invalid-period")
        figures = self._parts.reports.club(
            from_timestamp(request.first_week_starts_at), request.weeks
        )
        return pb.GetClubFiguresResponse(
            members=figures.members,
            active_30_days=figures.active_30_days,
            active_90_days=figures.active_90_days,
            buyers=figures.buyers,
            repeat_buyers=figures.repeat_buyers,
            visits=figures.visits,
            spend=common_pb2.Money(amount_minor=figures.spend_minor, currency=self._parts.currency),
            weeks=[
                pb.ClubWeek(
                    starts_at=to_timestamp(week.starts_at),
                    new_members=week.new_members,
                    entered=week.entered,
                )
                for week in figures.weeks
            ],
        )

    def GetMemberViewStatus(
        self, request: pb.GetMemberViewStatusRequest, context: grpc.ServicerContext
    ):
        feeds = []
        for status in self._parts.view.status():
            item = pb.FeedStatus(
                feed=status.feed, events_applied=status.events_applied, pending=status.pending
            )
            _stamp(item.last_event_at, status.last_event_at)
            _stamp(item.applied_at, status.applied_at)
            feeds.append(item)
        return pb.GetMemberViewStatusResponse(feeds=feeds)

    def MatchAudiences(self, request: pb.MatchAudiencesRequest, context: grpc.ServicerContext):
        segments, stages = self._parts.segments.match(
            request.member_id, list(request.segment_ids), list(request.stages)
        )
        return pb.MatchAudiencesResponse(segment_ids=sorted(segments), stages=sorted(stages))

    def ListMemberMissions(
        self, request: pb.ListMemberMissionsRequest, context: grpc.ServicerContext
    ):
        response = pb.ListMemberMissionsResponse()
        for mission in self._parts.missions.of_member(request.member_id):
            item = response.items.add(
                id=mission.id,
                name=mission.name,
                target=mission.target,
                progress=mission.progress,
                completed=mission.completed,
                reward_points=mission.reward_points,
                reward_id=mission.reward_id,
                metric=mission.metric,
            )
            _stamp(item.period_ends_at, mission.period_ends_at)
        return response

    def ListMemberMessages(
        self, request: pb.ListMemberMessagesRequest, context: grpc.ServicerContext
    ):
        found, next_cursor = self._parts.messages.of_member(
            request.member_id, request.limit, request.cursor
        )
        response = pb.ListMemberMessagesResponse(next_cursor=next_cursor)
        for message in found:
            item = response.items.add(
                id=message.id, channel=message.channel, body=message.body, subject=message.subject
            )
            _stamp(item.sent_at, message.sent_at)
        return response

    def CreateDraw(self, request: pb.CreateDrawRequest, context: grpc.ServicerContext):
        rules = request.chances
        created = self._parts.draws.create(
            request.name,
            from_timestamp(request.closes_at) if request.HasField("closes_at") else None,
            [Prize(p.name, p.count) for p in request.prizes],
            ChanceRules(
                rules.per_purchase,
                rules.per_amount_minor,
                rules.points_per_chance,
                rules.max_per_member,
            ),
            _json(request.targeting_json, "targeting_json") if request.targeting_json else None,
        )
        return pb.DrawResponse(draw=draw_message(created))

    def ListDraws(self, request: pb.ListDrawsRequest, context: grpc.ServicerContext):
        draws = self._parts.draws
        found = draws.of_member(request.member_id) if request.member_id else draws.list()
        return pb.ListDrawsResponse(draws=[draw_message(one) for one in found])

    def GetDraw(self, request: pb.DrawRequest, context: grpc.ServicerContext):
        return pb.DrawResponse(draw=draw_message(self._parts.draws.get(request.draw_id)))

    def CloseDraw(self, request: pb.DrawRequest, context: grpc.ServicerContext):
        return pb.DrawResponse(draw=draw_message(self._parts.draws.close(request.draw_id)))

    def CancelDraw(self, request: pb.DrawRequest, context: grpc.ServicerContext):
        return pb.DrawResponse(draw=draw_message(self._parts.draws.cancel(request.draw_id)))

    def GetDrawEntries(self, request: pb.DrawRequest, context: grpc.ServicerContext):
        view, entries = self._parts.draws.entries(request.draw_id)
        return pb.DrawEntriesResponse(
            draw=draw_message(view),
            entries=[pb.DrawEntry(member_id=e["member_id"], chances=e["chances"]) for e in entries],
        )

    def BuyDrawChances(self, request: pb.BuyDrawChancesRequest, context: grpc.ServicerContext):
        bought = self._parts.draws.buy(
            request.draw_id, request.member_id, request.request_id, request.chances
        )
        return pb.DrawResponse(draw=draw_message(bought))
