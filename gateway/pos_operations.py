"""What a till does, once: the JSON POS routes and the cashier page both call these.

Each function takes the gRPC clients and the calling store, and raises `Problem` (or lets a
`grpc.RpcError` through) exactly as the POS API answers it.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from concurrent.futures import Future

import grpc

from gateway.problems import Problem
from gateway.upstreams import Upstreams
from loyalty.campaigns.v1 import campaigns_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.points.v1 import points_pb2
from services.identity.member_cache import member_key
from services.runtime.errors import InvalidArgument
from services.runtime.money import from_minor, to_minor
from services.runtime.text import ascii_digits


def display_name(member: identity_pb2.Member) -> str:
    """First name and last initial, as a cashier would greet them; the masked phone otherwise."""
    if member.first_name:
        initial = f" {member.last_name[0]}." if member.last_name else ""
        return member.first_name + initial
    return member.phone_masked


def get_member(upstream: Upstreams, member_id: str) -> identity_pb2.Member:
    return upstream.identity.GetMember(identity_pb2.GetMemberRequest(member_id=member_id)).member


def _member_of(upstream: Upstreams, member_id: str) -> tuple[str, bool]:
    """The id of the member `member_id` names (a merged duplicate's names its survivor) and
    whether their data was erased, as identity answers, NOT_FOUND included. A member whose view
    identity has cached is its own: that answers without the call
    (services.identity.member_cache)."""
    try:
        parsed = uuid.UUID(member_id)
    except ValueError:
        parsed = None
    if parsed is not None:
        cached = upstream.member_views.get_json(member_key(parsed))
        if cached is not None:
            return str(parsed), bool(cached.get("erased"))
    member = get_member(upstream, member_id)
    return member.id, member.erased


def member_id_of(upstream: Upstreams, member_id: str) -> str:
    """The id of the member `member_id` names, for reading what they have."""
    return _member_of(upstream, member_id)[0]


def known_member_id(upstream: Upstreams, member_id: str) -> str:
    """The member a purchase or redemption names: 422 `unknown-member` if none, 422
    `member-erased` if their data was erased (such a member neither earns nor spends)."""
    try:
        found, erased = _member_of(upstream, member_id)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise Problem(422, "unknown-member", "no member with this member_id") from None
        raise
    if erased:
        raise Problem(422, "member-erased", "this member's data was erased")
    return found


# How a till may name a member → the field of IdentifyMemberRequest.
IDENTIFIERS = {"phone": "phone", "card": "card_number", "email": "email", "token": "qr_token"}


# The till never waits long for offers: without campaigns it still identifies the member.
OFFERS_TIMEOUT = 0.3


class MemberGuesses:
    """Which member an identifier named last time, remembered briefly in this process.

    Only a guess: it lets the till's identify ask points and campaigns at the same time as
    identity instead of after it. Identity's answer is always checked against it, and a wrong
    guess (after a merge, say) is asked again, so it saves a round trip and can change nothing.
    """

    def __init__(self, ttl: float = 60.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(name: str, value: str) -> str:
        return hashlib.sha256(f"{name}:{value}".encode()).hexdigest()

    def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def put(self, key: str, member_id: str) -> None:
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self._ttl, member_id)


GUESSES = MemberGuesses()


def identify_member(upstream: Upstreams, store_id: str = "", **given: str) -> dict:
    """The member behind one identifier (phone, card, email or QR token), with tier, points
    and the offers they may use in this store."""
    given = {name: value for name, value in given.items() if value}
    if len(given) != 1 or not set(given) <= set(IDENTIFIERS):
        raise Problem(
            400, "invalid-request", "give exactly one of `phone`, `card`, `email` or `token`"
        )
    ((name, value),) = given.items()
    key = GUESSES.key(name, value)
    guess = GUESSES.get(key)
    asked = _points_and_offers(upstream, guess, store_id) if guess else None
    lookup = identity_pb2.IdentifyMemberRequest(**{IDENTIFIERS[name]: value})
    try:
        member = upstream.identity.IdentifyMember(lookup).member
    except grpc.RpcError:
        if asked is not None:
            for side in asked:
                side.cancel()
        raise
    if member.id != guess:
        if asked is not None:
            for side in asked:
                side.cancel()
        asked = _points_and_offers(upstream, member.id, store_id)
    GUESSES.put(key, member.id)
    balance_call, offers = asked
    balance = balance_call.result()
    return {
        "member_id": member.id,
        "display_name": display_name(member),
        "phone_masked": member.phone_masked,
        "tier": balance.tier.name,
        "points": {"available": balance.balance.available, "pending": balance.balance.pending},
        "offers": offers_json(offers),
    }


def _points_and_offers(upstream: Upstreams, member_id: str, store_id: str) -> tuple[Future, Future]:
    """The member's balance and offers, both asked at once, beside the caller's own call."""
    balance = upstream.side_calls.submit(
        upstream.points.GetBalance, points_pb2.GetBalanceRequest(member_id=member_id)
    )
    offers = upstream.side_calls.submit(
        upstream.campaigns.ListOffers,
        campaigns_pb2.ListOffersRequest(member_id=member_id, store_id=store_id),
        timeout=OFFERS_TIMEOUT,
        wait_for_ready=False,
    )
    return balance, offers


def offers_json(call: Future | grpc.Future) -> list[dict]:
    """The offers a ListOffers call answered; none when campaigns could not answer in time."""
    try:
        response = call.result()
    except grpc.RpcError:
        return []
    return [
        {
            "campaign_id": offer.campaign_id,
            "title": offer.title,
            "description": offer.description,
            "code": offer.code or None,
            "ends_at": offer.ends_at.ToJsonString() if offer.HasField("ends_at") else None,
        }
        for offer in response.offers
    ]


def member_offers(upstream: Upstreams, member_id: str, store_id: str = "") -> list[dict]:
    """Offers the member may use now (at this store); none when campaigns cannot answer."""
    call = upstream.campaigns.ListOffers.future(
        campaigns_pb2.ListOffersRequest(member_id=member_id, store_id=store_id),
        timeout=OFFERS_TIMEOUT * 3,
        wait_for_ready=False,
    )
    return offers_json(call)


def submit_feedback(
    upstream: Upstreams, member_id: str, feedback_id: str, rating: int, comment: str
) -> str:
    """The member's rating (1-5) and comment, counted once per feedback id."""
    upstream.campaigns.SubmitFeedback(
        campaigns_pb2.SubmitFeedbackRequest(
            feedback_id=feedback_id, member_id=member_id, rating=rating, comment=comment
        )
    )
    return feedback_id


def place_purchase(upstream: Upstreams, store_id: str, body: dict) -> dict:
    """One purchase, validated against PURCHASE_REQUEST already; raises Problem or RpcError."""
    currency = body["currency"]
    try:
        amount = to_minor(body["amount"], currency)
        items = [
            common_pb2.PurchaseItem(
                sku=item["sku"],
                category=item.get("category", ""),
                quantity=ascii_digits(str(item["quantity"])),
                unit_price=common_pb2.Money(
                    amount_minor=to_minor(item["unit_price"], currency, "unit_price"),
                    currency=currency,
                ),
            )
            for item in body.get("items", [])
        ]
    except InvalidArgument as error:
        raise Problem(422, error.code, error.detail) from None
    purchase = points_pb2.RecordPurchaseRequest(
        store_id=store_id,
        transaction_id=body["transaction_id"],
        member_id=known_member_id(upstream, body["member_id"]),
        amount=common_pb2.Money(amount_minor=amount, currency=currency),
        items=items,
    )
    if "occurred_at" in body:
        try:
            purchase.occurred_at.FromJsonString(body["occurred_at"])
        except ValueError:
            raise Problem(400, "invalid-request", "occurred_at must be an RFC 3339 time") from None
    result = upstream.points.RecordPurchase(purchase)
    return {
        "transaction_id": result.transaction_id,
        "member_id": result.member_id,
        "points_earned": result.points_earned,
        "breakdown": [
            {"source": line.source, "points": line.points, "reason": line.reason}
            for line in result.breakdown
        ],
        "balance": {"available": result.balance.available, "pending": result.balance.pending},
    }


def member_points(upstream: Upstreams, member_id: str) -> dict:
    """The member's balance, what expires when, and their tier standing."""
    member_id = member_id_of(upstream, member_id)
    balance = upstream.points.GetBalance(points_pb2.GetBalanceRequest(member_id=member_id))
    return {
        "member_id": member_id,
        "available": balance.balance.available,
        "pending": balance.balance.pending,
        "held": balance.balance.held,
        "debt": balance.balance.debt,
        "expiring": [
            {"points": e.points, "expires_at": e.expires_at.ToJsonString()}
            for e in balance.expiring
        ],
        "tier": tier_json(balance.tier),
    }


def member_ledger(upstream: Upstreams, member_id: str, limit: int, cursor: str) -> dict:
    """A page of the member's ledger, newest first."""
    page = upstream.points.ListLedger(
        points_pb2.ListLedgerRequest(
            member_id=member_id_of(upstream, member_id), limit=limit, cursor=cursor
        )
    )
    return {
        "items": [
            {
                "id": entry.id,
                "kind": entry.kind,
                "points": entry.points,
                "bucket": entry.bucket,
                "reason": entry.reason,
                "source_type": entry.source_type,
                "source_id": entry.source_id,
                "created_at": entry.created_at.ToJsonString(),
            }
            for entry in page.entries
        ],
        "next_cursor": page.next_cursor or None,
    }


def tier_json(tier: points_pb2.TierStanding) -> dict:
    currency = tier.qualifying_spend.currency
    return {
        "name": tier.name,
        "multiplier": tier.multiplier,
        "qualifying_spend": from_minor(tier.qualifying_spend.amount_minor, currency),
        "review_at": tier.review_at.ToJsonString() if tier.HasField("review_at") else None,
        "next": (
            {
                "name": tier.next_name,
                "spend_needed": from_minor(tier.next_needs.amount_minor, currency),
            }
            if tier.next_name
            else None
        ),
        "currency": currency,
    }


def redemption_json(result: points_pb2.RedemptionResponse) -> dict:
    status = points_pb2.RedemptionStatus.Name(result.status)
    return {
        "redemption_id": result.redemption_id,
        "member_id": result.member_id,
        "points": result.points,
        "status": status.removeprefix("REDEMPTION_STATUS_").lower(),
        "expires_at": result.expires_at.ToJsonString(),
        "balance": {"available": result.balance.available, "pending": result.balance.pending},
    }


def hold_points(upstream: Upstreams, store_id: str, body: dict) -> dict:
    """A hold on the member's points (spent at once with `capture`), per REDEMPTION_REQUEST."""
    result = upstream.points.HoldPoints(
        points_pb2.HoldPointsRequest(
            store_id=store_id,
            redemption_id=body["redemption_id"],
            member_id=known_member_id(upstream, body["member_id"]),
            points=body["points"],
            capture=body.get("capture", False),
        )
    )
    return redemption_json(result)


def capture_hold(upstream: Upstreams, store_id: str, redemption_id: str) -> dict:
    result = upstream.points.CaptureHold(
        points_pb2.ResolveHoldRequest(store_id=store_id, redemption_id=redemption_id)
    )
    return redemption_json(result)


def void_hold(upstream: Upstreams, store_id: str, redemption_id: str) -> dict:
    result = upstream.points.VoidHold(
        points_pb2.ResolveHoldRequest(store_id=store_id, redemption_id=redemption_id)
    )
    return redemption_json(result)
