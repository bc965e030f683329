"""Set-up done by the admin: stores (their POS keys are in `pos_keys`), points by hand, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, g, request

from gateway.api import operation, query_param
from gateway.clients import clients
from gateway.csv_export import CSV_FILE, csv_response
from gateway.members import audit_trail
from gateway.problems import Problem
from services.runtime.points_limits import MAX_POINTS
from services.runtime.staff_actions import ACTIONS

bp = Blueprint("admin", __name__)

STORE_REQUEST = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
}
STORE = {
    "type": "object",
    "required": ["id", "name", "closed_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


@operation(
    bp,
    "/v1/admin/stores",
    "POST",
    summary="Create a store",
    tag="admin",
    auth="admin",
    request_schema=STORE_REQUEST,
    example={"name": "Tehran - Valiasr"},
    responses={
        201: ("The store", STORE),
        422: ("The name is blank once trimmed", None),
    },
)
def create_store(body: dict):
    return clients().identity.create_store(body["name"], g.caller.actor), 201


STORES = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": STORE}},
}
AUDIT_ENTRY = {
    "type": "object",
    "required": ["at", "actor", "action", "member_id", "subject", "detail"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "actor": {"type": "string", "description": "`staff:<id>`, `admin-token` or `cli`"},
        "action": {"type": "string", "enum": list(ACTIONS)},
        "member_id": {"type": "string", "description": "Empty when not about a member"},
        "subject": {"type": "string", "description": "The store, key or staff account"},
        "detail": {"type": "string"},
    },
}
AUDIT = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": AUDIT_ENTRY}},
}


@operation(
    bp,
    "/v1/admin/stores",
    "GET",
    summary="Every store, by name",
    tag="admin",
    auth="admin",
    responses={200: ("The stores", STORES)},
)
def list_stores():
    return {"items": clients().identity.stores()}


@operation(
    bp,
    "/v1/admin/stores/<store_id>/name",
    "PUT",
    summary="Rename a store",
    tag="admin",
    auth="admin",
    request_schema=STORE_REQUEST,
    example={"name": "Tehran - Valiasr 2"},
    responses={
        200: ("The store", STORE),
        404: ("No such store", None),
        422: ("The name is blank once trimmed", None),
    },
)
def rename_store(store_id: str, body: dict):
    return clients().identity.rename_store(store_id, body["name"], g.caller.actor)


@operation(
    bp,
    "/v1/admin/stores/<store_id>/close",
    "POST",
    summary="Close a store: its POS keys stop working at once and it gets no new one",
    tag="admin",
    auth="admin",
    responses={
        200: ("The closed store (closing again answers the same)", STORE),
        404: ("No such store", None),
    },
)
def close_store(store_id: str):
    store, revoked = clients().identity.close_store(store_id, g.caller.actor)
    for key_hash in revoked:
        current_app.extensions["pos_keys"].forget(key_hash)
    return store


@operation(
    bp,
    "/v1/admin/audit",
    "GET",
    summary="The audit trail of staff actions, newest first: of one member, or every one",
    tag="admin",
    auth="admin",
    query=[
        query_param(
            "member_id",
            "Only this member's (with their adjustments and merged duplicates)",
            {"type": "string"},
        )
    ],
    responses={
        200: ("The actions", AUDIT),
        404: ("No such member", None),
        422: ("member_id is not a member id", None),
    },
)
def audit():
    member_id = request.args.get("member_id", "")
    if member_id:
        return {"items": audit_trail(clients(), member_id)}
    return {"items": clients().identity.staff_actions("", 200)}


INBOUND_SMS = {
    "type": "object",
    "required": ["from", "text"],
    "properties": {
        "from": {"type": "string", "minLength": 1, "maxLength": 32, "description": "The sender"},
        "text": {"type": "string", "maxLength": 1000},
    },
}
INBOUND_SMS_OUTCOME = {
    "type": "object",
    "required": ["outcome"],
    "properties": {
        "outcome": {"type": "string", "enum": ["opted-out", "not-an-opt-out", "unknown-sender"]}
    },
}


@operation(
    bp,
    "/v1/admin/sms/inbound",
    "POST",
    summary="An SMS a member sent the club: an opt-out («لغو۱۱», stop) withdraws SMS consent",
    tag="admin",
    auth="admin",
    request_schema=INBOUND_SMS,
    example={"from": "+989121234567", "text": "لغو۱۱"},
    responses={
        200: ("What the reply did; sending it again does nothing more", INBOUND_SMS_OUTCOME)
    },
)
def inbound_sms(body: dict):
    return {"outcome": clients().identity.receive_sms(body["from"], body["text"])}


JOBS = {
    "type": "object",
    "properties": {
        "points_activated": {"type": "integer"},
        "points_expired": {"type": "integer"},
        "holds_expired": {"type": "integer"},
        "tiers_reviewed": {"type": "integer"},
        "bonuses_applied": {"type": "integer"},
    },
}


@operation(
    bp,
    "/v1/admin/points/jobs",
    "POST",
    summary="Run the ledger jobs now: activate due pending points, expire due points and holds",
    tag="admin",
    auth="admin",
    responses={200: ("What the jobs moved", JOBS)},
)
def run_jobs():
    return clients().points.run_jobs()


# Older integrations send who made the change; it is taken from the caller's credential instead.
IGNORED_STAFF_USER = {
    "type": "string",
    "maxLength": 100,
    "deprecated": True,
    "description": "Ignored: the audit trail records the caller (`staff:<id>` or `admin-token`)",
}
ADJUSTMENT_REQUEST = {
    "type": "object",
    "required": ["adjustment_id", "points", "reason"],
    "properties": {
        "adjustment_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "Your own id: a retry with the same id is applied once",
        },
        "points": {
            "type": "integer",
            "minimum": -MAX_POINTS,
            "maximum": MAX_POINTS,
            "description": "Positive credits (available at once), negative debits",
        },
        "reason": {"type": "string", "minLength": 1, "maxLength": 200},
        "staff_user": IGNORED_STAFF_USER,
    },
}
TRANSFER_REQUEST = {
    "type": "object",
    "required": ["transfer_id", "from_member_id", "to_member_id", "points", "reason"],
    "properties": {
        "transfer_id": {"type": "string", "minLength": 1, "maxLength": 100},
        "from_member_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "to_member_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "points": {"type": "integer", "minimum": 1, "maximum": MAX_POINTS},
        "reason": {"type": "string", "minLength": 1, "maxLength": 200},
        "staff_user": IGNORED_STAFF_USER,
    },
}
ADJUSTMENT = {
    "type": "object",
    "required": ["id", "member_id", "points", "available"],
    "properties": {
        "id": {"type": "string"},
        "member_id": {"type": "string"},
        "to_member_id": {"type": "string"},
        "points": {"type": "integer"},
        "available": {"type": "integer"},
        "to_available": {"type": "integer"},
    },
}


def _member(member_id: str, field: str) -> str:
    """The member's canonical id, or 422 naming the field."""
    try:
        return clients().identity.member(member_id)["id"]
    except Problem as problem:
        if problem.status == 404:
            raise Problem(422, "unknown-member", f"no member with this {field}") from None
        raise


