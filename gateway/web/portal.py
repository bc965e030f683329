"""`/portal`: the member's own pages, made for a phone.

Log in with a one-time code sent by SMS (the phone waits in the sealed session cookie between
the two steps, never in a URL); the member session is the same `loyalty_session` cookie the JSON
API accepts. Then: points with pending and expiring, tier progress, history page by page, the QR
code for the till, offers, profile and marketing consents, feedback. Everything is read for the
session's member only: no page takes a member id. A new e-mail address typed in the profile gets a
code by e-mail, and is set once the member types that code (the address waits in the sealed
session cookie meanwhile).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, request, session

from gateway import members
from gateway.auth import SESSION_COOKIE, Caller, clear_session_cookie, set_session_cookie
from gateway.clients import clients
from gateway.clients.identity import CONSENT_CHANNELS
from gateway.limits import client_ip
from gateway.logins import log_in_member, log_out, send_member_code
from gateway.members import export_member, member_referral
from gateway.problems import Problem
from gateway.web import i18n, pages, qr
from gateway.web.forms import field
from gateway.web.security import seal, unseal
from services.runtime.jalali import to_jalali, typed_date

bp = Blueprint("portal", __name__)
bp.before_request(pages.csrf_guard)

HOME = "/portal"
HISTORY_PAGE = 10
# What a member types to confirm deleting their account, in either language.
CONFIRM_WORDS = ("delete", "حذف")


def signed_in_member() -> str | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    try:
        caller: Caller = current_app.extensions["sessions"].resolve(token)
    except Problem as problem:
        if problem.status != 401:
            raise
        return None
    return caller.member_id if caller.kind == "member" else None


def notice(kind: str, key: str = "", text: str = "") -> None:
    session["portal_notice"] = {"kind": kind, "key": key, "text": text, "values": {}}


def failed_page(problem: Problem) -> Response:
    """A portal page's answer, not JSON, when the suite cannot answer (a service down, say):
    the error handler of the portal's other pages."""
    key, _ = pages.problem_words(problem)
    return pages.error_page(problem.status, key or "error.unavailable", HOME)


def problem_notice(problem: Problem) -> None:
    key, text = pages.problem_words(problem)
    notice("error", key, text)


def home(anchor: str = "") -> Response:
    return redirect(HOME + anchor, 303)


def sms_invitation(referral: dict) -> str:
    """An `sms:` link: the phone's messages app opens with the invitation written."""
    body = i18n.verbatim("portal.referral_sms_body", code=referral["code"], link=referral["link"])
    return "sms:?&body=" + quote(body)


def tier_progress(tier: dict) -> int | None:
    """Percent of the way to the next tier, by qualifying spend."""
    if not tier["next"]:
        return None
    try:
        spent = Decimal(tier["qualifying_spend"])
        needed = Decimal(tier["next"]["spend_needed"])
    except (InvalidOperation, TypeError):
        return None
    total = spent + needed
    return int(spent * 100 / total) if total > 0 else 0


def shown_birth_date(iso: str) -> str:
    """As the member would type it: Jalali `1370/01/31` on Persian pages."""
    if not iso or i18n.current_language() != "fa":
        return iso
    year, month, day = to_jalali(datetime.strptime(iso, "%Y-%m-%d").date())
    return f"{year}/{month:02d}/{day:02d}"


def typed_birth_date(text: str) -> str:
    """ISO date from either calendar: a year below 1700 is Jalali. ValueError when not a day."""
    return typed_date(text).isoformat() if text else ""


