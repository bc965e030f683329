"""The marketer's API: segments, campaigns, their reports, and members by lifecycle stage."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, request

from gateway.api import operation, query_param
from gateway.problems import Problem
from loyalty.campaigns.v1 import campaigns_pb2 as pb
from services.runtime.convert import from_timestamp
from services.runtime.money import from_minor

bp = Blueprint("marketing", __name__)

# The admin token, or a staff session of role marketer or admin.
MARKETER = "marketing"

TAG = "marketing"
NOT_FOUND = {404: ("No such segment or campaign", None)}
REFUSED = {422: ("A value the club refuses, e.g. a bad rule (`invalid-rule`)", None)}

RULE = {
    "type": "object",
    "description": (
        "A rule: `{and: [...]}`, `{or: [...]}`, `{not: rule}` or `{attr, op, value}` over stage,"
        " tier, city, gender, purchase_count, refund_count, points, rfm_r, rfm_f, rfm_m,"
        " days_since_last_purchase, days_since_enrolled, birthday_month, last_rating,"
        " total_spend, average_spend, consent_sms, consent_email, categories"
    ),
}
SEGMENT_REQUEST = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "rule": RULE,
        "member_ids": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 100000,
            "description": "A static segment: these members (instead of a rule)",
        },
    },
}
SEGMENT = {
    "type": "object",
    "required": ["id", "name", "kind", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["rule", "static"]},
        "rule": {"type": ["object", "null"]},
        "created_at": {"type": "string"},
    },
}
PREVIEW_REQUEST = {"type": "object", "required": ["rule"], "properties": {"rule": RULE}}
PREVIEW = {
    "type": "object",
    "required": ["size", "sample"],
    "properties": {
        "size": {"type": "integer"},
        "sample": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "member_id": {"type": "string"},
                    "first_name": {"type": "string"},
                    "stage": {"type": "string"},
                    "tier": {"type": "string"},
                },
            },
        },
    },
}
NAMES = {"type": "array", "items": {"type": "string"}}
CAMPAIGN_REQUEST = {
    "type": "object",
    "required": ["name", "kind"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "kind": {
            "type": "string",
            "enum": [
                "multiplier",
                "fixed_bonus",
                "category_bonus",
                "spend_threshold",
                "birthday",
                "win_back",
                "offer",
            ],
        },
        "multiplier": {"type": ["number", "string"], "description": "multiplier, category_bonus"},
        "points": {
            "type": "integer",
            "description": "fixed_bonus, spend_threshold, birthday, win_back",
        },
        "categories": NAMES,
        "skus": NAMES,
        "min_spend": {"type": "string", "description": "spend_threshold: the smallest amount"},
        "offer": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "code": {"type": "string"},
            },
        },
        "targeting": {
            "type": "object",
            "description": "everyone: true, or segments, stages, tiers, stores (all must match)",
            "properties": {
                "everyone": {"type": "boolean"},
                "segments": NAMES,
                "stages": NAMES,
                "tiers": NAMES,
                "stores": NAMES,
            },
        },
        "schedule": {
            "type": "object",
            "properties": {
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "days_of_week": {"type": "array", "items": {"type": "integer"}},
                "hours": {
                    "type": "object",
                    "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
                },
                "timezone": {"type": "string"},
            },
        },
        "budget_points": {"type": ["integer", "null"]},
        "per_member_limit": {"type": ["integer", "null"], "description": "awards per member"},
        "priority": {"type": "integer"},
        "stackable": {"type": "boolean"},
        "control_percent": {"type": "integer", "minimum": 0, "maximum": 50},
        "message": {
            "type": "object",
            "required": ["channel", "template"],
            "properties": {
                "channel": {"type": "string", "enum": ["sms", "email"]},
                "template": {
                    "type": "string",
                    "description": "May use {first_name}, {points}, {expiry}, {offer}",
                },
            },
        },
    },
}
CAMPAIGN_EXAMPLE = {
    "name": "Double points for the unhappy",
    "kind": "multiplier",
    "multiplier": 2,
    "targeting": {"stages": ["dissatisfied"]},
    "schedule": {"ends_at": "2026-12-31T23:59:59+03:30"},
    "budget_points": 100000,
    "per_member_limit": 3,
    "control_percent": 10,
}
CAMPAIGN = {
    "type": "object",
    "required": ["id", "name", "kind", "status", "definition", "awarded_points"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["draft", "scheduled", "active", "paused", "ended"],
        },
        "definition": {"type": "object"},
        "awarded_points": {"type": "integer"},
        "created_at": {"type": "string"},
        "launched_at": {"type": ["string", "null"]},
    },
}
GROUP = {
    "type": "object",
    "properties": {
        "members": {"type": "integer"},
        "buyers": {"type": "integer"},
        "visits": {"type": "integer"},
        "spend": {"type": "string"},
        "spend_per_member": {"type": "string"},
        "visits_per_member": {"type": "number"},
    },
}
REPORT = {
    "type": "object",
    "required": ["campaign_id", "status", "audience", "target", "control"],
    "properties": {
        "campaign_id": {"type": "string"},
        "status": {"type": "string"},
        "audience": {"type": "integer"},
        "reached": {"type": "integer"},
        "messages_sent": {"type": "integer"},
        "points_awarded": {"type": "integer"},
        "budget_points": {"type": ["integer", "null"]},
        "currency": {"type": "string"},
        "window": {"type": "object"},
        "target": GROUP,
        "control": GROUP,
        "uplift": {
            "type": "object",
            "description": "Target minus control, per member",
            "properties": {
                "spend_per_member": {"type": "string"},
                "visits_per_member": {"type": "number"},
            },
        },
    },
}
STAGES = {
    "type": "object",
    "required": ["dissatisfied", "stages"],
    "properties": {
        "dissatisfied": {
            "type": "array",
            "description": "Dissatisfied members, most recent first",
            "items": {
                "type": "object",
                "properties": {
                    "member_id": {"type": "string"},
                    "first_name": {"type": "string"},
                    "since": {"type": ["string", "null"]},
                    "last_rating": {"type": ["integer", "null"]},
                },
            },
        },
        "stages": {"type": "object", "additionalProperties": {"type": "integer"}},
        "days": {
            "type": "array",
            "description": "Members who entered each stage per UTC day, the last 30 days",
            "items": {
                "type": "object",
                "properties": {
                    "day": {"type": "string"},
                    "stage": {"type": "string"},
                    "entered": {"type": "integer"},
                },
            },
        },
    },
}
MEMBER_VIEW = {
    "type": "object",
    "required": ["feeds"],
    "properties": {
        "feeds": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "feed": {"type": "string"},
                    "events_applied": {"type": "integer"},
                    "last_event_at": {"type": ["string", "null"]},
                    "applied_at": {"type": ["string", "null"]},
                    "pending": {"type": "integer", "description": "-1: the feed cannot be asked"},
                },
            },
        }
    },
}


def campaigns():
    return current_app.extensions["upstreams"].campaigns


def currency() -> str:
    return current_app.config["LOYALTY"].currency


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
    return {
        "size": preview.size,
        "sample": [
            {"member_id": s.member_id, "first_name": s.first_name, "stage": s.stage, "tier": s.tier}
            for s in preview.sample
        ],
    }


@operation(
    bp,
    "/v1/marketing/segments",
    "POST",
    summary="Create a segment from a rule, or from a list of member ids",
    tag=TAG,
    auth=MARKETER,
    request_schema=SEGMENT_REQUEST,
    example={
        "name": "Unhappy in Tehran",
        "rule": {
            "and": [
                {"attr": "stage", "op": "eq", "value": "dissatisfied"},
                {"attr": "city", "op": "eq", "value": "tehran"},
            ]
        },
    },
    responses={201: ("The segment", SEGMENT), **REFUSED},
)
def create_segment(body: dict):
    if ("rule" in body) == ("member_ids" in body):
        raise Problem(422, "invalid-segment", "give either a rule or member_ids")
    response = campaigns().CreateSegment(
        pb.CreateSegmentRequest(
            name=body["name"],
            rule_json=json.dumps(body["rule"]) if "rule" in body else "",
            member_ids=body.get("member_ids", []),
        ),
        timeout=60,
    )
    return segment_json(response.segment), 201


@operation(
    bp,
    "/v1/marketing/segments",
    "GET",
    summary="All segments",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: (
            "The segments",
            {"type": "object", "properties": {"segments": {"type": "array", "items": SEGMENT}}},
        )
    },
)
def list_segments():
    response = campaigns().ListSegments(pb.ListSegmentsRequest())
    return {"segments": [segment_json(s) for s in response.segments]}


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>",
    "GET",
    summary="One segment",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The segment", SEGMENT), **NOT_FOUND, **REFUSED},
)
def get_segment(segment_id: str):
    response = campaigns().GetSegment(pb.GetSegmentRequest(segment_id=segment_id))
    return segment_json(response.segment)


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>",
    "DELETE",
    summary="Delete a segment that no running, scheduled, paused or draft campaign targets",
    tag=TAG,
    auth=MARKETER,
    responses={
        204: ("Deleted", None),
        409: ("A campaign targets it (`segment-in-use`)", None),
        **NOT_FOUND,
        **REFUSED,
    },
)
def delete_segment(segment_id: str):
    campaigns().DeleteSegment(pb.DeleteSegmentRequest(segment_id=segment_id))
    return "", 204


@operation(
    bp,
    "/v1/marketing/segments/preview",
    "POST",
    summary="How many members a rule selects now, and a sample of them",
    tag=TAG,
    auth=MARKETER,
    request_schema=PREVIEW_REQUEST,
    example={"rule": {"attr": "days_since_last_purchase", "op": "gt", "value": 90}},
    responses={200: ("Size and sample", PREVIEW), **REFUSED},
)
def preview_rule(body: dict):
    response = campaigns().PreviewSegment(
        pb.PreviewSegmentRequest(rule_json=json.dumps(body["rule"])), timeout=30
    )
    return preview_json(response)


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>/preview",
    "GET",
    summary="How many members a segment holds now, and a sample of them",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("Size and sample", PREVIEW), **NOT_FOUND, **REFUSED},
)
def preview_segment(segment_id: str):
    response = campaigns().PreviewSegment(
        pb.PreviewSegmentRequest(segment_id=segment_id), timeout=30
    )
    return preview_json(response)


@operation(
    bp,
    "/v1/marketing/campaigns",
    "POST",
    summary="Create a campaign (a draft until launched)",
    tag=TAG,
    auth=MARKETER,
    request_schema=CAMPAIGN_REQUEST,
    example=CAMPAIGN_EXAMPLE,
    responses={201: ("The campaign", CAMPAIGN), **REFUSED},
)
def create_campaign(body: dict):
    response = campaigns().CreateCampaign(
        pb.CreateCampaignRequest(definition_json=json.dumps(body))
    )
    return campaign_json(response.campaign), 201


@operation(
    bp,
    "/v1/marketing/campaigns",
    "GET",
    summary="All campaigns, newest first",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: (
            "The campaigns",
            {"type": "object", "properties": {"campaigns": {"type": "array", "items": CAMPAIGN}}},
        )
    },
)
def list_campaigns():
    response = campaigns().ListCampaigns(pb.ListCampaignsRequest())
    return {"campaigns": [campaign_json(c) for c in response.campaigns]}


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>",
    "GET",
    summary="One campaign",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The campaign", CAMPAIGN), **NOT_FOUND, **REFUSED},
)
def get_campaign(campaign_id: str):
    response = campaigns().GetCampaign(pb.GetCampaignRequest(campaign_id=campaign_id))
    return campaign_json(response.campaign)


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>",
    "PUT",
    summary="Replace a draft campaign's definition",
    tag=TAG,
    auth=MARKETER,
    request_schema=CAMPAIGN_REQUEST,
    example=CAMPAIGN_EXAMPLE,
    responses={
        200: ("The campaign", CAMPAIGN),
        409: ("The campaign is no longer a draft", None),
        **NOT_FOUND,
        **REFUSED,
    },
)
def update_campaign(campaign_id: str, body: dict):
    response = campaigns().UpdateCampaign(
        pb.UpdateCampaignRequest(campaign_id=campaign_id, definition_json=json.dumps(body))
    )
    return campaign_json(response.campaign)


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>",
    "DELETE",
    summary="Delete a draft campaign",
    tag=TAG,
    auth=MARKETER,
    responses={
        204: ("Deleted", None),
        409: ("Only drafts can be deleted (`campaign-not-draft`)", None),
        **NOT_FOUND,
        **REFUSED,
    },
)
def delete_campaign(campaign_id: str):
    campaigns().DeleteCampaign(pb.DeleteCampaignRequest(campaign_id=campaign_id))
    return "", 204


def _transition(campaign_id: str, action: int) -> dict:
    response = campaigns().ChangeCampaignStatus(
        pb.ChangeCampaignStatusRequest(campaign_id=campaign_id, action=action)
    )
    return campaign_json(response.campaign)


TRANSITION_RESPONSES = {
    200: ("The campaign", CAMPAIGN),
    409: ("Not possible from the campaign's status (`campaign-<status>`)", None),
    **NOT_FOUND,
    **REFUSED,
}


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/launch",
    "POST",
    summary="Launch a draft or paused campaign: scheduled until its start, then active",
    tag=TAG,
    auth=MARKETER,
    responses=TRANSITION_RESPONSES,
)
def launch_campaign(campaign_id: str):
    return _transition(campaign_id, pb.CAMPAIGN_ACTION_LAUNCH)


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/pause",
    "POST",
    summary="Pause a scheduled or active campaign",
    tag=TAG,
    auth=MARKETER,
    responses=TRANSITION_RESPONSES,
)
def pause_campaign(campaign_id: str):
    return _transition(campaign_id, pb.CAMPAIGN_ACTION_PAUSE)


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/end",
    "POST",
    summary="End a campaign for good",
    tag=TAG,
    auth=MARKETER,
    responses=TRANSITION_RESPONSES,
)
def end_campaign(campaign_id: str):
    return _transition(campaign_id, pb.CAMPAIGN_ACTION_END)


def _group(group: pb.GroupFigures, code: str) -> dict:
    return {
        "members": group.members,
        "buyers": group.buyers,
        "visits": group.visits,
        "spend": from_minor(group.spend_minor, code),
        "spend_per_member": from_minor(group.spend_per_member_minor, code),
        "visits_per_member": group.visits_per_member,
    }


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/report",
    "GET",
    summary="Audience, reach, buyers, points against budget, and target against control",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The report", REPORT), **NOT_FOUND, **REFUSED},
)
def campaign_report(campaign_id: str):
    report = campaigns().GetCampaignReport(
        pb.GetCampaignReportRequest(campaign_id=campaign_id), timeout=60
    )
    code = report.currency or currency()
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


@operation(
    bp,
    "/v1/marketing/stages",
    "GET",
    summary="Dissatisfied members first (most recent first), then members per lifecycle stage",
    tag=TAG,
    auth=MARKETER,
    query=[query_param("limit", "How many dissatisfied members to list (default 100)")],
    responses={200: ("The overview", STAGES)},
)
def stages():
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise Problem(400, "invalid-request", "limit must be 1 to 1000", field="limit")
    overview = campaigns().GetStageOverview(pb.GetStageOverviewRequest(limit=int(raw)))
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


@operation(
    bp,
    "/v1/marketing/member-view",
    "GET",
    summary="How far the member view has read each service's events (its lag)",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("Each feed", MEMBER_VIEW)},
)
def member_view():
    response = campaigns().GetMemberViewStatus(pb.GetMemberViewStatusRequest(), timeout=15)
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
