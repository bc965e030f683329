"""`/console/draws`: the marketer's prize draws.

Marketers list the draws (status, closing time, entrants and chances held, the commitment),
create one (prizes with counts, a closing time, who may enter as campaigns target members, how
chances are earned, a limit per member),
and close or cancel one after a confirm page. A closed draw's page shows the revealed seed next
to its commitment, the winners by member id (no personal data) and a link to the entries the
draw used, the document the verify command re-runs. Every page is the marketing API's own calls
of `gateway.clients.campaigns`, so campaigns judges a form exactly as it judges the JSON API.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, session

from gateway.clients import clients
from gateway.problems import Problem
from gateway.web import console, console_text, i18n, pages
from gateway.web.console import FormError, failed, moment, notice, shown_notice, whole
from gateway.web.forms import amount_field, field, money_field
from services.runtime.text import ascii_digits

bp = Blueprint("console_draws", __name__)
bp.before_request(pages.csrf_guard)
bp.before_request(console.require_marketer)
bp.register_error_handler(Problem, console.failed_page)
i18n.MESSAGES.update(console_text.DRAW_MESSAGES)

DRAWS = f"{console.HOME}/draws"
# Rows of prize fields the create form offers; empty rows are left out.
PRIZE_ROWS = 5
ACTIONS = ("close", "cancel")
VERIFY_COMMAND = "python -m services.campaigns.draw_selection verify draw.json SEED"


def currency() -> str:
    return current_app.config["LOYALTY"].currency


def prizes() -> list[dict[str, Any]]:
    """The prize rows filled in, in their order: a name with its count (1 when left empty)."""
    names = request.form.getlist("prize_name")
    counts = request.form.getlist("prize_count")
    found = []
    for index, name in enumerate(names):
        count_text = ascii_digits(counts[index] if index < len(counts) else "").strip()
        if not name.strip() and not count_text:
            continue
        if count_text and not count_text.isdecimal():
            raise FormError("error.whole-number", field=i18n.translate("draws.prize_count"))
        found.append({"name": name.strip(), "count": int(count_text) if count_text else 1})
    return found


def draw_request() -> dict[str, Any]:
    """The JSON a `POST /v1/marketing/draws` would carry, from the form's fields."""
    chances: dict[str, Any] = {}
    for name, label in (
        ("per_purchase", "draws.per_purchase"),
        ("points_per_chance", "draws.points_per_chance"),
        ("max_per_member", "draws.max_per_member"),
    ):
        value = whole(name, label)
        if value is not None:
            chances[name] = value
    if amount_field("per_amount"):
        chances["per_amount"] = money_field("per_amount")
    closes_at = moment("closes_at", "draws.closes_at")
    if closes_at is None:
        raise FormError("error.moment", field=i18n.translate("draws.closes_at").split(" (")[0])
    made = {
        "name": request.form.get("name", "").strip(),
        "closes_at": closes_at,
        "prizes": prizes(),
        "chances": chances,
    }
    targeting = console.targeting_field()
    if targeting is not None:
        made["targeting"] = targeting
    return made


def draws_page(status: int = 200, **context: Any) -> Response:
    context.setdefault("notice", shown_notice())
    form = request.form if request.method == "POST" else None
    return pages.page(
        "console_draws.html",
        status,
        draws=clients().campaigns.draws(currency()),
        form=form,
        prize_rows=prize_rows(form),
        audience=console.targeting_form(),
        **console.targeting_choices(),
        **context,
    )


def prize_rows(form: Any) -> list[tuple[str, str]]:
    """The create form's prize rows: as typed after a refusal, else empty."""
    names = form.getlist("prize_name") if form else []
    counts = form.getlist("prize_count") if form else []
    return [
        (names[i] if i < len(names) else "", counts[i] if i < len(counts) else "")
        for i in range(max(PRIZE_ROWS, len(names)))
    ]


@bp.get(DRAWS)
def draws() -> Response:
    return draws_page()


@bp.post(DRAWS)
def create() -> Response:
    try:
        made = clients().campaigns.create_draw(draw_request(), currency())
    except (FormError, Problem) as error:
        if isinstance(error, Problem) and error.status >= 500:
            raise
        return draws_page(422, notice=failed(error))
    notice("ok", "draws.created")
    return redirect(f"{DRAWS}/{made['id']}", 303)


def audience_words(targeting: dict[str, Any]) -> list[str]:
    """Who may enter a draw, in the marketer's words: segments by name, stages translated."""
    if targeting.get("everyone"):
        return [i18n.translate("target.everyone")]
    named = {}
    if targeting.get("segments"):
        named = {s["id"]: s["name"] for s in clients().campaigns.segments()}
    words = [
        f"{i18n.translate('target.segment')}: {named.get(s, s)}"
        for s in targeting.get("segments", [])
    ]
    if targeting.get("stages"):
        stages = ", ".join(console.stage_name(s) for s in targeting["stages"])
        words.append(f"{i18n.translate('draws.audience.stages')}: {stages}")
    for key in ("tiers", "stores"):
        if targeting.get(key):
            words.append(f"{i18n.translate(f'draws.audience.{key}')}: {', '.join(targeting[key])}")
    return words


@bp.get(f"{DRAWS}/<draw_id>")
def draw(draw_id: str) -> Response:
    found = clients().campaigns.draw(draw_id, currency())
    return pages.page(
        "console_draw.html",
        notice=shown_notice(),
        draw=found,
        audience=audience_words(found["targeting"]),
        verify_command=VERIFY_COMMAND,
    )


@bp.get(f"{DRAWS}/<draw_id>/<any({', '.join(ACTIONS)}):action>")
def confirm(draw_id: str, action: str) -> Response:
    """Before closing or cancelling: what it does, and one button to do it."""
    found = clients().campaigns.draw(draw_id, currency())
    if found["status"] != "open":
        return redirect(f"{DRAWS}/{draw_id}", 303)
    return pages.page("console_draw_confirm.html", draw=found, action=action)


@bp.post(f"{DRAWS}/<draw_id>/<any({', '.join(ACTIONS)}):action>")
def close_or_cancel(draw_id: str, action: str) -> Response:
    if field("confirmed") != "yes":
        return redirect(f"{DRAWS}/{draw_id}/{action}", 303)
    try:
        if action == "close":
            clients().campaigns.close_draw(draw_id, currency())
        else:
            clients().campaigns.cancel_draw(draw_id, currency())
    except Problem as problem:
        if problem.status == 404 or problem.status >= 500:
            raise
        session["console_notice"] = failed(problem)
    else:
        notice("ok", f"draws.done.{action}")
    return redirect(f"{DRAWS}/{draw_id}", 303)
