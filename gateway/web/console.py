"""`/console`: the marketer's pages.

Staff sign in with e-mail and password (the same throttled login as `POST /v1/staff/login`, the
same `loyalty_session` cookie); only the roles the marketing API admits (marketer, admin) see the
pages, anyone else signed in gets 403. Every page is the marketing API's own calls of
`gateway.clients.campaigns`: the console composes a segment rule or a campaign definition
from a form and the campaigns service judges it exactly as it judges the JSON API's.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, redirect, request, session

from gateway.auth import (
    GUARDS,
    SESSION_COOKIE,
    SESSION_PREFIX,
    Caller,
    clear_session_cookie,
    set_session_cookie,
)
from gateway.clients import clients
from gateway.clients.campaigns import ACTIONS, KIND_FIELDS, KINDS, kinds_giving
from gateway.logins import log_in_staff, log_out
from gateway.problems import Problem
from gateway.web import console_text, i18n, pages
from gateway.web.forms import amount_field, field, money_field
from gateway.web.glance import club_at_a_glance
from services.runtime.jalali import typed_moment

bp = Blueprint("console", __name__)
bp.before_request(pages.csrf_guard)
i18n.MESSAGES.update(console_text.MESSAGES)

HOME = "/console"
SIGN_IN = f"{HOME}/sign-in"
SEGMENTS = f"{HOME}/segments"
CAMPAIGNS = f"{HOME}/campaigns"
FEEDBACK = f"{HOME}/feedback"
FEEDBACK_SHOWN = 200
# Endpoints anyone may open: the sign-in page and its form.
OPEN = frozenset({"console.sign_in_form", "console.sign_in"})
# The builder's fields that only some kinds of campaign give.
BUILDER_FIELDS = ("multiplier", "points", "min_spend", "categories", "coupon", "goal")
# A mission's goals and periods, in the order the builder offers them.
MISSION_METRICS = (
    "purchases",
    "spend",
    "category_purchases",
    "feedback",
    "referrals",
    "profile_complete",
)
MISSION_PERIODS = ("month", "week", "once")
SAMPLE = 5


class FormError(Exception):
    """A form value the console cannot even put into a request (a word where a number goes)."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def signed_in_staff() -> Caller | None:
    """The staff member this browser's session cookie stands for, or None."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token.startswith(SESSION_PREFIX):
        return None
    try:
        caller: Caller = current_app.extensions["sessions"].resolve(token)
    except Problem as problem:
        if problem.status != 401:
            raise
        return None
    return caller if caller.kind == "staff" else None


def admitted(caller: Caller | None) -> bool:
    return caller is not None and caller.grant in GUARDS["marketing"]


@bp.before_request
def require_marketer() -> Response | None:
    if request.endpoint in OPEN:
        return None
    caller = signed_in_staff()
    if caller is None:
        return redirect(SIGN_IN, 303)
    if not admitted(caller):
        return pages.error_page(403, "console.forbidden", SIGN_IN)
    return None


def notice(kind: str, key: str = "", text: str = "", **values: Any) -> None:
    session["console_notice"] = {"kind": kind, "key": key, "text": text, "values": values}


def shown_notice() -> dict | None:
    return session.pop("console_notice", None)


def problem_text(problem: Problem) -> str:
    """What a marketer reads for a refused request: the service's own words for a bad value."""
    key, text = pages.problem_words(problem)
    return i18n.translate(key) if key else text


def failed(error: FormError | Problem) -> dict:
    """The notice for a FormError, or a Problem (a refused call to a service among them)."""
    if isinstance(error, FormError):
        return {"kind": "error", "key": error.key, "text": "", "values": error.values}
    return {"kind": "error", "key": "", "text": problem_text(error), "values": {}}


@bp.errorhandler(Problem)
def failed_page(problem: Problem) -> Response:
    if problem.status == 404:
        return pages.error_page(404, "console.not_found", HOME)
    if problem.status >= 500:
        return pages.error_page(problem.status, "error.unavailable", HOME)
    return pages.error_page(problem.status, "console.failed", HOME)


# Sign-in and sign-out


