"""The staff entrance: one sign-in page for every role, leading to the rooms the role may use
(the support desk, the admin console, the marketing console), and the guard each room puts
before its pages.

The sign-in is the same throttled login as `POST /v1/staff/login` and the console's, with the
same `loyalty_session` cookie; the rooms admit the roles of the JSON routes they stand for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from flask import Blueprint, Response, redirect, request, session

from gateway.auth import GUARDS, SESSION_COOKIE, Caller, clear_session_cookie, set_session_cookie
from gateway.clients import clients
from gateway.logins import log_in_staff, log_out
from gateway.problems import Problem
from gateway.web import i18n, pages, staff_text
from gateway.web.console import notice, shown_notice, signed_in_staff
from gateway.web.forms import field
from services.runtime.staff_actions import ACTIONS

bp = Blueprint("staff_pages", __name__)
bp.before_request(pages.csrf_guard)
i18n.MESSAGES.update(staff_text.MESSAGES)

ENTRANCE = "/staff"
SIGN_IN = f"{ENTRANCE}/sign-in"
# Each room: its name, its home, the guard of its JSON routes; a role's first room is its home.
ROOMS = (
    ("desk", "/desk", "support"),
    ("admin", "/admin", "admin"),
    ("console", "/console", "marketing"),
)
ROLE_HOMES = {"support": "/desk", "admin": "/admin", "marketer": "/console"}


def rooms(caller: Caller | None) -> list[tuple[str, str]]:
    """The rooms (name, path) the caller may use."""
    if caller is None:
        return []
    return [(name, path) for name, path, guard in ROOMS if caller.grant in GUARDS[guard]]


def room_guard(guard: str, forbidden_key: str) -> Callable[[], Response | None]:
    """A room's before-request check: signed in as staff, with a role `guard` admits."""

    def check() -> Response | None:
        caller = signed_in_staff()
        if caller is None:
            return redirect(SIGN_IN, 303)
        if caller.grant not in GUARDS[guard]:
            return pages.error_page(403, forbidden_key, ENTRANCE)
        return None

    return check


def action_name(action: str) -> str:
    """An audit trail's action in the reader's language (`points.adjust` → "Points adjusted")."""
    key = f"audit.{action}"
    return i18n.translate(key) if action in ACTIONS and i18n.has_message(key) else action


def with_names(trail: list[dict]) -> list[dict]:
    """Audit entries with each staff actor's e-mail in place of `staff:<id>`."""
    if not any(entry["actor"].startswith("staff:") for entry in trail):
        return trail
    names = {f"staff:{account['id']}": account["email"] for account in clients().identity.staff()}
    return [{**entry, "actor": names.get(entry["actor"], entry["actor"])} for entry in trail]


def staff_page(template: str, status: int = 200, **context: object) -> Response:
    """A page of a staff room, with the rooms its reader may go to."""
    caller = signed_in_staff()
    context.setdefault("notice", shown_notice())
    return pages.page(
        template, status, rooms=rooms(caller), caller=caller, action_name=action_name, **context
    )


@bp.get(ENTRANCE)
def entrance() -> Response:
    caller = signed_in_staff()
    if caller is None:
        return redirect(SIGN_IN, 303)
    return redirect(ROLE_HOMES.get(caller.role, SIGN_IN), 303)


@bp.get(SIGN_IN)
def sign_in_form() -> Response:
    if signed_in_staff() is not None:
        return redirect(ENTRANCE, 303)
    return pages.page("staff_sign_in.html", notice=shown_notice())


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
    answer = redirect(ROLE_HOMES.get(grant.role, ENTRANCE), 303)
    set_session_cookie(answer, grant.token, grant.ends)
    # A new page token for the signed-in pages.
    session.pop("csrf", None)
    return answer


@bp.post(f"{ENTRANCE}/sign-out")
def sign_out() -> Response:
    with contextlib.suppress(Problem):
        log_out(request.cookies.get(SESSION_COOKIE, ""))
    answer = redirect(SIGN_IN, 303)
    clear_session_cookie(answer)
    session.pop("csrf", None)
    return answer