@operation(
    bp,
    "/v1/admin/members/<member_id>/adjustments",
    "POST",
    summary="Credit or debit a member's points by hand, with a reason",
    tag="admin",
    auth="admin",
    request_schema=ADJUSTMENT_REQUEST,
    example={
        "adjustment_id": "ADJ-1",
        "points": 200,
        "reason": "goodwill: late delivery",
    },
    responses={
        201: ("The adjustment; a retry with the same body gets the same answer", ADJUSTMENT),
        404: ("No such member", None),
        422: ("Not enough points to debit, or adjustment_id reused", None),
    },
)
def adjust(member_id: str, body: dict):
    member = clients().identity.member(member_id)
    adjusted = clients().points.adjust(
        body["adjustment_id"], member["id"], body["points"], body["reason"], g.caller.actor
    )
    return adjusted, 201


@operation(
    bp,
    "/v1/admin/transfers",
    "POST",
    summary="Move points between members; each part keeps its expiry date",
    tag="admin",
    auth="admin",
    request_schema=TRANSFER_REQUEST,
    example={
        "transfer_id": "TR-1",
        "from_member_id": "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10",
        "to_member_id": "0b9d3f6e-4a1c-4d2b-8e7f-1a2b3c4d5e6f",
        "points": 150,
        "reason": "family account",
    },
    responses={
        201: ("The transfer; a retry with the same body gets the same answer", ADJUSTMENT),
        422: ("Unknown member, not enough points, or transfer_id reused", None),
    },
)
def transfer(body: dict):
    transferred = clients().points.transfer(
        body["transfer_id"],
        _member(body["from_member_id"], "from_member_id"),
        _member(body["to_member_id"], "to_member_id"),
        body["points"],
        body["reason"],
        g.caller.actor,
    )
    return transferred, 201


