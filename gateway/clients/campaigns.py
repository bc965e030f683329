"""The campaigns service: segments, campaigns and their reports, offers, feedback."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import grpc
from google.protobuf.descriptor import EnumDescriptor, EnumValueDescriptor

from gateway.clients.calls import Service, call, iso_time
from gateway.problems import Problem
from loyalty.campaigns.v1 import campaigns_pb2 as pb
from loyalty.campaigns.v1.campaigns_pb2_grpc import CampaignsServiceStub
from services.runtime.convert import to_timestamp
from services.runtime.errors import InvalidArgument
from services.runtime.money import from_minor, to_minor


def _names(enum: EnumDescriptor, prefix: str) -> dict[str, EnumValueDescriptor]:
    """An enum's values by their JSON name: without the prefix, in lower case."""
    return {value.name.removeprefix(prefix).lower(): value for value in enum.values if value.number}


# Each kind of campaign, in the order a form offers them, and the fields its definition gives.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(value.GetOptions().Extensions[pb.kind_fields])
    for name, value in _names(pb.CampaignKind.DESCRIPTOR, "CAMPAIGN_KIND_").items()
}
KINDS = tuple(KIND_FIELDS)


def kinds_giving(field: str) -> tuple[str, ...]:
    """The kinds of campaign whose definition gives this field."""
    return tuple(kind for kind, fields in KIND_FIELDS.items() if field in fields)


# The status changes, by name (`launch`, `pause`, `end`), and back.
ACTIONS = {
    name: value.number
    for name, value in _names(pb.CampaignAction.DESCRIPTOR, "CAMPAIGN_ACTION_").items()
}
ACTION_NAMES = {number: name for name, number in ACTIONS.items()}
# The till never waits long for offers: without campaigns it still identifies the member.
OFFERS_TIMEOUT = 0.3


def case_json(case: pb.Case) -> dict:
    return {
        "case_id": case.case_id,
        "member_id": case.member_id,
        "kind": case.kind,
        "channel": case.channel,
        "category": case.category,
        "text": case.text,
        "status": case.status,
        "opened_by": case.opened_by,
        "opened_at": iso_time(case.opened_at),
        "resolved_by": case.resolved_by,
        "resolved_at": iso_time(case.resolved_at) if case.HasField("resolved_at") else None,
        "resolution": case.resolution,
        "follow_up": case.follow_up,
    }


def draw_json(draw: pb.Draw, currency: str, to_member: bool = False) -> dict:
    """A draw as the API shows it: the seed is null until the draw is closed; who may enter
    is shown to marketers, not to members."""
    rules = draw.chances
    shown = {
        "id": draw.id,
        "name": draw.name,
        "status": draw.status,
        "closes_at": iso_time(draw.closes_at),
        "prizes": [{"name": p.name, "count": p.count} for p in draw.prizes],
        "chances": {
            "per_purchase": rules.per_purchase,
            "per_amount": from_minor(rules.per_amount_minor, currency)
            if rules.per_amount_minor
            else None,
            "points_per_chance": rules.points_per_chance,
            "max_per_member": rules.max_per_member,
        },
        "seed_sha256": draw.seed_sha256,
        "seed": draw.seed or None,
        "winners": [{"member_id": w.member_id, "prize": w.prize} for w in draw.winners],
        "created_at": iso_time(draw.created_at),
        "closed_at": iso_time(draw.closed_at),
    }
    if not to_member:
        shown["targeting"] = (
            json.loads(draw.targeting_json) if draw.targeting_json else {"everyone": True}
        )
    return shown


def segment_json(segment: pb.Segment) -> dict:
    return {
        "id": segment.id,
        "name": segment.name,
        "kind": segment.kind,
        "rule": json.loads(segment.rule_json) if segment.rule_json else None,
        "created_at": iso_time(segment.created_at),
    }


def campaign_json(campaign: pb.Campaign) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "status": campaign.status,
        "definition": json.loads(campaign.definition_json),
        "awarded_points": campaign.awarded_points,
        "created_at": iso_time(campaign.created_at),
        "launched_at": iso_time(campaign.launched_at),
        "allowed_actions": [ACTION_NAMES[action] for action in campaign.allowed_actions],
        "deletable": campaign.deletable,
    }