@bp.get(SIGN_IN)
def sign_in_form() -> Response:
    if admitted(signed_in_staff()):
        return redirect(HOME, 303)
    return pages.page("console_sign_in.html", notice=shown_notice())


@bp.post(SIGN_IN)
def sign_in() -> Response:
    email = field("email")
    # The password exactly as typed: no digit folding, no trimming.
    password = request.form.get("password", "")
    if not email or not password:
        notice("error", "console.bad_login")
        return redirect(SIGN_IN, 303)
    try:
        grant = log_in_staff(email, password)
    except Problem as problem:
        if problem.status >= 500:
            raise
        notice("error", "console.throttled" if problem.status == 429 else "console.bad_login")
        return redirect(SIGN_IN, 303)
    answer = redirect(HOME, 303)
    set_session_cookie(answer, grant.token, grant.ends)
    # A new page token for the signed-in pages.
    session.pop("csrf", None)
    return answer


@bp.post(f"{HOME}/sign-out")
def sign_out() -> Response:
    with contextlib.suppress(Problem):
        log_out(request.cookies.get(SESSION_COOKIE, ""))
    answer = redirect(SIGN_IN, 303)
    clear_session_cookie(answer)
    session.pop("csrf", None)
    return answer


# Figures as pages show them


def money(amount: str) -> tuple[float, str]:
    """A decimal amount as a number for a bar and as text: `1250000` → `1,250,000`."""
    try:
        return float(Decimal(amount)), i18n.money(amount)
    except InvalidOperation:
        return 0.0, amount


def bars(rows: list[tuple[str, float, str]], tones: tuple[str, ...] = ()) -> list[dict]:
    """Bar lengths in percent of the longest: (label, value, value as shown) per bar."""
    top = max((value for _, value, _ in rows), default=0)
    return [
        {
            "label": label,
            "shown": shown,
            "percent": round(max(value, 0) * 100 / top, 1) if top > 0 else 0,
            "tone": tones[i] if i < len(tones) else "",
        }
        for i, (label, value, shown) in enumerate(rows)
    ]


def visits_shown(group: dict) -> str:
    return i18n.number(f"{group['visits_per_member']:.3g}")


def stage_name(stage: str) -> str:
    key = f"stage.{stage}"
    return i18n.translate(key) if i18n.has_message(key) else stage


# The lifecycle overview


@bp.get(HOME)
def overview() -> Response:
    glance = club_at_a_glance(clients(), ZoneInfo(current_app.config["LOYALTY"].timezone))
    found = clients().campaigns.stage_overview(100)
    stages = bars(
        [
            (stage_name(stage), members, i18n.number(members))
            for stage, members in found["stages"].items()
        ]
    )
    return pages.page(
        "console_stages.html",
        notice=shown_notice(),
        dissatisfied=found["dissatisfied"],
        stages=stages,
        accounting=signed_in_staff().grant in GUARDS["admin"],
        glance=glance,
    )


@bp.get(FEEDBACK)
def feedback() -> Response:
    """What members said, newest first: the rating and the comment as they wrote it."""
    return pages.page(
        "console_feedback.html",
        notice=shown_notice(),
        feedback=clients().campaigns.feedback(FEEDBACK_SHOWN),
    )


# Segments


def names(name: str) -> list[str]:
    """`a, b،c` → ["a", "b", "c"]: commas, Persian commas."""
    return [part.strip() for part in field(name).replace("،", ",").split(",") if part.strip()]


def whole(name: str, label: str) -> int | None:
    text = field(name)
    if not text:
        return None
    if not text.isdecimal():
        raise FormError("error.whole-number", field=i18n.translate(label).split(" (")[0])
    return int(text)