@bp.get(HOME)
def show() -> Response:
    shown = session.pop("portal_notice", None)
    member_id = signed_in_member()
    if member_id is None:
        if unseal(session.get("portal_phone", "")):
            return pages.page("portal_code.html", notice=shown)
        referral_code = request.args.get("ref", "")[:20]
        return pages.page("portal_login.html", notice=shown, referral_code=referral_code)
    cursor = request.args.get("older", "")
    try:
        member = clients().identity.member(member_id)
        points = clients().points.balance(member_id)
        history = clients().points.activity(member_id, HISTORY_PAGE, cursor)
        offers = clients().campaigns.offers(member_id)
        missions = portal_missions(member_id)
        referral = member_referral(clients(), member_id)
        stores = clients().identity.store_names(
            {line["store_id"] for line in history["items"] if line["store_id"]}
        )
    except Problem as problem:
        if problem.status != 422 or not cursor:
            raise
        return home()  # a stale or altered cursor: back to the first page
    consents = {name: consent["granted"] for name, consent in member["consents"].items()}
    return pages.page(
        "portal.html",
        notice=shown,
        member=member,
        points=points,
        progress=tier_progress(points["tier"]),
        history=history,
        stores=stores,
        consents=consents,
        birth_date=shown_birth_date(member["birth_date"] or ""),
        email_pending=unseal(session.get("portal_email", "")),
        phone_pending=unseal(session.get("portal_new_phone", "")),
        offers=offers,
        missions=missions,
        referral=referral,
        referral_sms=sms_invitation(referral),
        feedback_id=f"web-{uuid.uuid4().hex}",
    )