def preview_json(preview: pb.PreviewSegmentResponse) -> dict:
    withheld = preview.fewer_than > 0
    return {
        "size": None if withheld else preview.size,
        "fewer_than": preview.fewer_than if withheld else None,
        "sample": [{"stage": s.stage, "tier": s.tier} for s in preview.sample],
    }


def _group(group: pb.GroupFigures, code: str) -> dict:
    return {
        "members": group.members,
        "buyers": group.buyers,
        "visits": group.visits,
        "spend": from_minor(group.spend_minor, code),
        "spend_per_member": from_minor(group.spend_per_member_minor, code),
        "visits_per_member": group.visits_per_member,
    }


def offer_json(offer: pb.Offer) -> dict:
    return {
        "campaign_id": offer.campaign_id,
        "title": offer.title,
        "description": offer.description,
        "code": offer.code or None,
        "ends_at": offer.ends_at.ToJsonString() if offer.HasField("ends_at") else None,
    }


class CampaignsClient(Service):
    def __init__(self, channel: grpc.Channel) -> None:
        super().__init__(channel)
        self._stub = CampaignsServiceStub(channel)

    # What members see

    def offers(self, member_id: str, store_id: str = "", timeout: float = OFFERS_TIMEOUT * 3):
        """Offers the member may use now (at this store); none when campaigns cannot answer
        within `timeout` seconds."""
        try:
            response = self._stub.ListOffers(
                pb.ListOffersRequest(member_id=member_id, store_id=store_id),
                timeout=timeout,
                wait_for_ready=False,
            )
        except grpc.RpcError:
            return []
        return [offer_json(offer) for offer in response.offers]

    def missions(self, member_id: str) -> list[dict]:
        """The active missions the member is in, with progress in the current period."""
        response = call(
            self._stub.ListMemberMissions, pb.ListMemberMissionsRequest(member_id=member_id)
        )
        return [
            {
                "id": item.id,
                "name": item.name,
                "metric": item.metric,
                "target": item.target,
                "progress": item.progress,
                "completed": item.completed,
                "period_ends_at": iso_time(item.period_ends_at),
                "reward_points": item.reward_points,
                "reward_id": item.reward_id or None,
            }
            for item in response.items
        ]

    def member_messages(self, member_id: str, limit: int, cursor: str) -> dict:
        """A page of the messages sent to the member, newest first."""
        page = call(
            self._stub.ListMemberMessages,
            pb.ListMemberMessagesRequest(member_id=member_id, limit=limit, cursor=cursor),
        )
        return {
            "items": [
                {
                    "id": item.id,
                    "channel": item.channel,
                    "body": item.body,
                    "sent_at": iso_time(item.sent_at),
                    "subject": item.subject,
                }
                for item in page.items
            ],
            "next_cursor": page.next_cursor or None,
        }

    def submit_feedback(self, member_id: str, feedback_id: str, rating: int, comment: str) -> str:
        """The member's rating (1-5) and comment, counted once per feedback id."""
        call(
            self._stub.SubmitFeedback,
            pb.SubmitFeedbackRequest(
                feedback_id=feedback_id, member_id=member_id, rating=rating, comment=comment
            ),
        )
        return feedback_id

    def feedback(self, limit: int = 100, member_id: str = "") -> list[dict]:
        """Feedback newest first with its comment: everyone's, or the whole of one member's."""
        found = call(
            self._stub.ListFeedback, pb.ListFeedbackRequest(limit=limit, member_id=member_id)
        )
        return [
            {
                "feedback_id": item.feedback_id,
                "member_id": item.member_id,
                "first_name": item.first_name,
                "rating": item.rating,
                "comment": item.comment,
                "created_at": iso_time(item.created_at),
            }
            for item in found.items
        ]

    # Cases

    def open_case(self, case_id: str, member_id: str, details: dict, actor: str) -> dict:
        """A contact recorded once per case id: `details` has kind, channel, category, text."""
        response = call(
            self._stub.OpenCase,
            pb.OpenCaseRequest(case_id=case_id, member_id=member_id, actor=actor, **details),
        )
        return case_json(response.case)

    def resolve_case(self, case_id: str, resolution: str, actor: str) -> dict:
        response = call(
            self._stub.ResolveCase,
            pb.ResolveCaseRequest(case_id=case_id, resolution=resolution, actor=actor),
        )
        return case_json(response.case)

    def cases(self, member_id: str = "", status: str = "", limit: int = 50) -> list[dict]:
        """A member's cases newest first, or everyone's oldest first."""
        response = call(
            self._stub.ListCases,
            pb.ListCasesRequest(member_id=member_id, status=status, limit=limit),
        )
        return [case_json(case) for case in response.cases]

    def complaint_counts(self, days: int = 30) -> list[dict]:
        response = call(self._stub.CountComplaints, pb.CountComplaintsRequest(days=days))
        return [
            {"category": c.category, "complaints": c.complaints, "still_open": c.still_open}
            for c in response.categories
        ]

    # Segments

    def create_segment(self, body: dict) -> dict:
        """A segment from SEGMENT_REQUEST: a rule, or a list of member ids."""
        if ("rule" in body) == ("member_ids" in body):
            raise Problem(422, "invalid-segment", "give either a rule or member_ids")
        response = call(
            self._stub.CreateSegment,
            pb.CreateSegmentRequest(
                name=body["name"],
                rule_json=json.dumps(body["rule"]) if "rule" in body else "",
                member_ids=body.get("member_ids", []),
            ),
            timeout=60,
        )
        return segment_json(response.segment)

    def segments(self) -> list[dict]:
        response = call(self._stub.ListSegments, pb.ListSegmentsRequest())
        return [segment_json(s) for s in response.segments]

    def segment(self, segment_id: str) -> dict:
        response = call(self._stub.GetSegment, pb.GetSegmentRequest(segment_id=segment_id))
        return segment_json(response.segment)

    def delete_segment(self, segment_id: str) -> None:
        call(self._stub.DeleteSegment, pb.DeleteSegmentRequest(segment_id=segment_id))

    def preview_rule(self, rule: Any) -> dict:
        request = pb.PreviewSegmentRequest(rule_json=json.dumps(rule))
        return preview_json(call(self._stub.PreviewSegment, request, timeout=30))

    def preview_segment(self, segment_id: str) -> dict:
        request = pb.PreviewSegmentRequest(segment_id=segment_id)
        return preview_json(call(self._stub.PreviewSegment, request, timeout=30))

    def segment_members(self, segment_id: str, after_member_id: str, limit: int) -> list[str]:
        request = pb.ListSegmentMembersRequest(
            segment_id=segment_id, after_member_id=after_member_id, limit=limit
        )
        return list(call(self._stub.ListSegmentMembers, request, timeout=30).member_ids)

    # Campaigns

    def create_campaign(self, definition: dict) -> dict:
        request = pb.CreateCampaignRequest(definition_json=json.dumps(definition))
        return campaign_json(call(self._stub.CreateCampaign, request).campaign)

    def campaigns(self) -> list[dict]:
        response = call(self._stub.ListCampaigns, pb.ListCampaignsRequest())
        return [campaign_json(c) for c in response.campaigns]

    def campaign(self, campaign_id: str) -> dict:
        request = pb.GetCampaignRequest(campaign_id=campaign_id)
        return campaign_json(call(self._stub.GetCampaign, request).campaign)

    def update_campaign(self, campaign_id: str, definition: dict) -> dict:
        request = pb.UpdateCampaignRequest(
            campaign_id=campaign_id, definition_json=json.dumps(definition)
        )
        return campaign_json(call(self._stub.UpdateCampaign, request).campaign)

    def delete_campaign(self, campaign_id: str) -> None:
        call(self._stub.DeleteCampaign, pb.DeleteCampaignRequest(campaign_id=campaign_id))

    def change_status(self, campaign_id: str, action: str) -> dict:
        """`launch`, `pause` or `end` a campaign."""
        request = pb.ChangeCampaignStatusRequest(campaign_id=campaign_id, action=ACTIONS[action])
        return campaign_json(call(self._stub.ChangeCampaignStatus, request).campaign)

    def campaign_report(self, campaign_id: str, currency: str) -> dict:
        report = call(
            self._stub.GetCampaignReport,
            pb.GetCampaignReportRequest(campaign_id=campaign_id),
            timeout=60,
        )
        code = report.currency or currency
        return {
            "campaign_id": report.campaign_id,
            "status": report.status,
            "audience": report.audience,
            "reached": report.reached,
            "messages_sent": report.messages_sent,
            "points_awarded": report.points_awarded,
            "budget_points": report.budget_points or None,
            "coupons_issued": report.coupons_issued,
            "coupons_used": report.coupons_used,
            "missions_started": report.missions_started,
            "missions_completed": report.missions_completed,
            "mission_points_paid": report.mission_points_paid,
            "currency": code,
            "window": {"from": iso_time(report.window_start), "to": iso_time(report.window_end)},
            "target": _group(report.target, code),
            "control": _group(report.control, code),
            "uplift": {
                "spend_per_member": from_minor(
                    report.target.spend_per_member_minor - report.control.spend_per_member_minor,
                    code,
                ),
                "visits_per_member": round(
                    report.target.visits_per_member - report.control.visits_per_member, 4
                ),
            },
        }

    # Members by lifecycle stage, and the member views behind them

    def member_profile(self, member_id: str) -> dict | None:
        """Stage and its history, RFM, feedback and open complaints; None until the member view
        has the member."""
        try:
            request = pb.GetMemberProfileRequest(member_id=member_id)
            found = call(self._stub.GetMemberProfile, request)
        except Problem as problem:
            if problem.status == 404:
                return None
            raise
        return {
            "stage": found.stage,
            "stage_since": iso_time(found.stage_since),
            "stage_history": [
                {"from": move.from_stage, "to": move.to_stage, "at": iso_time(move.changed_at)}
                for move in found.stage_history
            ],
            "rfm": {"r": found.rfm_r, "f": found.rfm_f, "m": found.rfm_m},
            "last_purchase_at": iso_time(found.last_purchase_at),
            "purchases": found.purchases,
            "spend": from_minor(found.spend.amount_minor, found.spend.currency),
            "feedback": [
                {
                    "feedback_id": given.feedback_id,
                    "rating": given.rating,
                    "comment": given.comment,
                    "created_at": iso_time(given.created_at),
                }
                for given in found.feedback
            ],
            "open_complaints": found.open_complaints,
        }

    def stage_overview(self, limit: int) -> dict:
        """Dissatisfied members first (most recent first), then members per lifecycle stage."""
        request = pb.GetStageOverviewRequest(limit=limit)
        overview = call(self._stub.GetStageOverview, request)
        return {
            "dissatisfied": [
                {
                    "member_id": m.member_id,
                    "first_name": m.first_name,
                    "since": iso_time(m.since),
                    "last_rating": m.last_rating or None,
                }
                for m in overview.dissatisfied
            ],
            "stages": {s.stage: s.members for s in overview.stages},
            "days": [{"day": d.day, "stage": d.stage, "entered": d.entered} for d in overview.days],
        }

    def club_figures(self, first_week_starts_at: datetime, weeks: int) -> dict:
        """The club at a glance: members, activity, repeat buying, spend, and per week the new
        members and the members who entered each stage."""
        request = pb.GetClubFiguresRequest(
            first_week_starts_at=to_timestamp(first_week_starts_at), weeks=weeks
        )
        found = call(self._stub.GetClubFigures, request, timeout=15)
        return {
            "members": found.members,
            "active_30_days": found.active_30_days,
            "active_90_days": found.active_90_days,
            "buyers": found.buyers,
            "repeat_buyers": found.repeat_buyers,
            "visits": found.visits,
            "spend": from_minor(found.spend.amount_minor, found.spend.currency),
            "weeks": [
                {
                    "starts_at": iso_time(week.starts_at),
                    "new_members": week.new_members,
                    "entered": dict(week.entered),
                }
                for week in found.weeks
            ],
        }

    def member_view_status(self) -> dict:
        request = pb.GetMemberViewStatusRequest()
        response = call(self._stub.GetMemberViewStatus, request, timeout=15)
        return {
            "feeds": [
                {
                    "feed": f.feed,
                    "events_applied": f.events_applied,
                    "last_event_at": iso_time(f.last_event_at),
                    "applied_at": iso_time(f.applied_at),
                    "pending": f.pending,
                }
                for f in response.feeds
            ]
        }

    # Prize draws

    def create_draw(self, body: dict, currency: str) -> dict:
        chances = body.get("chances", {})
        per_amount = chances.get("per_amount")
        try:
            per_amount_minor = (
                to_minor(per_amount, currency, "chances.per_amount") if per_amount else 0
            )
        except InvalidArgument as error:
            raise Problem(422, error.code, error.detail) from None
        request = pb.CreateDrawRequest(
            name=body["name"],
            prizes=[pb.DrawPrize(name=p["name"], count=p["count"]) for p in body["prizes"]],
            chances=pb.DrawChanceRules(
                per_purchase=chances.get("per_purchase", 0),
                per_amount_minor=per_amount_minor,
                points_per_chance=chances.get("points_per_chance", 0),
                max_per_member=chances.get("max_per_member", 0),
            ),
            targeting_json=json.dumps(body["targeting"]) if "targeting" in body else "",
        )
        try:
            request.closes_at.FromJsonString(body["closes_at"])
        except ValueError:
            raise Problem(400, "invalid-request", "closes_at must be an RFC 3339 time") from None
        return draw_json(call(self._stub.CreateDraw, request).draw, currency)

    def draws(self, currency: str, member_id: str = "") -> list[dict]:
        response = call(self._stub.ListDraws, pb.ListDrawsRequest(member_id=member_id))
        found = []
        for draw in response.draws:
            shown = draw_json(draw, currency, to_member=bool(member_id))
            if member_id:
                shown["my_chances"] = draw.my_chances
            else:
                shown.update(entrants=draw.entrants, chances_held=draw.chances_held)
            found.append(shown)
        return found

    def draw(self, draw_id: str, currency: str) -> dict:
        """One draw, with its entrants and the chances they hold."""
        found = call(self._stub.GetDraw, pb.DrawRequest(draw_id=draw_id)).draw
        return {
            **draw_json(found, currency),
            "entrants": found.entrants,
            "chances_held": found.chances_held,
        }

    def close_draw(self, draw_id: str, currency: str) -> dict:
        request = pb.DrawRequest(draw_id=draw_id)
        return draw_json(call(self._stub.CloseDraw, request, timeout=60).draw, currency)

    def cancel_draw(self, draw_id: str, currency: str) -> dict:
        request = pb.DrawRequest(draw_id=draw_id)
        return draw_json(call(self._stub.CancelDraw, request, timeout=30).draw, currency)

    def draw_entries(self, draw_id: str) -> dict:
        """The document `python -m services.campaigns.draw_selection verify` reads."""
        response = call(self._stub.GetDrawEntries, pb.DrawRequest(draw_id=draw_id), timeout=60)
        draw = response.draw
        document: dict[str, Any] = {
            "draw_id": draw.id,
            "status": draw.status,
            "seed_sha256": draw.seed_sha256,
            "prizes": [{"name": p.name, "count": p.count} for p in draw.prizes],
            "entries": [{"member_id": e.member_id, "chances": e.chances} for e in response.entries],
        }
        if draw.status == "closed":
            document["seed"] = draw.seed
            document["winners"] = [
                {"member_id": w.member_id, "prize": w.prize} for w in draw.winners
            ]
        return document

    def buy_draw_chances(
        self, draw_id: str, member_id: str, request_id: str, chances: int, currency: str
    ) -> dict:
        request = pb.BuyDrawChancesRequest(
            draw_id=draw_id, member_id=member_id, request_id=request_id, chances=chances
        )
        bought = call(self._stub.BuyDrawChances, request, timeout=30).draw
        return {**draw_json(bought, currency, to_member=True), "my_chances": bought.my_chances}
