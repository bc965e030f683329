"""`/till`: a till screen for stores without an integration.

The cashier signs in with the store's POS key, which opens a till session in identity; both are
sealed in the page's cookie, never in a URL. Signing out revokes the session, so a copy of the
cookie kept from before opens nothing. The cashier finds the member by phone, card or the text
of their QR code (a scanner types it), records purchases and redeems points. A coupon's code
(typed, or scanned from the member's phone) is checked against the purchase's amount and used
within it; the purchase is then recorded for what is left to pay under the same transaction id,
and a cancelled sale gives the coupon back. Every action is the
POS API's own call (`gateway.clients`, `gateway.members`), so the rules are the same as for an
integrated till; each form carries its own transaction or redemption id, so a form sent twice is
applied once.
"""

from __future__ import annotations

import contextlib
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, session

from gateway import limits
from gateway.clients import clients
from gateway.logins import log_out
from gateway.members import display_name, identify_member
from gateway.problems import Problem
from gateway.web import i18n, pages
from gateway.web.forms import field, money_field, typed_identifier
from gateway.web.security import seal, unseal
from services.runtime.points_limits import MAX_POINTS

bp = Blueprint("till", __name__)
bp.before_request(pages.csrf_guard)

HOME = "/till"


def signed_in_store() -> str | None:
    """The store whose key this browser signed in with, or None: also once the till session
    was signed out or expired, or the key revoked."""
    key = unseal(session.get("till_key", ""))
    token = unseal(session.get("till_session", ""))
    if key is None or token is None:
        return None
    try:
        till = current_app.extensions["sessions"].resolve(token, fresh=True)
        pos = current_app.extensions["pos_keys"].resolve(key)
    except Problem as problem:
        if problem.status != 401:
            raise
        till = pos = None
    if till is None or pos is None or till.kind != "till" or till.key_id != pos.key_id:
        _sign_out()
        notice("error", "error.signed-out")
        return None
    return pos.store_id


def notice(kind: str, key: str = "", text: str = "", code: str = "", **values: Any) -> None:
    """What the next page tells the cashier; `code` (a transaction number) is shown as typed,
    never with its digits converted."""
    session["till_notice"] = {
        "kind": kind,
        "key": key,
        "text": text,
        "code": code,
        "values": values,
    }


def problem_notice(problem: Problem) -> None:
    key, text = pages.problem_words(problem)
    notice("error", key, text)


def _sign_out() -> None:
    for name in ("till_key", "till_session", "till_member", "till_refund", "till_coupon"):
        session.pop(name, None)


def home() -> Response:
    return redirect(HOME, 303)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


@bp.get(HOME)
def show() -> Response:
    store_id = signed_in_store()
    shown = session.pop("till_notice", None)
    if store_id is None:
        return pages.page("till_sign_in.html", notice=shown)
    member = points = refunding = None
    offers: list[dict] = []
    member_id = session.get("till_member")
    if member_id:
        try:
            found = clients().identity.member(member_id)
            member = {
                "name": display_name(found),
                "phone_masked": found["phone_masked"],
                "card_number": found["card_number"],
            }
            points = clients().points.balance(member_id)
            offers = clients().campaigns.offers(member_id, store_id)
        except Problem as problem:
            session.pop("till_member", None)
            problem_notice(problem)
            shown = session.pop("till_notice")
    transaction = session.get("till_refund")
    if transaction:
        try:
            refunding = clients().points.purchase(store_id, transaction)
        except Problem as problem:
            session.pop("till_refund", None)
            problem_notice(problem)
            shown = session.pop("till_notice")
    coupon = session.get("till_coupon")
    return pages.page(
        "till.html",
        notice=shown,
        member=member,
        points=points,
        offers=offers,
        refunding=refunding,
        coupon=coupon,
        # A purchase with a used coupon is recorded under the coupon's transaction.
        transaction_id=coupon["transaction_id"] if coupon and coupon["used"] else new_id("TILL"),
        redemption_id=new_id("TILL-RD"),
        refund_id=new_id("TILL-RF"),
    )


