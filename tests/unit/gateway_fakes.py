"""Stand-ins for the gateway's clients of the services, in memory: what the fast tests
pass to `create_app(config, clients)` to drive the gateway through Flask's test client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.clients import Clients
from gateway.clients.identity import Grant, PosKeyInfo, SessionInfo
from gateway.problems import Problem

POS_KEY = "lk_store_one_key"
STORE_ID = "5d7c1b0e-4f1a-4b7e-9c3d-2a1b0c9d8e7f"
MEMBER_TOKEN = "ls_member_session"
MARKETER_TOKEN = "ls_marketer_session"
STAFF_PASSWORD = "a long passphrase"
LOGIN_CODE = "123456"
ENDS = datetime(2030, 1, 1, tzinfo=UTC)


def member(member_id: str, phone: str, first_name: str = "", last_name: str = "") -> dict:
    return {
        "id": member_id,
        "card_number": "6037990000012340",
        "phone_masked": phone[:4] + "*****" + phone[-2:],
        "email_masked": "",
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": None,
        "city": "",
        "consents": {},
        "enrolled_at": "2026-01-01T00:00:00Z",
        "gender": "",
        "interests": [],
    }


def not_found() -> Problem:
    return Problem(404, "member-not-found", "member not found")


class FakeIdentity:
    def __init__(self) -> None:
        self.members: dict[str, dict] = {}
        self.phones: dict[str, str] = {}
        self.logins: list[str] = []
        self.revoked: list[str] = []
        # The member ids `member` was asked about.
        self.looked_up: list[str] = []
        self.sessions = {
            MARKETER_TOKEN: SessionInfo("staff", "staff-1", "marketer", ENDS),
        }

    def health(self) -> str:
        return "SERVING"

    def add(self, phone: str, first_name: str = "", last_name: str = "") -> dict:
        found = member(str(uuid.uuid4()), phone, first_name, last_name)
        self.members[found["id"]] = found
        self.phones[phone] = found["id"]
        return found

    def enrol(self, details: dict, consents: dict, store_id: str, source: str) -> dict:
        if details["phone"] in self.phones:
            raise Problem(409, "phone-taken", "a member has this phone")
        return self.add(details["phone"], details.get("first_name", ""))

    def identify(self, name: str, value: str) -> dict:
        if name != "phone" or value not in self.phones:
            raise not_found()
        return self.members[self.phones[value]]

    def referral_code(self, member_id: str) -> tuple[str, int]:
        return "K7M2Q9P", 0

    def member(self, member_id: str) -> dict:
        self.looked_up.append(member_id)
        if member_id not in self.members:
            raise not_found()
        return self.members[member_id]

    def store_names(self, store_ids: set[str]) -> dict[str, str]:
        return {}

    def pos_key(self, api_key: str) -> PosKeyInfo:
        if api_key != POS_KEY:
            raise Problem(401, "unauthenticated", "not a valid POS key")
        return PosKeyInfo(store_id=STORE_ID, key_id="key-1", ends=None)

    def session(self, token: str) -> SessionInfo:
        if token in self.revoked or token not in self.sessions:
            raise Problem(401, "unauthenticated", "the session is not valid")
        return self.sessions[token]

    def revoke_session(self, token: str) -> None:
        self.revoked.append(token)

    def start_login(self, phone: str, client_address: str, language: str = "en") -> int:
        return 120

    def verify_login(
        self, phone: str, code: str, client_address: str, referral_code: str = ""
    ) -> Grant:
        self.logins.append(phone)
        if code != LOGIN_CODE:
            raise Problem(401, "invalid-code", "the code is wrong or expired")
        enrolled = phone not in self.phones
        found = self.members[self.phones[phone]] if not enrolled else self.add(phone)
        self.sessions[MEMBER_TOKEN] = SessionInfo("member", found["id"], "", ENDS)
        return Grant(
            MEMBER_TOKEN, "2030-01-01T00:00:00Z", ENDS, member_id=found["id"], enrolled=enrolled
        )

    def login_staff(self, email: str, password: str, client_address: str) -> Grant:
        if password != STAFF_PASSWORD:
            raise Problem(401, "invalid-credentials", "wrong e-mail or password")
        return Grant(
            MARKETER_TOKEN, "2030-01-01T00:00:00Z", ENDS, staff_id="staff-1", role="marketer"
        )

    def open_till_session(self, api_key: str) -> str:
        self.pos_key(api_key)
        self.sessions["ls_till"] = SessionInfo("till", "key-1", "", ENDS)
        return "ls_till"


class FakePoints:
    """Earns one point per 10,000 of the amount; keeps every call it answered."""

    def __init__(self, identity: FakeIdentity) -> None:
        self._identity = identity
        self.available: dict[str, int] = {}
        self.calls: list[tuple[str, Any]] = []

    def health(self) -> str:
        return "SERVING"

    def _known(self, member_id: str) -> None:
        if member_id not in self._identity.members:
            raise Problem(422, "unknown-member", "no member with this member_id")

    def record_purchase(self, store_id: str, purchase: dict) -> dict:
        self.calls.append(("purchase", (store_id, purchase)))
        self._known(purchase["member_id"])
        earned = int(purchase["amount"]) // 10_000
        self.available[purchase["member_id"]] = self.balance_of(purchase["member_id"]) + earned
        return {
            "transaction_id": purchase["transaction_id"],
            "member_id": purchase["member_id"],
            "points_earned": earned,
            "breakdown": [{"source": "base", "points": earned, "reason": "base earning"}],
            "balance": {"available": self.available[purchase["member_id"]], "pending": 0},
        }

    def referrals_rewarded(self, member_id: str) -> int:
        return 0

    def balance_of(self, member_id: str) -> int:
        return self.available.get(member_id, 0)

    def standing(self, member_id: str) -> tuple[dict, bool]:
        """The balance, and whether points has heard of the member (it earned here)."""
        return self.balance(member_id), member_id in self.available

    def balance(self, member_id: str) -> dict:
        self.calls.append(("balance", member_id))
        return {
            "member_id": member_id,
            "available": self.balance_of(member_id),
            "pending": 0,
            "held": 0,
            "debt": 0,
            "available_value": f"{self.balance_of(member_id) * 100}.00",
            "expiring": [],
            "tier": {
                "name": "bronze",
                "title": "Bronze",
                "title_fa": "برنز",
                "multiplier": "1",
                "qualifying_spend": "0",
                "review_at": None,
                "next": None,
                "currency": "IRR",
            },
        }

    def ledger(self, member_id: str, limit: int, cursor: str) -> dict:
        self.calls.append(("ledger", (member_id, limit, cursor)))
        return {"items": [], "next_cursor": None}

    def activity(self, member_id: str, limit: int, cursor: str) -> dict:
        self.calls.append(("activity", (member_id, limit, cursor)))
        return {"items": [], "next_cursor": None}

    def refund(self, store_id: str, transaction_id: str, refund_id: str, amount: str) -> dict:
        self.calls.append(("refund", (store_id, transaction_id, refund_id, amount)))
        return {
            "refund_id": refund_id,
            "transaction_id": transaction_id,
            "member_id": "",
            "points_reversed": int(amount) // 10_000,
            "debt_added": 0,
            "balance": {"available": 0, "pending": 0, "debt": 0},
        }

    def hold(self, store_id: str, redemption: dict) -> dict:
        self.calls.append(("hold", (store_id, redemption)))
        self._known(redemption["member_id"])
        member_id, points = redemption["member_id"], redemption["points"]
        if points > self.balance_of(member_id):
            raise Problem(422, "insufficient-points", "not enough points")
        self.available[member_id] -= points
        return {
            "redemption_id": redemption["redemption_id"],
            "member_id": member_id,
            "points": points,
            "status": "captured" if redemption.get("capture") else "held",
            "expires_at": (ENDS + timedelta(minutes=15)).isoformat(),
            "balance": {"available": self.available[member_id], "pending": 0},
        }

    def capture(self, store_id: str, redemption_id: str) -> dict:
        self.calls.append(("capture", redemption_id))
        raise AssertionError("not expected")

    def void(self, store_id: str, redemption_id: str) -> dict:
        self.calls.append(("void", redemption_id))
        raise AssertionError("not expected")


# What the campaigns service answers as each status's allowed actions.
FAKE_TRANSITIONS = {
    "draft": ("launch", "end"),
    "active": ("pause", "end"),
    "paused": ("launch", "end"),
    "ended": (),
}


class FakeCampaigns:
    def __init__(self) -> None:
        self.campaigns_made: list[dict] = []
        self.statuses: dict[str, str] = {}

    def health(self) -> str:
        return "SERVING"

    def missions(self, member_id: str) -> list[dict]:
        return []

    def offers(self, member_id: str, store_id: str = "", timeout: float = 0.9) -> list[dict]:
        return [
            {
                "campaign_id": "c-1",
                "title": "Double points on dairy",
                "description": "",
                "code": "LOYAL2X",
                "ends_at": None,
            }
        ]

    def feedback(self, limit: int = 100, member_id: str = "") -> list[dict]:
        return []

    def submit_feedback(self, member_id: str, feedback_id: str, rating: int, comment: str):
        return feedback_id

    def _json(self, campaign_id: str) -> dict:
        definition = self.campaigns_made[int(campaign_id)]
        return {
            "id": campaign_id,
            "name": definition["name"],
            "kind": definition["kind"],
            "status": self.statuses[campaign_id],
            "definition": definition,
            "awarded_points": 0,
            "created_at": "2026-01-01T00:00:00+00:00",
            "launched_at": None,
            "allowed_actions": list(FAKE_TRANSITIONS[self.statuses[campaign_id]]),
            "deletable": self.statuses[campaign_id] == "draft",
        }

    def create_campaign(self, definition: dict) -> dict:
        self.campaigns_made.append(definition)
        campaign_id = str(len(self.campaigns_made) - 1)
        self.statuses[campaign_id] = "draft"
        return self._json(campaign_id)

    def campaigns(self) -> list[dict]:
        return [self._json(campaign_id) for campaign_id in self.statuses]

    def change_status(self, campaign_id: str, action: str) -> dict:
        if campaign_id not in self.statuses:
            raise Problem(404, "campaign-not-found", "no such campaign")
        self.statuses[campaign_id] = {"launch": "active", "pause": "paused", "end": "ended"}[action]
        return self._json(campaign_id)


class FakeWebhooks:
    def health(self) -> str:
        return "SERVING"


def fake_clients() -> Clients:
    identity = FakeIdentity()
    return Clients(
        identity=identity,  # type: ignore[arg-type]
        points=FakePoints(identity),  # type: ignore[arg-type]
        campaigns=FakeCampaigns(),  # type: ignore[arg-type]
        rewards=None,  # type: ignore[arg-type]
        webhooks=FakeWebhooks(),  # type: ignore[arg-type]
    )