def composed_rule() -> Any:
    """The rule the form describes: the JSON as typed, else the fields joined with `and`."""
    raw = request.form.get("rule_json", "").strip()
    if raw:
        try:
            return json.loads(raw)
        except ValueError:
            raise FormError("error.rule-json") from None
    conditions: list[dict] = []

    def condition(attr: str, op: str, value: Any) -> None:
        conditions.append({"attr": attr, "op": op, "value": value})

    for attr in ("stage", "tier", "city"):
        if field(attr):
            condition(attr, "eq", field(attr))
    if amount_field("min_spend"):
        condition("total_spend", "gte", money_field("min_spend"))
    days = whole("days_since_last_purchase", "segments.days")
    if days is not None:
        condition("days_since_last_purchase", "gte", days)
    if names("categories"):
        condition("categories", "any_of", names("categories"))
    for channel in ("sms", "email"):
        if request.form.get(f"consent_{channel}"):
            condition(f"consent_{channel}", "eq", True)
    month = whole("birthday_month", "segments.birthday")
    if month is not None:
        condition("birthday_month", "eq", month)
    if not conditions:
        raise FormError("error.rule-empty")
    return conditions[0] if len(conditions) == 1 else {"and": conditions}


def size_words(found: dict) -> str:
    """A preview's audience in words: "57 members", or "fewer than 10 members"."""
    if found["size"] is None:
        return i18n.translate("segments.size-withheld", fewer_than=found["fewer_than"])
    return i18n.translate("segments.size", size=found["size"])


def preview_shown(found: dict) -> dict:
    return {
        "size": found["size"],
        "size_text": size_words(found),
        "sample": [
            f"{stage_name(member['stage'])} · {member['tier']}"
            for member in found["sample"][:SAMPLE]
        ],
    }


def segments_page(status: int = 200, **context: Any) -> Response:
    stages = clients().campaigns.stage_overview(1)["stages"]
    context.setdefault("notice", shown_notice())
    return pages.page(
        "console_segments.html",
        status,
        segments=clients().campaigns.segments(),
        stages=[(stage, stage_name(stage)) for stage in stages],
        months=range(1, 13),
        form=request.form,
        **context,
    )


@bp.get(SEGMENTS)
def segments() -> Response:
    return segments_page()


@bp.post(f"{SEGMENTS}/preview")
def preview_segment() -> tuple[Response, int]:
    """For the builder's script: the audience of the form as it stands, as JSON."""
    try:
        rule = composed_rule()
        found = clients().campaigns.preview_rule(rule)
    except (FormError, Problem) as error:
        shown = failed(error)
        text = shown["text"] or i18n.translate(shown["key"], **shown["values"])
        return jsonify(error=text), 422
    return jsonify(rule=rule, **preview_shown(found)), 200


@bp.post(SEGMENTS)
def save_segment() -> Response:
    """Counts (the button for pages without scripts) or saves the segment the form describes."""
    try:
        rule = composed_rule()
        if request.form.get("action") != "save":
            found = clients().campaigns.preview_rule(rule)
            return segments_page(preview=preview_shown(found), rule=rule, notice=None)
        name = request.form.get("name", "").strip()
        if not name:
            raise FormError("error.segment-name")
        saved = clients().campaigns.create_segment({"name": name, "rule": rule})
        found = clients().campaigns.preview_segment(saved["id"])
    except (FormError, Problem) as error:
        return segments_page(422, notice=failed(error))
    notice("ok", "segments.saved", size=size_words(found))
    return redirect(SEGMENTS, 303)


# Campaigns


def moment(name: str, label: str) -> str | None:
    """A date and time as typed, Jalali (`1405/09/10 08:30`) or Gregorian, in the club's time
    zone unless it names its offset."""
    text = field(name)
    if not text:
        return None
    try:
        local = typed_moment(text)
    except ValueError:
        try:
            local = datetime.fromisoformat(text)  # with seconds or its own offset
        except ValueError:
            raise FormError("error.moment", field=i18n.translate(label).split(" (")[0]) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(current_app.config["LOYALTY"].timezone))
    return local.isoformat()


def coupon_terms(prefix: str) -> dict:
    """A coupon's terms from the form's `<prefix>type`, `value`, `max_discount`, …: the JSON
    a campaign's `coupon` or a reward's `coupon` carries."""
    terms: dict[str, Any] = {
        "type": field(f"{prefix}type") or "percent",
        "value": amount_field(f"{prefix}value"),
    }
    for name in ("max_discount", "min_purchase"):
        if amount_field(f"{prefix}{name}"):
            terms[name] = amount_field(f"{prefix}{name}")
    days = whole(f"{prefix}valid_days", "rewards.valid_days")
    if days is not None:
        terms["valid_days"] = days
    return terms