@bp.post(f"{HOME}/sign-in")
def sign_in() -> Response:
    key = field("api_key")
    try:
        token = clients().identity.open_till_session(key)
    except Problem as problem:
        if problem.status != 401:
            raise
        # A wrong key counts against the address, as on the JSON API: no guessing at leisure.
        limits.charge(None)
        notice("error", "error.bad-key")
        return home()
    session.clear()
    session["till_key"] = seal(key)
    session["till_session"] = seal(token)
    return home()


@bp.post(f"{HOME}/sign-out")
def sign_out() -> Response:
    token = unseal(session.get("till_session", ""))
    if token:
        with contextlib.suppress(Problem):
            log_out(token)
    session.clear()
    return home()


@bp.post(f"{HOME}/identify")
def identify() -> Response:
    if signed_in_store() is None:
        return home()
    typed = typed_identifier(field("identifier"))
    if typed is None:
        notice("error", "error.unrecognised")
        return home()
    try:
        found = identify_member(clients(), **dict([typed]))
    except Problem as problem:
        problem_notice(problem)
        return home()
    session["till_member"] = found["member_id"]
    return home()


@bp.post(f"{HOME}/next")
def next_customer() -> Response:
    session.pop("till_member", None)
    session.pop("till_coupon", None)
    return home()


@bp.post(f"{HOME}/purchase")
def purchase() -> Response:
    store_id = signed_in_store()
    member_id = session.get("till_member")
    if store_id is None or not member_id:
        return home()
    body = {
        "transaction_id": field("transaction_id") or new_id("TILL"),
        "member_id": member_id,
        "amount": money_field("amount"),
        "currency": current_app.config["LOYALTY"].currency,
    }
    try:
        result = clients().points.record_purchase(store_id, body)
    except Problem as problem:
        problem_notice(problem)
        return home()
    session.pop("till_coupon", None)  # the sale is done
    notice(
        "ok",
        "till.earned",
        code=result["transaction_id"],
        points=result["points_earned"],
        available=result["balance"]["available"],
        pending=result["balance"]["pending"],
    )
    return home()


@bp.post(f"{HOME}/redeem")
def redeem() -> Response:
    store_id = signed_in_store()
    member_id = session.get("till_member")
    if store_id is None or not member_id:
        return home()
    typed = field("points")
    if not typed.isdecimal() or not 1 <= int(typed) <= MAX_POINTS:
        notice("error", "error.invalid-points")
        return home()
    redemption_id = field("redemption_id") or new_id("TILL-RD")
    redemption = {
        "redemption_id": redemption_id,
        "member_id": member_id,
        "points": int(typed),
        "capture": True,
    }
    try:
        result = clients().points.hold(store_id, redemption)
    except Problem as problem:
        problem_notice(problem)
        return home()
    notice(
        "ok",
        "till.redeemed",
        points=result["points"],
        available=result["balance"]["available"],
        pending=result["balance"]["pending"],
    )
    return home()


@bp.post(f"{HOME}/enrol")
def enrol() -> Response:
    """A customer who is not a member yet joins at the till and is then the till's member; a
    phone that is a member already (or a form sent twice) finds that member instead."""
    store_id = signed_in_store()
    if store_id is None:
        return home()
    phone = field("phone")
    details = {"phone": phone, "first_name": field("first_name"), "last_name": field("last_name")}
    consents = {"sms": request.form.get("consent_sms") == "on"}
    try:
        joined = clients().identity.enrol(details, consents, store_id, source="pos")
    except Problem as problem:
        if problem.status != 409:
            problem_notice(problem)
            return home()
        try:
            joined = clients().identity.identify("phone", phone)
        except Problem as missing:
            problem_notice(missing)
            return home()
        notice("ok", "till.already_member")
    else:
        notice("ok", "till.enrolled")
    session["till_member"] = joined["id"]
    return home()


