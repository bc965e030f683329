"""The point-of-sale API: enrol and identify members, record purchases, read points."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, g, request
from jsonschema import Draft202012Validator

from gateway.api import operation, query_param
from gateway.clients import clients
from gateway.clients.identity import IDENTIFIERS
from gateway.members import identify_member, member_ledger, member_points
from gateway.problems import Problem
from gateway.schemas import (
    BATCH,
    BATCH_EXAMPLE,
    BATCH_REQUEST,
    COUPON,
    COUPON_EXAMPLE,
    COUPON_TERMS,
    ENROL_REQUEST,
    IDENTIFIED,
    IDENTIFIED_EXAMPLE,
    LEDGER,
    LEDGER_EXAMPLE,
    LEDGER_QUERY,
    MEMBER,
    MEMBER_EXAMPLE,
    MONEY,
    POINTS,
    POINTS_EXAMPLE,
    PURCHASE,
    PURCHASE_EXAMPLE,
    PURCHASE_FOUND,
    PURCHASE_FOUND_EXAMPLE,
    PURCHASE_REQUEST,
    REDEMPTION,
    REDEMPTION_REQUEST,
    REFUND,
    REFUND_EXAMPLE,
    REFUND_REQUEST,
    ledger_page_args,
    redemption_example,
)

bp = Blueprint("pos", __name__)


@operation(
    bp,
    "/v1/members",
    "POST",
    summary="Enrol a member",
    tag="members",
    auth="pos-or-admin",
    request_schema=ENROL_REQUEST,
    example={"phone": "0912 123 4567", "first_name": "Sara", "consents": {"sms": True}},
    response_examples={201: MEMBER_EXAMPLE},
    responses={
        201: ("The new member", MEMBER),
        409: ("A member with this phone exists", None),
        422: (
            "A value is not acceptable (phone, e-mail, birth date, `invalid-referral-code`)",
            None,
        ),
    },
)
def enrol(body: dict):
    caller = g.caller
    member = clients().identity.enrol(
        body,
        body.get("consents", {}),
        store_id=caller.store_id,
        source="pos" if caller.kind == "pos" else "admin",
    )
    return member, 201


@operation(
    bp,
    "/v1/members/identify",
    "GET",
    summary="Identify a member at the till",
    tag="members",
    auth="lookup",
    query=[
        query_param(
            "phone", "The member's phone, in any common format or digits", example="09121234567"
        ),
        query_param("card", "The member's card number", example="6037990000012340"),
        query_param("email", "The member's e-mail address"),
        query_param("token", "The text of the QR code the member's phone shows"),
    ],
    response_examples={200: IDENTIFIED_EXAMPLE},
    responses={
        200: ("The member and their points", IDENTIFIED),
        404: ("No member with this identifier", None),
        409: ("Several members share this e-mail: identify by phone or card", None),
        422: (
            "The identifier is malformed (a wrong card check digit, a forged or expired QR code)",
            None,
        ),
    },
)
def identify():
    given = {k: request.args.get(k, "") for k in IDENTIFIERS}
    return identify_member(clients(), g.caller.store_id, **given)


@operation(
    bp,
    "/v1/purchases",
    "POST",
    summary="Record a purchase and earn points",
    tag="purchases",
    auth="pos",
    request_schema=PURCHASE_REQUEST,
    example={
        "transaction_id": "T-1001",
        "member_id": "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10",
        "amount": "1250000",
        "currency": "IRR",
        "items": [{"sku": "MILK-1L", "category": "dairy", "quantity": 2, "unit_price": "625000"}],
    },
    response_examples={201: PURCHASE_EXAMPLE},
    responses={
        201: ("Points earned; a retry with the same body gets the same answer", PURCHASE),
        422: (
            "Unknown or erased member, wrong currency, bad amount, or transaction_id reused",
            None,
        ),
    },
)
def record_purchase(body: dict):
    return clients().points.record_purchase(g.caller.store_id, body), 201


BATCH_PARALLEL = 8
_purchase_line = Draft202012Validator(PURCHASE_REQUEST)


@operation(
    bp,
    "/v1/purchases/batch",
    "POST",
    summary="Upload offline sales: each line is applied exactly once and answered on its own",
    tag="purchases",
    auth="pos",
    request_schema=BATCH_REQUEST,
    example={
        "purchases": [
            {
                "transaction_id": "T-OFF-1",
                "member_id": "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10",
                "amount": "250000",
                "currency": "IRR",
                "occurred_at": "2026-11-21T10:15:00Z",
            }
        ]
    },
    response_examples={200: BATCH_EXAMPLE},
    responses={200: ("One result per line, in order; re-uploading is harmless", BATCH)},
)
def record_batch(body: dict):
    points, store_id = clients().points, g.caller.store_id

    def line(index: int, purchase: object) -> dict:
        transaction_id = purchase.get("transaction_id") if isinstance(purchase, dict) else None
        answer: dict = {"index": index, "transaction_id": transaction_id}
        errors = sorted(_purchase_line.iter_errors(purchase), key=lambda e: list(e.path))
        try:
            if errors:
                where = ".".join(str(p) for p in errors[0].absolute_path) or "line"
                raise Problem(400, "invalid-request", f"{where}: {errors[0].message}")
            declared = {k: v for k, v in purchase.items() if k in PURCHASE_REQUEST["properties"]}
            result = points.record_purchase(store_id, declared)
        except Problem as problem:
            return {
                **answer,
                "status": problem.status,
                "code": problem.code,
                "detail": problem.detail,
            }
        return {**answer, "status": 201, "points_earned": result["points_earned"]}

    with ThreadPoolExecutor(max_workers=BATCH_PARALLEL) as pool:
        # Each line runs in a copy of this request's context, so it keeps the request id.
        futures = [
            pool.submit(contextvars.copy_context().run, line, index, purchase)
            for index, purchase in enumerate(body["purchases"])
        ]
        results = [future.result() for future in futures]
    applied = sum(1 for r in results if r["status"] == 201)
    return {
        "lines": len(results),
        "applied": applied,
        "failed": len(results) - applied,
        "results": results,
    }


@operation(
    bp,
    "/v1/members/<member_id>/points",
    "GET",
    summary="A member's points balance",
    tag="points",
    auth="lookup",
    response_examples={200: POINTS_EXAMPLE},
    responses={200: ("The balance", POINTS), 404: ("No such member", None)},
)
def points(member_id: str):
    return member_points(clients(), member_id)


@operation(
    bp,
    "/v1/members/<member_id>/ledger",
    "GET",
    summary="A member's points history, newest first",
    tag="points",
    auth="lookup",
    query=LEDGER_QUERY,
    response_examples={200: LEDGER_EXAMPLE},
    responses={
        200: ("A page of entries", LEDGER),
        404: ("No such member", None),
        422: ("The cursor is not valid", None),
    },
)
def ledger(member_id: str):
    return member_ledger(clients(), member_id, *ledger_page_args())


@operation(
    bp,
    "/v1/purchases/<transaction_id>",
    "GET",
    summary="A purchase of this store by its transaction_id, with what is left to refund",
    tag="purchases",
    auth="pos",
    response_examples={200: PURCHASE_FOUND_EXAMPLE},
    responses={
        200: ("The purchase", PURCHASE_FOUND),
        404: ("This store has no purchase with this transaction_id", None),
    },
)
def purchase(transaction_id: str):
    return clients().points.purchase(g.caller.store_id, transaction_id)


@operation(
    bp,
    "/v1/purchases/<transaction_id>/refunds",
    "POST",
    summary="Refund (part of) a purchase and take back the points it earned",
    tag="purchases",
    auth="pos",
    request_schema=REFUND_REQUEST,
    example={"refund_id": "R-1001", "amount": "625000"},
    response_examples={201: REFUND_EXAMPLE},
    responses={
        201: ("Points taken back; a retry with the same body gets the same answer", REFUND),
        404: ("This store has no purchase with this transaction_id", None),
        422: ("Bad amount, more than is left to refund, or refund_id reused", None),
    },
)
def refund(transaction_id: str, body: dict):
    refunded = clients().points.refund(
        g.caller.store_id, transaction_id, body["refund_id"], body["amount"]
    )
    return refunded, 201


@operation(
    bp,
    "/v1/redemptions",
    "POST",
    summary="Hold points for a redemption (or spend them at once with capture)",
    tag="redemptions",
    auth="pos",
    request_schema=REDEMPTION_REQUEST,
    example={
        "redemption_id": "RD-1001",
        "member_id": "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10",
        "points": 50,
    },
    response_examples={201: redemption_example("held")},
    responses={
        201: ("Held (or captured); a retry with the same body gets the same answer", REDEMPTION),
        422: ("Not enough points, unknown or erased member, or redemption_id reused", None),
    },
)
def hold(body: dict):
    return clients().points.hold(g.caller.store_id, body), 201


@operation(
    bp,
    "/v1/redemptions/<redemption_id>/capture",
    "POST",
    summary="Spend the points a redemption holds",
    tag="redemptions",
    auth="pos",
    response_examples={200: redemption_example("captured")},
    responses={
        200: ("Captured (capturing again answers the same)", REDEMPTION),
        404: ("This store has no redemption with this id", None),
        409: ("The redemption was voided or expired", None),
    },
)
def capture(redemption_id: str):
    return clients().points.capture(g.caller.store_id, redemption_id)


@operation(
    bp,
    "/v1/redemptions/<redemption_id>/void",
    "POST",
    summary="Give back the points a redemption holds",
    tag="redemptions",
    auth="pos",
    response_examples={200: redemption_example("voided")},
    responses={
        200: ("Voided, or already expired (voiding again answers the same)", REDEMPTION),
        404: ("This store has no redemption with this id", None),
        409: ("The redemption was already captured", None),
    },
)
def void(redemption_id: str):
    return clients().points.void(g.caller.store_id, redemption_id)


COUPON_CHECK = {
    **COUPON,
    "required": [*COUPON["required"], "usable"],
    "properties": {
        **COUPON["properties"],
        "usable": {
            "type": "boolean",
            "description": "Whether it can be used now (for this amount, if given)",
        },
        "reason": {
            "type": ["string", "null"],
            "description": "Why not: coupon-used, coupon-expired, coupon-cancelled,"
            " coupon-min-purchase, coupon-currency, coupon-not-redeemable",
        },
        "discount_amount": {
            "type": ["string", "null"],
            "description": "The discount for the amount asked about, as a decimal",
        },
    },
}
COUPON_USE_REQUEST = {
    "type": "object",
    "required": ["transaction_id", "amount"],
    "properties": {
        "transaction_id": {"type": "string", "minLength": 1, "maxLength": 100},
        "amount": {**MONEY, "description": "The purchase the coupon is used in"},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
    },
}
COUPON_USED = {
    **COUPON,
    "required": ["code", "status", "discount", "currency"],
    "properties": {
        **COUPON["properties"],
        "discount": {
            "type": "string",
            "description": "What the coupon takes off this purchase, as a decimal",
        },
        "currency": {"type": "string"},
        "terms": COUPON_TERMS,
    },
}


@operation(
    bp,
    "/v1/coupons/<code>",
    "GET",
    summary="Check a coupon code: what it gives, and whether it can be used now",
    tag="coupons",
    auth="lookup",
    query=[
        query_param("amount", "The purchase it would be used in", example="1250000"),
        query_param("currency", "The purchase's currency (default: the club's)"),
    ],
    response_examples={200: {**COUPON_EXAMPLE, "usable": True, "reason": None}},
    responses={
        200: ("The coupon", COUPON_CHECK),
        404: ("No coupon with this code (`coupon-not-found`)", None),
        422: ("The amount is not a decimal", None),
    },
)
def check_coupon(code: str):
    return clients().rewards.check(code, request.args.get("amount"), request.args.get("currency"))


@operation(
    bp,
    "/v1/coupons/<code>/redemptions",
    "POST",
    summary="Use a coupon in a purchase: once across every store and till",
    tag="coupons",
    auth="pos",
    request_schema=COUPON_USE_REQUEST,
    example={"transaction_id": "T-1001", "amount": "1250000", "currency": "IRR"},
    response_examples={
        201: {
            **COUPON_EXAMPLE,
            "status": "used",
            "discount": "125000",
            "currency": "IRR",
            "terms": COUPON_EXAMPLE["discount"],
        }
    },
    responses={
        201: ("Used; the same transaction again answers the same", COUPON_USED),
        404: ("No coupon with this code (`coupon-not-found`)", None),
        409: (
            "`coupon-used` (by another sale), `coupon-expired` or `coupon-cancelled`",
            None,
        ),
        422: (
            "`coupon-min-purchase`, `coupon-currency`, `coupon-not-redeemable` (a partner's"
            " code or a gift), or this transaction used it for another amount",
            None,
        ),
    },
)
def use_coupon(code: str, body: dict):
    return clients().rewards.use(g.caller.store_id, code, body), 201


@operation(
    bp,
    "/v1/coupons/<code>/redemptions/<transaction_id>",
    "DELETE",
    summary="Release a coupon the store's cancelled sale used: it can be used again",
    tag="coupons",
    auth="pos",
    response_examples={200: COUPON_EXAMPLE},
    responses={
        200: ("Issued again (again: the same answer)", COUPON),
        404: ("No coupon with this code (`coupon-not-found`)", None),
        409: ("Not used by this store's transaction (`coupon-not-released`)", None),
    },
)
def release_coupon(code: str, transaction_id: str):
    return clients().rewards.release(g.caller.store_id, code, transaction_id)


@operation(
    bp,
    "/v1/coupons/<code>/collection",
    "POST",
    summary="Hand over a gift: the gift coupon is collected by this store, once",
    tag="coupons",
    auth="pos",
    response_examples={
        200: {
            **COUPON_EXAMPLE,
            "kind": "gift",
            "name": "A reusable shopping bag",
            "name_fa": "کیسه خرید",
            "discount": None,
            "status": "used",
            "used_at": "2026-12-04T09:30:00+00:00",
            "store_id": "2b7c9d1e-4f3a-4b8c-9d0e-1f2a3b4c5d6e",
            "transaction_id": "gift",
        }
    },
    responses={
        200: ("Collected (again by this store: the same answer)", COUPON),
        404: ("No coupon with this code (`coupon-not-found`)", None),
        409: ("Collected already, expired or cancelled", None),
        422: ("Not a gift (`not-a-gift`)", None),
    },
)
def collect_gift(code: str):
    return clients().rewards.collect(g.caller.store_id, code)
