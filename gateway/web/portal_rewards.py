"""`/portal/rewards`: the member's rewards catalog and coupons, made for a phone.

The catalog shows what the member may see, what each costs, the stock left and whether the
member can afford it now; redeeming asks to confirm, and the confirm form carries its own
request id, so a form sent twice redeems once (points answers the first coupon again). The
member's coupons follow, each with its status, expiry and a QR code of its code for the till;
codes are shown exactly as issued, in every language.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, redirect, session

from gateway.clients import clients
from gateway.problems import Problem
from gateway.web import i18n, pages, qr
from gateway.web.forms import field
from gateway.web.portal import HOME, failed_page, notice, problem_notice, signed_in_member

bp = Blueprint("portal_rewards", __name__)
bp.register_error_handler(Problem, failed_page)
bp.before_request(pages.csrf_guard)

REWARDS = "/portal/rewards"
# Coupons whose code the till still takes: shown first, with their QR code.
OPEN = "issued"


def localized(item: dict, name: str) -> str:
    """A reward's or coupon's text in the page's language (Persian when written, else English)."""
    if i18n.current_language() == "fa" and item.get(f"{name}_fa"):
        return item[f"{name}_fa"]
    return item.get(name) or ""


def offered(reward: dict, available: int) -> dict:
    """A reward as the catalog shows it, with whether this member can redeem it now."""
    out_of_stock = reward["stock"] is not None and reward["stock"] <= 0
    limit_reached = reward.get("remaining") == 0
    return {
        **reward,
        "shown_name": localized(reward, "name"),
        "shown_description": localized(reward, "description"),
        "out_of_stock": out_of_stock,
        "limit_reached": limit_reached,
        "affordable": available >= reward["points_cost"],
        "can_redeem": available >= reward["points_cost"] and not out_of_stock and not limit_reached,
    }


def held(coupon: dict) -> dict:
    """A coupon as the member sees it: its name, and a QR code of its code while usable."""
    usable = coupon["status"] == OPEN and coupon["kind"] != "partner_code"
    return {
        **coupon,
        "shown_name": localized(coupon, "name"),
        "qr": qr.inline_svg(coupon["code"], coupon["code"]) if usable else None,
    }


@bp.get(REWARDS)
def catalog() -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return redirect(HOME, 303)
    available = clients().points.balance(member_id)["available"]
    rewards = [offered(r, available) for r in clients().rewards.rewards(member_id)]
    coupons = [held(c) for c in clients().rewards.coupons(member_id)]
    coupons.sort(key=lambda c: c["status"] != OPEN)  # usable first, newest first within
    return pages.page(
        "portal_rewards.html",
        notice=session.pop("portal_notice", None),
        available=available,
        rewards=rewards,
        coupons=coupons,
    )


def _reward(member_id: str, reward_id: str) -> dict | None:
    available = clients().points.balance(member_id)["available"]
    for reward in clients().rewards.rewards(member_id):
        if reward["id"] == reward_id:
            return offered(reward, available)
    return None


@bp.get(f"{REWARDS}/<reward_id>")
def confirm(reward_id: str) -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return redirect(HOME, 303)
    reward = _reward(member_id, reward_id)
    if reward is None:
        return pages.error_page(404, "rewards.not_found", REWARDS)
    return pages.page(
        "portal_reward.html",
        notice=session.pop("portal_notice", None),
        reward=reward,
        request_id=f"web-{uuid.uuid4().hex}",
    )


@bp.post(f"{REWARDS}/<reward_id>/redeem")
def redeem(reward_id: str) -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return redirect(HOME, 303)
    request_id = field("request_id")
    if not request_id:
        return redirect(f"{REWARDS}/{reward_id}", 303)
    try:
        redeemed = clients().rewards.redeem(member_id, reward_id, request_id)
    except Problem as problem:
        problem_notice(problem)
        return redirect(f"{REWARDS}/{reward_id}" if problem.status != 404 else REWARDS, 303)
    notice("ok", "rewards.redeemed")
    coupon = redeemed["coupon"]
    return redirect(f"{REWARDS}#coupon-{coupon['id']}", 303)