def mission_fields() -> dict:
    """A mission's `goal`, `period`, `reward_points`, `reward_id` and `congratulate` from the
    builder's fields (a spend target is an amount)."""
    metric = field("goal_metric")
    goal: dict[str, Any] = {"metric": metric}
    if metric == "spend":
        goal["target"] = amount_field("goal_target")
    else:
        target = whole("goal_target", "campaigns.goal_target")
        if target is not None:
            goal["target"] = target
    if metric == "category_purchases":
        goal["category"] = field("goal_category")
    fields: dict[str, Any] = {"goal": goal, "period": field("period")}
    reward = whole("reward_points", "campaigns.reward_points")
    if reward is not None:
        fields["reward_points"] = reward
    if field("reward_id"):
        fields["reward_id"] = field("reward_id")
    channel = field("congratulate_channel")
    if channel in ("sms", "email"):
        fields["congratulate"] = {
            "channel": channel,
            "template": request.form.get("congratulate_template", "").strip(),
        }
    return fields


def catalog_choices() -> list[tuple[str, str]]:
    """The catalog's rewards a mission may give, by name in the page's language; none when
    points cannot answer, so the rest of the builder still works."""
    try:
        found = clients().rewards.rewards()
    except Problem as problem:
        if problem.status < 500:
            raise
        return []
    fa = i18n.current_language() == "fa"
    return [
        (reward["id"], (reward["name_fa"] if fa and reward["name_fa"] else reward["name"]))
        for reward in found
    ]


def targeting_field() -> dict[str, Any] | None:
    """Who the audience fields (console_targeting_fields.html) choose, as campaigns' targeting;
    None when nothing was chosen."""
    target = field("target")
    if target == "everyone":
        return {"everyone": True}
    if target == "segment":
        return {"segments": [field("segment")] if field("segment") else []}
    if target == "stages":
        return {"stages": request.form.getlist("stages")}
    if target == "tiers":
        return {"tiers": names("tiers")}
    return None


def targeting_form() -> dict[str, Any]:
    """The audience fields' values: as sent after a refusal, else every member."""
    if request.method != "POST":
        return {"target": "everyone", "stages": []}
    return {
        "target": field("target") or "everyone",
        "segment": field("segment"),
        "stages": request.form.getlist("stages"),
        "tiers": request.form.get("tiers", ""),
    }


def targeting_choices() -> dict[str, Any]:
    """What the audience fields offer: the segments and the lifecycle stages."""
    stages = clients().campaigns.stage_overview(1)["stages"]
    return {
        "segments": clients().campaigns.segments(),
        "stages": [(stage, stage_name(stage)) for stage in stages],
    }


def campaign_definition() -> dict:
    """The JSON a `POST /v1/marketing/campaigns` would carry, from the builder's fields."""
    kind = field("kind")
    definition: dict[str, Any] = {"name": request.form.get("name", "").strip(), "kind": kind}
    gives = KIND_FIELDS.get(kind, ())
    if "multiplier" in gives:
        definition["multiplier"] = amount_field("multiplier")
    if "points" in gives:
        points = whole("points", "campaigns.points")
        if points is not None:
            definition["points"] = points
    if "min_spend" in gives:
        definition["min_spend"] = money_field("min_spend")
    if "categories" in gives:
        definition["categories"] = names("categories")
    if "coupon" in gives:
        definition["coupon"] = coupon_terms("coupon_")
    if "goal" in gives:
        definition.update(mission_fields())
    if request.form.get("offer_title", "").strip():
        definition["offer"] = {
            "title": request.form["offer_title"].strip(),
            "description": request.form.get("offer_description", "").strip(),
            "code": request.form.get("offer_code", "").strip(),
        }
    targeting = targeting_field()
    if targeting is not None:
        definition["targeting"] = targeting
    schedule = {
        key: value
        for key, value in (
            ("starts_at", moment("starts_at", "campaigns.starts_at")),
            ("ends_at", moment("ends_at", "campaigns.ends_at")),
        )
        if value
    }
    if schedule:
        definition["schedule"] = schedule
    for key, label in (
        ("budget_points", "campaigns.budget"),
        ("per_member_limit", "campaigns.per_member"),
        ("control_percent", "campaigns.control"),
    ):
        value = whole(key, label)
        if value is not None:
            definition[key] = value
    channel = field("channel")
    if channel in ("sms", "email"):
        definition["message"] = {
            "channel": channel,
            "template": request.form.get("template", "").strip(),
        }
    return definition