def portal_missions(member_id: str) -> list[dict]:
    """The member's missions with the share done (0-100, in steps of 5 for the bar); none when
    campaigns cannot answer, so the rest of the page still shows."""
    try:
        found = members.member_missions(clients(), member_id)
    except Problem as problem:
        if problem.status < 500:
            raise
        return []
    for mission in found:
        mission["percent"] = min(mission["progress"] * 100 // max(mission["target"], 1), 100)
        mission["bar"] = mission["percent"] // 5 * 5
        mission.update(i18n.mission_figures(mission))
    return found


@bp.post(f"{HOME}/code")
def send_code() -> Response:
    phone = field("phone")
    if not phone:
        notice("error", "error.invalid-phone")
        return home()
    try:
        send_member_code(phone, i18n.current_language())
    except Problem as problem:
        problem_notice(problem)
        return home()
    session["portal_phone"] = seal(phone)
    session["portal_referral"] = seal(field("referral_code"))
    return home()


@bp.post(f"{HOME}/verify")
def verify_code() -> Response:
    phone = unseal(session.get("portal_phone", ""))
    if phone is None:
        return home()
    try:
        referral_code = unseal(session.get("portal_referral", "")) or ""
        grant = log_in_member(phone, field("code"), referral_code)
    except Problem as problem:
        problem_notice(problem)
        if problem.code == "invalid-referral-code":  # the code still works, without it
            session.pop("portal_referral", None)
        if problem.status == 429:  # too many wrong codes: start again with a new one
            session.pop("portal_phone", None)
        return home()
    session.pop("portal_phone", None)
    session.pop("portal_referral", None)
    session.pop("csrf", None)  # a new token for the logged-in member's forms
    response = home()
    set_session_cookie(response, grant.token, grant.ends)
    return response


@bp.post(f"{HOME}/start-again")
def start_again() -> Response:
    session.pop("portal_phone", None)
    return home()


@bp.post(f"{HOME}/logout")
def logout() -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        # The cookie goes anyway; a session left unrevoked by an outage still expires.
        with contextlib.suppress(Problem):
            log_out(token)
    response = home()
    clear_session_cookie(response)
    return response


@bp.get(f"{HOME}/qr.svg")
def qr_code() -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return Response(status=401)
    issued = clients().identity.issue_qr(member_id)
    return Response(qr.svg(issued["token"]), content_type="image/svg+xml")


@bp.post(f"{HOME}/profile")
def update_profile() -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return home()
    try:
        birth_date = typed_birth_date(field("birth_date"))
    except ValueError:
        notice("error", "error.invalid-birth-date")
        return home("#profile")
    changes = {
        "first_name": field("first_name"),
        "last_name": field("last_name"),
        "city": field("city"),
        "birth_date": birth_date,
    }
    if field("email"):  # left empty, the address stays as it is
        changes["email"] = field("email")
    try:
        updated = clients().identity.update_profile(member_id, changes, client_ip())
        granted = {name: consent["granted"] for name, consent in updated["consents"].items()}
        for name in CONSENT_CHANNELS:
            wanted = request.form.get(f"consent_{name}") == "on"
            if granted.get(name, False) != wanted:
                clients().identity.set_consent(member_id, name, wanted)
    except Problem as problem:
        problem_notice(problem)
        return home("#profile")
    if "email_change" in updated:
        session["portal_email"] = seal(updated["email_change"]["email"])
        notice("ok", "portal.email_code_sent")
        return home("#email-confirm")
    notice("ok", "portal.saved")
    return home("#profile")


@bp.post(f"{HOME}/email/confirm")
def confirm_email() -> Response:
    member_id = signed_in_member()
    email = unseal(session.get("portal_email", ""))
    if member_id is None or email is None:
        return home()
    try:
        clients().identity.confirm_email_change(member_id, email, field("email_code"))
    except Problem as problem:
        problem_notice(problem)
        if problem.status != 401 or problem.code == "code-expired":
            session.pop("portal_email", None)  # no use trying this code again
        return home("#email-confirm" if "portal_email" in session else "#profile")
    session.pop("portal_email", None)
    notice("ok", "portal.email_saved")
    return home("#profile")


@bp.post(f"{HOME}/phone")
def start_phone_change() -> Response:
    """A new number: a code goes to the current number and one to the new (the new number
    waits in the sealed session cookie until both are typed)."""
    member_id = signed_in_member()
    if member_id is None:
        return home()
    phone = field("phone")
    try:
        clients().identity.start_phone_change(member_id, phone, client_ip())
    except Problem as problem:
        problem_notice(problem)
        return home("#phone")
    session["portal_new_phone"] = seal(phone)
    notice("ok", "portal.phone_codes_sent")
    return home("#phone")


@bp.post(f"{HOME}/phone/confirm")
def confirm_phone_change() -> Response:
    member_id = signed_in_member()
    phone = unseal(session.get("portal_new_phone", ""))
    if member_id is None or phone is None:
        return home()
    try:
        clients().identity.confirm_phone_change(
            member_id, phone, field("old_code"), field("new_code")
        )
    except Problem as problem:
        problem_notice(problem)
        if problem.status != 401:
            session.pop("portal_new_phone", None)
        return home("#phone")
    session.pop("portal_new_phone", None)
    notice("ok", "portal.phone_changed")
    return home("#phone")


@bp.get(f"{HOME}/export.json")
def download_export() -> Response:
    """Everything the club holds about the member, as the JSON API's export, to keep."""
    member_id = signed_in_member()
    if member_id is None:
        return home()
    document = export_member(clients(), member_id)
    answer = Response(
        json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    answer.headers["Content-Disposition"] = 'attachment; filename="my-loyalty-club-data.json"'
    return answer


@bp.post(f"{HOME}/delete")
def delete_account() -> Response:
    """Erases the member's personal data once they typed the confirmation word; their session
    ends with it. Points history stays, without anything that names them."""
    member_id = signed_in_member()
    if member_id is None:
        return home()
    if field("confirm").casefold() not in CONFIRM_WORDS:
        notice("error", "portal.delete_unconfirmed")
        return home("#delete")
    try:
        clients().identity.erase(member_id, "member, from the portal")
    except Problem as problem:
        problem_notice(problem)
        return home("#delete")
    with contextlib.suppress(Problem):
        log_out(request.cookies.get(SESSION_COOKIE, ""))
    notice("ok", "portal.deleted")
    response = home()
    clear_session_cookie(response)
    return response


@bp.post(f"{HOME}/feedback")
def give_feedback() -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return home()
    rating = field("rating")
    if rating not in ("1", "2", "3", "4", "5"):
        notice("error", "error.invalid-rating")
        return home("#feedback")
    try:
        clients().campaigns.submit_feedback(
            member_id,
            field("feedback_id") or f"web-{uuid.uuid4().hex}",
            int(rating),
            request.form.get("comment", "").strip()[:2000],
        )
    except Problem as problem:
        problem_notice(problem)
        return home("#feedback")
    notice("ok", "portal.thanks")
    return home("#feedback")