DAY = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
POINTS_REPORT = {
    "type": "object",
    "required": ["liability", "coupons_outstanding", "days"],
    "properties": {
        "coupons_outstanding": {
            "type": "integer",
            "description": "Coupons issued and neither used, expired nor cancelled now",
        },
        "liability": {
            "type": "object",
            "properties": {
                "available": {"type": "integer"},
                "pending": {"type": "integer"},
                "held": {"type": "integer"},
                "debt": {"type": "integer"},
                "value": {"type": "string", "description": "Money value at POINTS_VALUE"},
                "currency": {"type": "string"},
            },
        },
        "days": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "day": {"type": "string", "format": "date"},
                    "earned": {"type": "integer"},
                    "reversed": {"type": "integer"},
                    "redeemed": {"type": "integer"},
                    "expired": {"type": "integer"},
                    "adjusted": {"type": "integer"},
                    "opened": {"type": "integer"},
                    "outstanding": {
                        "type": "integer",
                        "description": "Points owed at the day's end: available, pending, held",
                    },
                    "outstanding_value": {
                        "type": "string",
                        "description": "Its value at POINTS_VALUE",
                    },
                    "rewards": {
                        "type": "integer",
                        "description": "Of redeemed, spent on rewards (less points returned)",
                    },
                },
            },
        },
    },
}


PERIOD = [
    query_param("from", "First UTC day, YYYY-MM-DD (default: 30 days ago)", DAY),
    query_param("to", "Last UTC day, YYYY-MM-DD (default: today)", DAY),
]


@operation(
    bp,
    "/v1/admin/reports/points",
    "GET",
    summary="Points liability and coupons outstanding now, and points earned, reversed,"
    " redeemed (on rewards), expired per day",
    tag="admin",
    auth="admin",
    query=PERIOD,
    responses={
        200: ("The report", POINTS_REPORT),
        422: ("The period runs backwards or spans more than 366 days", None),
    },
)
def points_report():
    first, last = _period()
    return clients().points.report(first, last)


def _period() -> tuple[str, str]:
    """The `from` and `to` days asked for: the last 30 days by default."""
    today = datetime.now(UTC).date()
    first = request.args.get("from") or (today - timedelta(days=30)).isoformat()
    return first, request.args.get("to") or today.isoformat()


LEDGER_COLUMNS = (
    "posted_at",
    "posting_id",
    "entry_id",
    "kind",
    "reason",
    "source_type",
    "source_id",
    "account",
    "member_id",
    "bucket",
    "points",
)
LIABILITY_COLUMNS = (
    "day",
    "earned",
    "reversed",
    "redeemed",
    "expired",
    "adjusted",
    "opened",
    "outstanding",
    "outstanding_value",
    "currency",
)


@operation(
    bp,
    "/v1/admin/exports/ledger.csv",
    "GET",
    summary="The points ledger over a period, an entry per line, for accounting",
    tag="admin",
    auth="admin",
    query=PERIOD,
    media_type="text/csv",
    responses={
        200: ("The entries of the postings made over the period, in the order written", CSV_FILE),
        422: ("The period runs backwards or spans more than 366 days", None),
    },
)
def ledger_export():
    first, last = _period()
    entries = clients().points.book_entries(first, last)
    return csv_response(LEDGER_COLUMNS, entries, f"ledger-{first}-{last}.csv")


@operation(
    bp,
    "/v1/admin/exports/liability.csv",
    "GET",
    summary="Points moved and points owed (with their value) per day, for accounting",
    tag="admin",
    auth="admin",
    query=PERIOD,
    media_type="text/csv",
    responses={
        200: ("One line per day of the period", CSV_FILE),
        422: ("The period runs backwards or spans more than 366 days", None),
    },
)
def liability_export():
    first, last = _period()
    report = clients().points.report(first, last)
    currency = report["liability"]["currency"]
    days = ({**day, "currency": currency} for day in report["days"])
    return csv_response(LIABILITY_COLUMNS, days, f"liability-{first}-{last}.csv")