def builder_page(status: int = 200, **context: Any) -> Response:
    form: dict[str, Any] = {"target": "everyone", "kind": "multiplier", "stages": []}
    if request.method == "GET":
        if request.args.get("segment"):
            form.update(target="segment", segment=request.args["segment"])
        if request.args.get("stage"):
            form.update(target="stages", stages=[request.args["stage"]])
    else:
        form.update(request.form.to_dict(), stages=request.form.getlist("stages"))
    context.setdefault("notice", shown_notice())
    return pages.page(
        "console_campaign_new.html",
        status,
        form=form,
        kinds=[(kind, i18n.translate(f"kind.{kind}")) for kind in KINDS],
        kinds_giving={name: " ".join(kinds_giving(name)) for name in BUILDER_FIELDS},
        metrics=[(m, i18n.translate(f"metric.{m}")) for m in MISSION_METRICS],
        periods=[(p, i18n.translate(f"period.{p}")) for p in MISSION_PERIODS],
        catalog_rewards=catalog_choices(),
        **targeting_choices(),
        **context,
    )


@bp.get(f"{CAMPAIGNS}/new")
def new_campaign() -> Response:
    return builder_page()


@bp.post(CAMPAIGNS)
def create_campaign() -> Response:
    try:
        clients().campaigns.create_campaign(campaign_definition())
    except (FormError, Problem) as error:
        return builder_page(422, notice=failed(error))
    notice("ok", "campaigns.created")
    return redirect(CAMPAIGNS, 303)


@bp.get(CAMPAIGNS)
def campaigns() -> Response:
    listed = clients().campaigns.campaigns()
    for campaign in listed:
        campaign["actions"] = actions(campaign)
    return pages.page("console_campaigns.html", notice=shown_notice(), campaigns=listed)


def actions(campaign: dict) -> tuple[str, ...]:
    """The buttons a campaign gets: the status changes the service accepts for it, and delete
    when it can be deleted."""
    return (*campaign["allowed_actions"], *(("delete",) if campaign["deletable"] else ()))


@bp.get(f"{CAMPAIGNS}/<campaign_id>/launch")
def confirm_launch(campaign_id: str) -> Response:
    """Before a launch: how many members it reaches now, its control group (and whether that
    rounds to nobody), and the message as it will read."""
    campaign = clients().campaigns.campaign(campaign_id)
    found = clients().campaigns.campaign_report(campaign_id, current_app.config["LOYALTY"].currency)
    percent = campaign["definition"].get("control_percent", 0) or 0
    control = found["control"]["members"]
    return pages.page(
        "console_launch.html",
        notice=shown_notice(),
        campaign=campaign,
        audience=found["audience"],
        target=found["target"]["members"],
        control=control,
        control_percent=percent,
        control_empty=percent > 0 and control == 0,
        message=campaign["definition"].get("message"),
    )


@bp.post(f"{CAMPAIGNS}/<campaign_id>/<any({', '.join([*ACTIONS, 'delete'])}):action>")
def change_status(campaign_id: str, action: str) -> Response:
    if action == "launch" and field("confirmed") != "yes":
        return redirect(f"{CAMPAIGNS}/{campaign_id}/launch", 303)
    try:
        if action == "delete":
            clients().campaigns.delete_campaign(campaign_id)
        else:
            clients().campaigns.change_status(campaign_id, action)
    except Problem as error:
        session["console_notice"] = failed(error)
    else:
        notice("ok", f"action.done.{action}")
    return redirect(CAMPAIGNS, 303)


