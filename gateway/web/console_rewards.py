"""`/console/rewards` and `/console/points`: the marketer's rewards catalog and points report.

Marketers create rewards of the three kinds (a club coupon, a partner's code from an uploaded
pool, a gift collected at a store), edit them, set their stock, pause and resume them, upload
partner codes (a CSV file or a pasted list; the duplicates points refuses are listed) and read
each reward's figures. The points report shows, per day, the points spent on rewards, and the
coupons outstanding. Every page is the points service's own calls through `gateway.clients`,
so points judges a form exactly as it judges the JSON API.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request

from gateway.clients import clients
from gateway.problems import Problem
from gateway.web import console, i18n, pages
from gateway.web.console import (
    FormError,
    coupon_terms,
    failed,
    names,
    notice,
    shown_notice,
    stage_name,
    whole,
)
from gateway.web.forms import field

bp = Blueprint("console_rewards", __name__)
bp.before_request(pages.csrf_guard)
bp.before_request(console.require_marketer)
bp.register_error_handler(Problem, console.failed_page)

REWARDS = "/console/rewards"
POINTS = "/console/points"
KINDS = ("coupon", "partner_code", "gift")
TEXTS = ("name", "name_fa", "description", "description_fa")
# Shown, with their duplicates, after an upload: the rest are counted.
SHOWN_DUPLICATES = 20
REPORT_DAYS = 30


def reward_fields() -> dict[str, Any]:
    """The fields the create and edit forms share, as the JSON API names them."""
    body: dict[str, Any] = {name: request.form.get(name, "").strip() for name in TEXTS}
    cost = whole("points_cost", "rewards.points_cost")
    if cost is None:
        raise FormError("error.whole-number", field=i18n.translate("rewards.points_cost"))
    body["points_cost"] = cost
    # An empty stock is unlimited; an empty limit or validity is none.
    body["stock"] = whole("stock", "rewards.stock_field")
    body["per_member_limit"] = whole("per_member_limit", "rewards.per_member_limit")
    body["valid_days"] = whole("valid_days", "rewards.valid_days")
    return body


def visibility() -> dict[str, list[str]]:
    """Who sees the reward: members in any of these segments, stages or tiers; none: all."""
    return {
        "segment_ids": request.form.getlist("segment_ids"),
        "stages": request.form.getlist("stages"),
        "tiers": names("tiers"),
    }


def actor() -> str:
    caller = console.signed_in_staff()
    return caller.actor if caller else ""


def catalog_page(status: int = 200, **context: Any) -> Response:
    context.setdefault("notice", shown_notice())
    return pages.page(
        "console_rewards.html",
        status,
        rewards=clients().rewards.rewards(),
        segments=clients().campaigns.segments(),
        stages=[
            (stage, stage_name(stage)) for stage in clients().campaigns.stage_overview(1)["stages"]
        ],
        kinds=[(kind, i18n.translate(f"reward_kind.{kind}")) for kind in KINDS],
        currency=current_app.config["LOYALTY"].currency,
        form=request.form,
        **context,
    )


@bp.get(REWARDS)
def catalog() -> Response:
    return catalog_page()


@bp.post(REWARDS)
def create() -> Response:
    try:
        body = {"kind": field("kind"), **reward_fields(), "visibility": visibility()}
        if body["kind"] == "coupon":
            body["coupon"] = coupon_terms("coupon_")
            body["coupon"].pop("valid_days", None)
        made = clients().rewards.create_reward(body, actor())
    except (FormError, Problem) as error:
        return catalog_page(422, notice=failed(error))
    notice("ok", "rewards.created")
    return redirect(f"{REWARDS}/{made['id']}", 303)


def _find(reward_id: str) -> dict:
    for reward in clients().rewards.rewards():
        if reward["id"] == reward_id:
            return reward
    raise Problem(404, "reward-not-found", "no such reward")


def reward_page(reward_id: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("notice", shown_notice())
    return pages.page(
        "console_reward.html",
        status,
        reward=_find(reward_id),
        currency=current_app.config["LOYALTY"].currency,
        **context,
    )


@bp.get(f"{REWARDS}/<reward_id>")
def reward(reward_id: str) -> Response:
    return reward_page(reward_id)


@bp.post(f"{REWARDS}/<reward_id>")
def edit(reward_id: str) -> Response:
    try:
        clients().rewards.update_reward(reward_id, reward_fields(), actor())
    except (FormError, Problem) as error:
        return reward_page(reward_id, 422, notice=failed(error))
    notice("ok", "rewards.saved")
    return redirect(f"{REWARDS}/{reward_id}", 303)


@bp.post(f"{REWARDS}/<reward_id>/<any(pause, resume):action>")
def pause_or_resume(reward_id: str, action: str) -> Response:
    status = "paused" if action == "pause" else "active"
    clients().rewards.update_reward(reward_id, {"status": status}, actor())
    notice("ok", f"rewards.{status}")
    return redirect(f"{REWARDS}/{reward_id}", 303)


def uploaded_codes() -> list[str]:
    """The codes of the uploaded CSV file (its first column; a `code` heading is skipped) and
    of the pasted list (one a line, or separated by commas), in their order, as typed."""
    codes: list[str] = []
    upload = request.files.get("codes_file")
    if upload is not None and upload.filename:
        text = upload.read().decode("utf-8-sig", errors="replace")
        for row in csv.reader(io.StringIO(text)):
            cell = row[0].strip() if row else ""
            if cell and not (not codes and cell.lower() == "code"):
                codes.append(cell)
    pasted = request.form.get("codes_text", "")
    codes.extend(part.strip() for part in pasted.replace(",", "\n").splitlines() if part.strip())
    return codes


@bp.post(f"{REWARDS}/<reward_id>/codes")
def upload_codes(reward_id: str) -> Response:
    codes = uploaded_codes()
    if not codes:
        notice("error", "rewards.no_codes")
        return redirect(f"{REWARDS}/{reward_id}#codes", 303)
    try:
        added = clients().rewards.add_codes(reward_id, codes)
    except Problem as problem:
        return reward_page(reward_id, 422, notice=failed(problem))
    duplicates = added["duplicates"]
    return reward_page(
        reward_id,
        notice={
            "kind": "error" if duplicates else "ok",
            "key": "rewards.codes_added",
            "text": "",
            "values": {"added": added["added"], "duplicates": len(duplicates)},
        },
        duplicates=duplicates[:SHOWN_DUPLICATES],
        more_duplicates=max(len(duplicates) - SHOWN_DUPLICATES, 0),
    )


@bp.get(POINTS)
def points_report() -> Response:
    last = date.today()
    first = last - timedelta(days=REPORT_DAYS - 1)
    found = clients().points.report(first.isoformat(), last.isoformat())
    days = [day for day in found["days"] if any(v for k, v in day.items() if k != "day")]
    top = max((day.get("rewards", 0) for day in days), default=0)
    return pages.page(
        "console_points.html",
        notice=shown_notice(),
        report=found,
        days=list(reversed(days)),
        top=top,
    )
