"""`/portal/draws`: the member's prize draws, made for a phone.

The open draws and those the member holds chances in: how chances are earned, the member's
chances, the commitment (the seed's SHA-256) and, once closed, the revealed seed and whether
the member won. A draw that sells chances for points has a form carrying its own request id,
so a form sent twice (a double tap, a reload) spends the points once.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, redirect, session

from gateway.clients import clients
from gateway.problems import Problem
from gateway.web import pages
from gateway.web.forms import field
from gateway.web.portal import HOME, failed_page, notice, problem_notice, signed_in_member

bp = Blueprint("portal_draws", __name__)
bp.register_error_handler(Problem, failed_page)
bp.before_request(pages.csrf_guard)

DRAWS = "/portal/draws"
# The most chances one form buys (the service's own limit).
MAX_CHANCES = 1_000_000


def shown(draw: dict, member_id: str) -> dict:
    """A draw as the member sees it: the prize they won, if any, and whether they may buy."""
    won = next((w["prize"] for w in draw["winners"] if w["member_id"] == member_id), None)
    rules = draw["chances"]
    room = rules["max_per_member"] - draw["my_chances"] if rules["max_per_member"] else MAX_CHANCES
    return {
        **draw,
        "won": won,
        "for_sale": draw["status"] == "open" and rules["points_per_chance"] > 0 and room > 0,
        "room": min(room, MAX_CHANCES),
        "request_id": f"web-{uuid.uuid4().hex}",
    }


@bp.get(DRAWS)
def draws() -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return redirect(HOME, 303)
    currency = current_app.config["LOYALTY"].currency
    found = [shown(d, member_id) for d in clients().campaigns.draws(currency, member_id)]
    return pages.page(
        "portal_draws.html",
        notice=session.pop("portal_notice", None),
        available=clients().points.balance(member_id)["available"],
        draws=found,
    )


@bp.post(f"{DRAWS}/<draw_id>/chances")
def buy(draw_id: str) -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return redirect(HOME, 303)
    request_id, typed = field("request_id"), field("chances")
    if not request_id:
        return redirect(DRAWS, 303)
    if not typed.isdecimal() or not 1 <= int(typed) <= MAX_CHANCES:
        notice("error", "draws.invalid_chances")
        return redirect(f"{DRAWS}#draw-{draw_id}", 303)
    currency = current_app.config["LOYALTY"].currency
    try:
        clients().campaigns.buy_draw_chances(draw_id, member_id, request_id, int(typed), currency)
    except Problem as problem:
        if problem.status >= 500:
            raise
        problem_notice(problem)
        return redirect(f"{DRAWS}#draw-{draw_id}", 303)
    notice("ok", "draws.bought")
    return redirect(f"{DRAWS}#draw-{draw_id}", 303)