@bp.get(f"{CAMPAIGNS}/<campaign_id>")
def report(campaign_id: str) -> Response:
    campaign = clients().campaigns.campaign(campaign_id)
    found = clients().campaigns.campaign_report(campaign_id, current_app.config["LOYALTY"].currency)
    target, control = found["target"], found["control"]
    t = i18n.translate
    audience = bars(
        [
            (t("report.audience.all"), found["audience"], i18n.number(found["audience"])),
            (t("report.reached"), found["reached"], i18n.number(found["reached"])),
            (t("report.buyers"), target["buyers"], i18n.number(target["buyers"])),
            (t("report.messages"), found["messages_sent"], i18n.number(found["messages_sent"])),
        ]
    )
    coupons = bars(
        [
            (
                t("report.coupons_issued"),
                found["coupons_issued"],
                i18n.number(found["coupons_issued"]),
            ),
            (t("report.coupons_used"), found["coupons_used"], i18n.number(found["coupons_used"])),
        ]
    )
    missions = bars(
        [
            (t(f"report.{name}"), found[name], i18n.number(found[name]))
            for name in ("missions_started", "missions_completed", "mission_points_paid")
        ]
    )
    spend = bars(
        [
            (t("report.target"), *money(target["spend_per_member"])),
            (t("report.control"), *money(control["spend_per_member"])),
        ],
        ("target", "control"),
    )
    visits = bars(
        [
            (t(f"report.{group}"), figures["visits_per_member"], visits_shown(figures))
            for group, figures in (("target", target), ("control", control))
        ],
        ("target", "control"),
    )
    budget = found["budget_points"]
    points = bars(
        [(t("report.awarded"), found["points_awarded"], i18n.number(found["points_awarded"]))]
        + ([(t("report.budget"), budget, i18n.number(budget))] if budget else []),
        ("target", "budget"),
    )
    return pages.page(
        "console_report.html",
        notice=shown_notice(),
        campaign=campaign,
        report=found,
        audience=audience,
        coupons=coupons if campaign["kind"] == "coupon" else None,
        missions=missions if campaign["kind"] == "mission" else None,
        spend=spend,
        visits=visits,
        points=points,
        uplift_spend=money(found["uplift"]["spend_per_member"])[1],
        uplift_visits=i18n.number(found["uplift"]["visits_per_member"]),
        actions=actions(campaign),
    )


# Referrals

REFERRALS = f"{HOME}/referrals"
REFERRAL_NUMBERS = (
    ("referrer_points", "referrals.referrer_points"),
    ("referee_points", "referrals.referee_points"),
    ("monthly_cap", "referrals.monthly_cap"),
)


@bp.get(REFERRALS)
def referral_program() -> Response:
    return pages.page(
        "console_referrals.html",
        notice=shown_notice(),
        program=clients().points.referral_program(),
        currency=current_app.config["LOYALTY"].currency,
    )


@bp.post(REFERRALS)
def save_referral_program() -> Response:
    try:
        program: dict[str, Any] = {
            name: whole(name, label) or 0 for name, label in REFERRAL_NUMBERS
        }
        program["min_purchase"] = amount_field("min_purchase") or "0"
        program["active"] = request.form.get("active") == "on"
        clients().points.set_referral_program(program, signed_in_staff().actor)
    except (FormError, Problem) as error:
        session["console_notice"] = failed(error)
        return redirect(REFERRALS, 303)
    notice("ok", "referrals.saved")
    return redirect(REFERRALS, 303)


# Complaints recorded at the support desk

COMPLAINT_DAYS = 30


@bp.get(f"{HOME}/complaints")
def complaints() -> Response:
    counts = clients().campaigns.complaint_counts(COMPLAINT_DAYS)
    chart = bars(
        [(row["category"], row["complaints"], i18n.number(row["complaints"])) for row in counts]
    )
    return pages.page("console_complaints.html", notice=shown_notice(), counts=counts, chart=chart)
