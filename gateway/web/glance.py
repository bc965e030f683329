"""The club at a glance, the console's home: its weeks, its figures and its column charts.

Weeks are the page's own: Saturday to Friday on Persian pages (the Iranian week, labelled with
Jalali days), Monday to Sunday on English ones, in the club's time zone. Members and stage
moves come from campaigns' member view, points from points' report (its UTC days, summed into
the week they fall in); everything is counted by the services in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from gateway.clients import Clients
from gateway.web import i18n
from services.runtime.jalali import MONTHS_FA, to_jalali

WEEKS = 12
# Python's weekday() of the first day of a week: Saturday in Persian, Monday in English.
_WEEK_STARTS = {"fa": 5, "en": 0}
_STAGES = ("customer", "loyal", "dissatisfied", "lapsed")
# The drawing's own units: the SVG scales to the page's width.
WIDTH, HEIGHT, PLOT = 720, 150, 128


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    tone: str
    title: str


@dataclass(frozen=True)
class ColumnChart:
    """Columns per week, one per series side by side, as SVG shapes in WIDTH × HEIGHT."""

    rects: list[Rect]
    # (x of the week's middle, its label)
    labels: list[tuple[float, str]]
    # (tone, series name)
    legend: list[tuple[str, str]]
    width: int = WIDTH
    height: int = HEIGHT
    base: int = PLOT


def week_starts(today: date, lang: str, weeks: int = WEEKS) -> list[date]:
    """The first days of the last `weeks` weeks, the current one last."""
    this_week = today - timedelta(days=(today.weekday() - _WEEK_STARTS[lang]) % 7)
    return [this_week - timedelta(days=7 * n) for n in reversed(range(weeks))]


def week_label(day: date, lang: str) -> str:
    """`22 Nov`, or `۱ آذر` on Persian pages."""
    if lang == "fa":
        _year, month, jday = to_jalali(day)
        return i18n.number(f"{jday} {MONTHS_FA[month - 1]}")
    return day.strftime("%-d %b")


def column_chart(
    labels: list[str], series: list[tuple[str, str, list[int]]], rtl: bool
) -> ColumnChart:
    """`series` is (tone, name, one value per week). Columns grow from a shared base line;
    on a right-to-left page the weeks run from the right."""
    top = max((value for _, _, values in series for value in values), default=0) or 1
    slot = WIDTH / max(len(labels), 1)
    column = slot * 0.8 / max(len(series), 1)
    rects, marks = [], []
    for week, label in enumerate(labels):
        left = week * slot + slot * 0.1
        for n, (tone, name, values) in enumerate(series):
            height = PLOT * max(values[week], 0) / top
            x = left + n * column
            rects.append(
                Rect(
                    x=round(WIDTH - x - column if rtl else x, 2),
                    y=round(PLOT - height, 2),
                    width=round(column, 2),
                    height=round(height, 2),
                    tone=tone,
                    title=f"{label} · {name}: {i18n.number(values[week])}",
                )
            )
        middle = week * slot + slot / 2
        marks.append((round(WIDTH - middle if rtl else middle, 2), label))
    return ColumnChart(rects, marks, [(tone, name) for tone, name, _ in series])


def _percent(part: int, whole: int) -> str:
    if not whole:
        return "—"
    sign = "٪" if i18n.current_language() == "fa" else "%"
    return i18n.number(f"{part * 100 / whole:.1f}") + sign


def club_at_a_glance(clients: Clients, zone: ZoneInfo) -> dict:
    """Figures and charts for the console's home, in the page's language."""
    lang = i18n.current_language()
    today = datetime.now(zone).date()
    starts = week_starts(today, lang)
    first = datetime.combine(starts[0], time(), zone)
    figures = clients.campaigns.club_figures(first, len(starts))
    report = clients.points.report(starts[0].isoformat(), today.isoformat())
    moved = {kind: [0] * len(starts) for kind in ("earned", "redeemed", "expired")}
    for day in report["days"]:
        week = (date.fromisoformat(day["day"]) - starts[0]).days // 7
        if 0 <= week < len(starts):
            for kind in moved:
                moved[kind][week] += day[kind]
    labels = [week_label(start, lang) for start in starts]
    rtl = lang == "fa"
    earned, redeemed = sum(moved["earned"]), sum(moved["redeemed"])
    visits, spend = figures["visits"], Decimal(figures["spend"])
    per_visit = str((spend / visits).quantize(Decimal(1))) if visits else "0"
    liability = report["liability"]
    return {
        "figures": {
            "members": i18n.number(figures["members"]),
            "new_this_week": i18n.number(figures["weeks"][-1]["new_members"]),
            "active_30": i18n.number(figures["active_30_days"]),
            "active_90": i18n.number(figures["active_90_days"]),
            "repeat_rate": _percent(figures["repeat_buyers"], figures["buyers"]),
            "spend_per_visit": i18n.money(per_visit),
            "earned": i18n.number(earned),
            "redeemed": i18n.number(redeemed),
            "expired": i18n.number(sum(moved["expired"])),
            "redemption_rate": _percent(redeemed, earned),
            "liability": i18n.number(
                liability["available"] + liability["pending"] + liability["held"]
            ),
            "liability_value": i18n.money(liability["value"]),
        },
        "members_chart": column_chart(
            labels,
            [
                (
                    "s0",
                    i18n.translate("glance.new_members"),
                    [w["new_members"] for w in figures["weeks"]],
                )
            ],
            rtl,
        ),
        "points_chart": column_chart(
            labels,
            [
                ("s0", i18n.translate("glance.earned"), moved["earned"]),
                ("s1", i18n.translate("glance.redeemed"), moved["redeemed"]),
                ("s2", i18n.translate("glance.expired"), moved["expired"]),
            ],
            rtl,
        ),
        "stages_chart": column_chart(
            labels,
            [
                (
                    f"s{n}",
                    i18n.translate(f"stage.{stage}"),
                    [w["entered"].get(stage, 0) for w in figures["weeks"]],
                )
                for n, stage in enumerate(_STAGES)
            ],
            rtl,
        ),
    }
