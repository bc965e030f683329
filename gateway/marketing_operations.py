"""What a marketer does, once: the JSON marketing routes and the console pages both call these.

Each function takes the gRPC clients and answers the JSON the marketing API sends; it raises
`Problem` (or lets a `grpc.RpcError` through) exactly as the API answers it.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.problems import Problem
from gateway.upstreams import Upstreams
from loyalty.campaigns.v1 import campaigns_pb2 as pb
from services.runtime.convert import from_timestamp
from services.runtime.money import from_minor

ACTIONS = {
    "launch": pb.CAMPAIGN_ACTION_LAUNCH,
    "pause": pb.CAMPAIGN_ACTION_PAUSE,
    "end": pb.CAMPAIGN_ACTION_END,
}


def _time(stamp: Any) -> str | None:
    moment = from_timestamp(stamp)
    return moment.isoformat() if moment else None


def segment_json(segment: pb.Segment) -> dict:
    return {
        "id": segment.id,
        "name": segment.name,
        "kind": segment.kind,
        "rule": json.loads(segment.rule_json) if segment.rule_json else None,
        "created_at": _time(segment.created_at),
    }


def campaign_json(campaign: pb.Campaign) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "status": campaign.status,
        "definition": json.loads(campaign.definition_json),
        "awarded_points": campaign.awarded_points,
        "created_at": _time(campaign.created_at),
        "launched_at": _time(campaign.launched_at),
    }


def preview_json(preview: pb.PreviewSegmentResponse) -> dict:
    withheld = preview.fewer_than > 0
    return {
        "size": None if withheld else preview.size,
        "fewer_than": preview.fewer_than if withheld else None,
        "sample": [{"stage": s.stage, "tier": s.tier} for s in preview.sample],
    }


def create_segment(upstream: Upstreams, body: dict) -> dict:
    if ("rule" in body) == ("member_ids" in body):
        raise Problem(422, "invalid-segment", "give either a rule or member_ids")
    response = upstream.campaigns.CreateSegment(
        pb.CreateSegmentRequest(
            name=body["name"],
            rule_json=json.dumps(body["rule"]) if "rule" in body else "",
            member_ids=body.get("member_ids", []),
        ),
        timeout=60,
    )
    return segment_json(response.segment)


def list_segments(upstream: Upstreams) -> list[dict]:
    response = upstream.campaigns.ListSegments(pb.ListSegmentsRequest())
    return [segment_json(s) for s in response.segments]


def get_segment(upstream: Upstreams, segment_id: str) -> dict:
    response = upstream.campaigns.GetSegment(pb.GetSegmentRequest(segment_id=segment_id))
    return segment_json(response.segment)


def delete_segment(upstream: Upstreams, segment_id: str) -> None:
    upstream.campaigns.DeleteSegment(pb.DeleteSegmentRequest(segment_id=segment_id))


def preview_rule(upstream: Upstreams, rule: Any) -> dict:
    response = upstream.campaigns.PreviewSegment(
        pb.PreviewSegmentRequest(rule_json=json.dumps(rule)), timeout=30
    )
    return preview_json(response)


def preview_segment(upstream: Upstreams, segment_id: str) -> dict:
    response = upstream.campaigns.PreviewSegment(
        pb.PreviewSegmentRequest(segment_id=segment_id), timeout=30
    )
    return preview_json(response)


def create_campaign(upstream: Upstreams, definition: dict) -> dict:
    response = upstream.campaigns.CreateCampaign(
        pb.CreateCampaignRequest(definition_json=json.dumps(definition))
    )
    return campaign_json(response.campaign)


def list_campaigns(upstream: Upstreams) -> list[dict]:
    response = upstream.campaigns.ListCampaigns(pb.ListCampaignsRequest())
    return [campaign_json(c) for c in response.campaigns]


def get_campaign(upstream: Upstreams, campaign_id: str) -> dict:
    response = upstream.campaigns.GetCampaign(pb.GetCampaignRequest(campaign_id=campaign_id))
    return campaign_json(response.campaign)


def update_campaign(upstream: Upstreams, campaign_id: str, definition: dict) -> dict:
    response = upstream.campaigns.UpdateCampaign(
        pb.UpdateCampaignRequest(campaign_id=campaign_id, definition_json=json.dumps(definition))
    )
    return campaign_json(response.campaign)


def delete_campaign(upstream: Upstreams, campaign_id: str) -> None:
    upstream.campaigns.DeleteCampaign(pb.DeleteCampaignRequest(campaign_id=campaign_id))


def change_status(upstream: Upstreams, campaign_id: str, action: str) -> dict:
    """`launch`, `pause` or `end` a campaign."""
    response = upstream.campaigns.ChangeCampaignStatus(
        pb.ChangeCampaignStatusRequest(campaign_id=campaign_id, action=ACTIONS[action])
    )
    return campaign_json(response.campaign)


def _group(group: pb.GroupFigures, code: str) -> dict:
    return {
        "members": group.members,
        "buyers": group.buyers,
        "visits": group.visits,
        "spend": from_minor(group.spend_minor, code),
        "spend_per_member": from_minor(group.spend_per_member_minor, code),
        "visits_per_member": group.visits_per_member,
    }


def campaign_report(upstream: Upstreams, campaign_id: str, currency: str) -> dict:
    report = upstream.campaigns.GetCampaignReport(
        pb.GetCampaignReportRequest(campaign_id=campaign_id), timeout=60
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
        "currency": code,
        "window": {"from": _time(report.window_start), "to": _time(report.window_end)},
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


def stage_overview(upstream: Upstreams, limit: int) -> dict:
    """Dissatisfied members first (most recent first), then members per lifecycle stage."""
    overview = upstream.campaigns.GetStageOverview(pb.GetStageOverviewRequest(limit=limit))
    return {
        "dissatisfied": [
            {
                "member_id": m.member_id,
                "first_name": m.first_name,
                "since": _time(m.since),
                "last_rating": m.last_rating or None,
            }
            for m in overview.dissatisfied
        ],
        "stages": {s.stage: s.members for s in overview.stages},
        "days": [{"day": d.day, "stage": d.stage, "entered": d.entered} for d in overview.days],
    }


def member_view_status(upstream: Upstreams) -> dict:
    response = upstream.campaigns.GetMemberViewStatus(pb.GetMemberViewStatusRequest(), timeout=15)
    return {
        "feeds": [
            {
                "feed": f.feed,
                "events_applied": f.events_applied,
                "last_event_at": _time(f.last_event_at),
                "applied_at": _time(f.applied_at),
                "pending": f.pending,
            }
            for f in response.feeds
        ]
    }
