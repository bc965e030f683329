"""What every web page shares: the layout's helpers, the language switch, HTML errors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, make_response, redirect, render_template

from gateway.problems import Problem
from gateway.web import i18n, security
from gateway.web.forms import field

bp = Blueprint("web", __name__)
YEAR = 365 * 24 * 3600


def configure(app: Flask) -> None:
    security.configure(app)
    app.jinja_env.globals.update(
        t=i18n.translate,
        lang=i18n.current_language,
        known=i18n.has_message,
        currency_name=i18n.currency_name,
        shown_title=i18n.shown_title,
    )
    app.jinja_env.filters.update(
        num=i18n.number,
        day=i18n.local_date,
        moment=i18n.local_moment,
        money=i18n.money,
        code=i18n.code,
    )


def page(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


def error_page(status: int, message_key: str, back: str) -> Response:
    return page("error.html", status, message_key=message_key, back=back)


def local_path(value: str, default: str = "/till") -> str:
    """`value` if it is a path on this site, else `default`: never another host (`//evil`,
    `https://…`, `/\\evil`). Browsers drop tabs and newlines from a URL and read `\\` as `/`, so
    `/<tab>/evil` is `//evil` to them: a path with any whitespace, control character or
    backslash is refused, as is any that does not start with exactly one `/`."""
    if (
        value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and all(char.isprintable() and not char.isspace() for char in value)
    ):
        return value
    return default


@bp.before_request
def csrf_guard() -> Response | None:
    try:
        security.check_csrf()
    except security.CsrfRejected:
        return error_page(403, "error.csrf", local_path(field("next")))
    return None


@bp.post("/lang")
def switch_language() -> Response:
    lang = field("lang")
    response = redirect(local_path(field("next")), 303)
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=YEAR, samesite="Lax", httponly=True)
    return response


def problem_words(problem: Problem) -> tuple[str, str]:
    """How a page tells of a refused request: a message key of the catalogue, else the
    service's own words (key empty). Failures of the suite itself get the one "unavailable"."""
    if i18n.has_message(f"error.{problem.code}"):
        return f"error.{problem.code}", ""
    if problem.status >= 500:
        return "error.unavailable", ""
    return "", problem.detail
