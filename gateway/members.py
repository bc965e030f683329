"""One member as several services know them: found at the till by one identifier with their
points and offers, their points and history read by id, their referrals, their missions with
the catalog rewards they give, their whole export.
The JSON routes and the web pages all call these."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import datetime
from urllib.parse import urlencode

from flask import request

from gateway.clients import Clients
from gateway.clients.campaigns import OFFERS_TIMEOUT
from gateway.clients.identity import IDENTIFIERS
from gateway.problems import Problem
from services.runtime.staff_actions import MEMBER_MERGE


def display_name(member: dict) -> str:
    """First name and last initial, as a cashier would greet them; the masked phone otherwise."""
    if member["first_name"]:
        initial = f" {member['last_name'][0]}." if member["last_name"] else ""
        return member["first_name"] + initial
    return member["phone_masked"]


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


def identify_member(clients: Clients, store_id: str = "", **given: str) -> dict:
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
    asked = _points_and_offers(clients, guess, store_id) if guess else None
    try:
        member = clients.identity.identify(name, value)
    except Problem:
        if asked is not None:
            for side in asked:
                side.cancel()
        raise
    if member["id"] != guess:
        if asked is not None:
            for side in asked:
                side.cancel()
        asked = _points_and_offers(clients, member["id"], store_id)
    GUESSES.put(key, member["id"])
    balance_call, offers = asked
    balance = balance_call.result()
    return {
        "member_id": member["id"],
        "display_name": display_name(member),
        "phone_masked": member["phone_masked"],
        "tier": balance["tier"]["name"],
        "points": {"available": balance["available"], "pending": balance["pending"]},
        "offers": offers.result(),
    }


def _points_and_offers(clients: Clients, member_id: str, store_id: str):
    """The member's balance and offers, both asked at once, beside the caller's own call."""
    balance = clients.side_calls.submit(clients.points.balance, member_id)
    offers = clients.side_calls.submit(
        clients.campaigns.offers, member_id, store_id, OFFERS_TIMEOUT
    )
    return balance, offers


def _malformed(clients: Clients, member_id: str) -> None:
    """Identity's own answer (404) for what is not even an id, as before points is asked."""
    try:
        uuid.UUID(member_id)
    except ValueError:
        clients.identity.member(member_id)


# Points holds entries only for members identity knows, so an answer with any needs no question
# to identity, nor one from a member points has learned of; an empty answer about a member points
# has not heard of could be anyone's, and identity says whether there is such a member.


def _points_holds(member_id: str, found: dict) -> bool:
    """Whether points' answer shows entries of the member: points, a tier standing (from the
    first purchase on), or a survivor's id for a merged duplicate."""
    return (
        any(found[name] for name in ("available", "pending", "held", "debt"))
        or found["tier"]["review_at"] is not None
        or found["member_id"] != str(uuid.UUID(member_id))
    )


def member_points(clients: Clients, member_id: str) -> dict:
    """The member's balance, what expires when, and their tier standing (a merged duplicate's
    id reads its survivor's); 404 for an id identity does not know."""
    _malformed(clients, member_id)
    found, known = clients.points.standing(member_id)
    if not known and not _points_holds(member_id, found):
        clients.identity.member(member_id)
    return found


def member_ledger(clients: Clients, member_id: str, limit: int, cursor: str) -> dict:
    """A page of the member's ledger, newest first; 404 for an id identity does not know."""
    _malformed(clients, member_id)
    page = clients.points.ledger(member_id, limit, cursor)
    if not page["items"]:
        clients.identity.member(member_id)
    return page


def export_member(clients: Clients, member_id: str, actor: str = "") -> dict:
    """Identity's document, the balance, the whole ledger and every feedback with its comment;
    `actor`: the staff member taking it, for the audit trail (none when members take their
    own)."""
    identity = clients.identity.export(member_id, actor)
    survivor = identity["member"]["id"]
    entries: list[dict] = []
    cursor = ""
    while True:
        page = clients.points.ledger(survivor, 200, cursor)
        entries += page["items"]
        cursor = page["next_cursor"] or ""
        if not cursor:
            break
    return {
        "identity": identity,
        "points": clients.points.balance(survivor),
        "ledger": entries,
        "feedback": clients.campaigns.feedback(member_id=survivor),
    }


def member_missions(clients: Clients, member_id: str) -> list[dict]:
    """The member's missions from campaigns, each catalog reward among them (`reward_id`)
    named from points' catalog as `reward` (null when none; only its id when points cannot
    say)."""
    found = clients.campaigns.missions(member_id)
    wanted = {mission["reward_id"] for mission in found if mission["reward_id"]}
    catalog: dict[str, dict] = {}
    if wanted:
        try:
            catalog = {reward["id"]: reward for reward in clients.rewards.rewards()}
        except Problem as problem:
            if problem.status < 500:
                raise
    for mission in found:
        reward_id = mission.pop("reward_id")
        known = catalog.get(reward_id or "", {})
        mission["reward"] = (
            {
                "id": reward_id,
                "name": known.get("name"),
                "name_fa": known.get("name_fa"),
                "kind": known.get("kind"),
            }
            if reward_id
            else None
        )
    return found


def member_referral(clients: Clients, member_id: str) -> dict:
    """The member's referral code, its link (the portal's login page with the code filled in),
    and the friends it brought."""
    code, invited = clients.identity.referral_code(member_id)
    rewarded = clients.points.referrals_rewarded(member_id)
    link = f"{request.host_url}portal?{urlencode({'ref': code})}"
    return {"code": code, "link": link, "invited": invited, "rewarded": rewarded}


def audit_trail(clients: Clients, member_id: str, limit: int = 50) -> list[dict]:
    """What staff did to the member, newest first: identity's actions (reveals, merges,
    erasure, exports) and points' adjustments, in the one vocabulary of
    `runtime.staff_actions`. A merge is listed once, as identity records it."""
    found = clients.identity.staff_actions(member_id, limit)
    found += [
        entry
        for entry in clients.points.adjustments(member_id, limit)
        if entry["action"] != MEMBER_MERGE
    ]
    return sorted(found, key=lambda entry: datetime.fromisoformat(entry["at"]), reverse=True)[
        :limit
    ]
