"""`/desk`: the support desk, one page per member for the agent on the phone.

An agent finds a member by phone (any format, Persian or Arabic digits), card number, e-mail,
the text of their QR code or the start of their name (Persian and Arabic letters alike), and
sees on one page their profile (phone and e-mail masked: revealing them is recorded),
consents, tier, points, ledger, merges, messages sent and what staff did to them. From there:
adjust points with a reason, merge a duplicate after a preview of the two side by side, erase
on a typed confirmation, take the data export. Every action is the JSON API's own client call,
with the agent as its actor in the audit trail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, current_app, redirect, request

from gateway.auth import Caller
from gateway.clients import Clients, clients
from gateway.members import audit_trail, export_member, member_referral
from gateway.problems import Problem
from gateway.schemas import CASE_CHANNELS, CASE_KINDS
from gateway.web import i18n, pages
from gateway.web.console import notice, problem_text, signed_in_staff
from gateway.web.forms import field, typed_identifier
from gateway.web.staff_pages import room_guard, staff_page, with_names

bp = Blueprint("desk", __name__)
bp.before_request(pages.csrf_guard)
bp.before_request(room_guard("support", "desk.forbidden"))

T = TypeVar("T")
HOME = "/desk"
MEMBERS = f"{HOME}/members"
LEDGER_LINES = 20
# A lookup the agent typed wrong, or that names nobody: said on the page, not an error page.
NOT_FOUND = (400, 404, 422)


@bp.errorhandler(Problem)
def _failed_page(problem: Problem) -> Response:
    if problem.status == 404:
        return pages.error_page(404, "desk.not_found", HOME)
    if problem.status >= 500:
        return pages.error_page(problem.status, "error.unavailable", HOME)
    return pages.error_page(problem.status, "console.failed", HOME)


def agent() -> Caller:
    caller = signed_in_staff()
    assert caller is not None  # the room's guard let them in
    return caller


def member_path(member_id: str) -> str:
    return f"{MEMBERS}/{member_id}"


def told(action: Callable[[], T]) -> T | None:
    """The action's answer; or None, its refusal told on the next page (the suite failing is
    an error page)."""
    try:
        return action()
    except Problem as problem:
        if problem.status >= 500:
            raise
        notice("error", text=problem_text(problem))
        return None


QUEUE = 100


@bp.get(HOME)
def home() -> Response:
    return staff_page("desk.html", queue=clients().campaigns.cases(status="open", limit=QUEUE))


def found_member(typed: str) -> dict | None:
    """The member an identifier names (a merged duplicate's survivor), or None."""
    identifier = typed_identifier(typed, emails=True)
    if identifier is None:
        return None
    try:
        return clients().identity.identify(*identifier)
    except Problem as problem:
        if problem.status in NOT_FOUND:
            return None
        raise


def named(typed: str) -> list[dict]:
    """The members whose first or last name starts with what was typed."""
    try:
        return clients().identity.search(typed)
    except Problem as problem:
        if problem.status in NOT_FOUND:
            return []
        raise


@bp.post(f"{HOME}/search")
def search() -> Response:
    typed = field("query")
    member = found_member(typed)
    # Not an identifier: the start of a name.
    matches = [member] if member else named(typed)
    if not matches:
        notice("error", "desk.no_match")
        return redirect(HOME, 303)
    if len(matches) == 1:
        return redirect(member_path(matches[0]["id"]), 303)
    return staff_page("desk.html", matches=matches, query=typed, queue=[])


def member_page(member_id: str, status: int = 200, **context: object) -> Response:
    c = clients()
    member = c.identity.member(member_id)
    survivor = member["id"]
    # The export's merges and messages only: its profile, in full, is not shown.
    document = c.identity.export(survivor)
    erased = document["member"].get("erased_at") is not None
    activity = c.points.activity(survivor, LEDGER_LINES, "")["items"]
    stores = c.identity.store_names({line["store_id"] for line in activity if line["store_id"]})
    # A ledger posting names its till transaction, whose store the activity line knows.
    till_stores = {
        line["reference"]: stores.get(line["store_id"], "")
        for line in activity
        if line["reference"] and line["store_id"]
    }
    return staff_page(
        "desk_member.html",
        status,
        member=member,
        points=c.points.balance(survivor),
        ledger=c.points.ledger(survivor, LEDGER_LINES, "")["items"],
        activity=activity,
        stores=stores,
        till_stores=till_stores,
        merges=document["merges"],
        messages=document["messages"],
        trail=with_names(audit_trail(c, survivor)),
        # Points refuses an erased member's coupons; asking identity for an erased member's
        # referral code would hand them one.
        coupons=[] if erased else c.rewards.coupons(survivor),
        referral=None if erased else member_referral(c, survivor),
        missions=[] if erased else member_missions(c, survivor),
        draws=[] if erased else member_draws(c, survivor),
        profile=c.campaigns.member_profile(survivor),
        cases=c.campaigns.cases(member_id=survivor),
        case_kinds=CASE_KINDS,
        case_channels=CASE_CHANNELS,
        case_id=str(uuid.uuid4()),
        adjustment_id=str(uuid.uuid4()),
        erased=erased,
        **context,
    )


def member_missions(c: Clients, member_id: str) -> list[dict]:
    """The missions the member is in, their figures as pages show them."""
    found = c.campaigns.missions(member_id)
    for mission in found:
        mission.update(i18n.mission_figures(mission))
    return found


def member_draws(c: Clients, member_id: str) -> list[dict]:
    """The draws the member holds chances in or won, with what they won (`won`: the prizes)."""
    shown = []
    for draw in c.campaigns.draws(current_app.config["LOYALTY"].currency, member_id):
        draw["won"] = [w["prize"] for w in draw.get("winners") or [] if w["member_id"] == member_id]
        if draw["my_chances"] or draw["won"]:
            shown.append(draw)
    return shown


@bp.get(f"{MEMBERS}/<member_id>")
def member(member_id: str) -> Response:
    return member_page(member_id)


@bp.post(f"{MEMBERS}/<member_id>/reveal")
def reveal(member_id: str) -> Response:
    return member_page(member_id, revealed=clients().identity.reveal(member_id, agent().actor))


@bp.post(f"{MEMBERS}/<member_id>/adjustments")
def adjust(member_id: str) -> Response:
    typed = field("points").replace("−", "-")
    reason = " ".join(request.form.get("reason", "").split())
    if not typed.lstrip("-").isdecimal() or int(typed) == 0:
        notice("error", "desk.points_whole")
    elif not reason:
        notice("error", "desk.reason_required")
    else:
        adjusted = told(
            lambda: clients().points.adjust(
                field("adjustment_id") or str(uuid.uuid4()),
                member_id,
                int(typed),
                reason,
                agent().actor,
            )
        )
        if adjusted is not None:
            notice("ok", "desk.adjusted", available=adjusted["available"])
    return redirect(member_path(member_id), 303)


@bp.post(f"{MEMBERS}/<member_id>/cases")
def open_case(member_id: str) -> Response:
    details = {
        "kind": field("kind"),
        "channel": field("channel"),
        "category": request.form.get("category", ""),
        "text": request.form.get("text", ""),
    }
    opened = told(
        lambda: clients().campaigns.open_case(
            field("case_id") or str(uuid.uuid4()), member_id, details, agent().actor
        )
    )
    if opened is not None:
        notice("ok", "desk.case_recorded")
    return redirect(member_path(member_id), 303)


@bp.post(f"{HOME}/cases/<case_id>/resolve")
def resolve_case(case_id: str) -> Response:
    resolved = clients().campaigns.resolve_case(
        case_id, request.form.get("resolution", ""), agent().actor
    )
    notice("ok", "desk.case_resolved")
    return redirect(member_path(resolved["member_id"]), 303)


@bp.post(f"{MEMBERS}/<member_id>/coupons/<code>/cancellation")
def cancel_coupon(member_id: str, code: str) -> Response:
    reason = " ".join(request.form.get("reason", "").split())
    if not reason:
        notice("error", "desk.reason_required")
        return redirect(member_path(member_id), 303)
    cancelled = told(lambda: clients().rewards.cancel(code, agent().actor, reason))
    if cancelled is not None:
        notice("ok", "desk.coupon_cancelled", points=cancelled["points_returned"])
    return redirect(member_path(member_id), 303)


@bp.post(f"{MEMBERS}/<member_id>/merge/preview")
def merge_preview(member_id: str) -> Response:
    c = clients()
    survivor = c.identity.member(member_id)
    duplicate = found_member(field("duplicate"))
    if duplicate is None or duplicate["id"] == survivor["id"]:
        notice("error", "desk.no_duplicate")
        return redirect(member_path(member_id), 303)
    return staff_page(
        "desk_merge.html",
        survivor=survivor,
        duplicate=duplicate,
        survivor_points=c.points.balance(survivor["id"]),
        duplicate_points=c.points.balance(duplicate["id"]),
    )


@bp.post(f"{MEMBERS}/<member_id>/merge")
def merge(member_id: str) -> Response:
    try:
        merged = clients().identity.merge(member_id, field("duplicate_id"), agent().actor)
    except Problem as problem:
        if problem.status >= 500:
            raise
        notice("error", text=problem_text(problem))
        return redirect(member_path(member_id), 303)
    notice("ok", "desk.merged", available=merged["available_points"])
    return redirect(member_path(merged["survivor"]["id"]), 303)


@bp.post(f"{MEMBERS}/<member_id>/erasure")
def erase(member_id: str) -> Response:
    member = clients().identity.member(member_id)
    if field("confirm").replace(" ", "") != member["card_number"]:
        notice("error", "desk.erase_confirm")
        return redirect(member_path(member_id), 303)
    clients().identity.erase(member["id"], agent().actor)
    notice("ok", "desk.erased")
    return redirect(member_path(member["id"]), 303)


@bp.post(f"{MEMBERS}/<member_id>/export")
def export(member_id: str) -> Response:
    document = export_member(clients(), member_id, agent().actor)
    answer = Response(
        json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    survivor = document["identity"]["member"]["id"]
    answer.headers["Content-Disposition"] = f'attachment; filename="member-{survivor}.json"'
    return answer