@bp.post(f"{HOME}/refund/find")
def find_purchase() -> Response:
    """The purchase a refund is for, by the transaction number the till showed after the sale
    (and the receipt carries)."""
    store_id = signed_in_store()
    if store_id is None:
        return home()
    transaction = field("transaction_id")
    try:
        clients().points.purchase(store_id, transaction)
    except Problem as problem:
        problem_notice(problem)
        return home()
    session["till_refund"] = transaction
    return home()


@bp.post(f"{HOME}/refund")
def refund() -> Response:
    """Refunds the whole purchase found, or the part typed; the form's refund id makes a form
    sent twice one refund."""
    store_id = signed_in_store()
    transaction = session.get("till_refund")
    if store_id is None or not transaction:
        return home()
    try:
        result = clients().points.refund(
            store_id,
            transaction,
            field("refund_id") or new_id("TILL-RF"),
            money_field("amount"),
        )
    except Problem as problem:
        problem_notice(problem)
        return home()
    session.pop("till_refund", None)
    notice(
        "ok",
        "till.refunded",
        code=result["transaction_id"],
        amount=i18n.money(money_field("amount")),
        points=result["points_reversed"],
        available=result["balance"]["available"],
        pending=result["balance"]["pending"],
    )
    return home()


def to_pay(amount: str, discount: str | None) -> str:
    """What is left of the amount after the discount, as the cashier would type it."""
    try:
        left = max(Decimal(amount) - Decimal(discount or 0), Decimal(0))
    except InvalidOperation:
        return amount
    return str(left.quantize(Decimal(1)) if left == left.to_integral_value() else left)


@bp.post(f"{HOME}/coupon/check")
def check_coupon() -> Response:
    """What the typed or scanned code gives, and whether it can be used for this amount."""
    if signed_in_store() is None or not session.get("till_member"):
        return home()
    code, amount = field("coupon"), money_field("amount")
    if not code:
        notice("error", "error.coupon-not-found")
        return home()
    currency = current_app.config["LOYALTY"].currency
    try:
        found = clients().rewards.check(code, amount or None, currency)
    except Problem as problem:
        problem_notice(problem)
        return home()
    session["till_coupon"] = {
        "code": found["code"],
        "name": found["name"],
        "name_fa": found["name_fa"],
        "terms": found["discount"],
        "amount": amount,
        "usable": found["usable"],
        "reason": found["reason"],
        "discount": found["discount_amount"],
        "to_pay": to_pay(amount, found["discount_amount"]),
        "transaction_id": new_id("TILL"),
        "used": False,
    }
    return home()


@bp.post(f"{HOME}/coupon/use")
def use_coupon() -> Response:
    store_id = signed_in_store()
    coupon = session.get("till_coupon")
    if store_id is None or not coupon or not coupon["amount"]:
        return home()
    use = {
        "transaction_id": coupon["transaction_id"],
        "amount": coupon["amount"],
        "currency": current_app.config["LOYALTY"].currency,
    }
    try:
        used = clients().rewards.use(store_id, coupon["code"], use)
    except Problem as problem:
        problem_notice(problem)
        return home()
    coupon.update(
        used=True, discount=used["discount"], to_pay=to_pay(coupon["amount"], used["discount"])
    )
    session["till_coupon"] = coupon
    notice(
        "ok",
        "till.coupon_used",
        discount=i18n.money(coupon["discount"]),
        to_pay=i18n.money(coupon["to_pay"]),
    )
    return home()


@bp.post(f"{HOME}/refund/cancel")
def cancel_refund() -> Response:
    session.pop("till_refund", None)
    return home()


@bp.post(f"{HOME}/coupon/release")
def release_coupon() -> Response:
    """The sale is cancelled: a used coupon is given back; one not used yet is just put away."""
    store_id = signed_in_store()
    coupon = session.get("till_coupon")
    if store_id is None or not coupon:
        return home()
    if coupon["used"]:
        try:
            clients().rewards.release(store_id, coupon["code"], coupon["transaction_id"])
        except Problem as problem:
            problem_notice(problem)
            return home()
        notice("ok", "till.coupon_released")
    session.pop("till_coupon", None)
    return home()
