"""Request and response schemas the member-facing routes share (the POS API, /v1/me, member
care): they validate bodies and document the API."""

from __future__ import annotations

from flask import request

from gateway.api import query_param
from gateway.problems import Problem
from services.runtime.cursors import MESSAGES_PAGE_DEFAULT, MESSAGES_PAGE_MAX
from services.runtime.points_limits import LEDGER_PAGE_DEFAULT, LEDGER_PAGE_MAX, MAX_POINTS

BATCH_MAX = 5000

MONEY = {
    "type": ["string", "integer"],
    "description": 'Decimal in the currency\'s major unit, e.g. "125000" or "12.50"',
}

CONSENT = {
    "type": "object",
    "properties": {
        "granted": {"type": "boolean"},
        "source": {"type": "string"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

BALANCE = {
    "type": "object",
    "required": ["available", "pending"],
    "properties": {"available": {"type": "integer"}, "pending": {"type": "integer"}},
}

ENROL_REQUEST = {
    "type": "object",
    "required": ["phone"],
    "properties": {
        "phone": {"type": "string", "minLength": 1, "maxLength": 40},
        "email": {"type": "string", "maxLength": 254},
        "first_name": {"type": "string", "maxLength": 100},
        "last_name": {"type": "string", "maxLength": 100},
        "birth_date": {"type": "string", "description": "YYYY-MM-DD"},
        "city": {"type": "string", "maxLength": 100},
        "consents": {
            "type": "object",
            "description": "Marketing consents given at enrolment",
            "properties": {"sms": {"type": "boolean"}, "email": {"type": "boolean"}},
            "additionalProperties": False,
        },
        "referral_code": {
            "type": "string",
            "maxLength": 20,
            "description": "The referral code of the member who brought this friend; unknown,"
            " or with referrals off: 422 `invalid-referral-code`, and nobody is enrolled",
        },
    },
}

MEMBER = {
    "type": "object",
    "required": ["id", "card_number", "phone_masked"],
    "properties": {
        "id": {"type": "string"},
        "card_number": {"type": "string"},
        "phone_masked": {"type": "string"},
        "email_masked": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "birth_date": {"type": ["string", "null"]},
        "city": {"type": "string"},
        "consents": {"type": "object", "additionalProperties": CONSENT},
        "enrolled_at": {"type": "string", "format": "date-time"},
        "gender": {"type": "string"},
        "interests": {"type": "array", "items": {"type": "string"}},
    },
}

OFFER = {
    "type": "object",
    "required": ["campaign_id", "title", "description", "code", "ends_at"],
    "properties": {
        "campaign_id": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "code": {"type": ["string", "null"], "description": "A coupon code, if the offer has one"},
        "ends_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

IDENTIFIED = {
    "type": "object",
    "required": ["member_id", "display_name", "phone_masked", "tier", "points", "offers"],
    "properties": {
        "member_id": {"type": "string"},
        "display_name": {"type": "string"},
        "phone_masked": {"type": "string"},
        "tier": {"type": "string"},
        "points": BALANCE,
        "offers": {
            "type": "array",
            "items": OFFER,
            "description": "Offers the member may use here; empty if campaigns did not answer",
        },
    },
}

PURCHASE_REQUEST = {
    "type": "object",
    "required": ["transaction_id", "member_id", "amount", "currency"],
    "properties": {
        "transaction_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "The POS's own id: a retry with the same id is applied once",
        },
        "member_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "amount": MONEY,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "items": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["sku", "quantity", "unit_price"],
                "properties": {
                    "sku": {"type": "string", "minLength": 1, "maxLength": 64},
                    "category": {"type": "string", "maxLength": 64},
                    "quantity": {"type": ["string", "integer"]},
                    "unit_price": MONEY,
                },
            },
        },
        "occurred_at": {"type": "string", "format": "date-time"},
    },
}

PURCHASE = {
    "type": "object",
    "required": ["transaction_id", "member_id", "points_earned", "breakdown", "balance"],
    "properties": {
        "transaction_id": {"type": "string"},
        "member_id": {"type": "string"},
        "points_earned": {"type": "integer"},
        "breakdown": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "string"},
                    "points": {"type": "integer"},
                    "reason": {"type": "string"},
                },
            },
        },
        "balance": BALANCE,
    },
}

POINTS = {
    "type": "object",
    "required": ["member_id", "available", "pending", "held", "debt", "expiring", "tier"],
    "properties": {
        "member_id": {"type": "string"},
        "available": {"type": "integer", "description": "Spendable now"},
        "pending": {"type": "integer", "description": "Earned, spendable after the return window"},
        "held": {"type": "integer", "description": "Reserved by open redemptions"},
        "debt": {"type": "integer", "description": "Owed after a refund of spent points"},
        "available_value": {
            "type": "string",
            "description": "What the available points are worth in money (at POINTS_VALUE)",
        },
        "expiring": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "points": {"type": "integer"},
                    "expires_at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "tier": {
            "type": "object",
            "required": ["name", "title", "title_fa", "multiplier", "qualifying_spend", "next"],
            "properties": {
                "name": {"type": "string", "description": "What rules and segments name it by"},
                "title": {"type": "string", "description": "What members read, in English"},
                "title_fa": {"type": "string", "description": "What members read, in Persian"},
                "multiplier": {"type": "string"},
                "qualifying_spend": {"type": "string", "description": "Over the tier window"},
                "review_at": {"type": ["string", "null"], "format": "date-time"},
                "next": {
                    "type": ["object", "null"],
                    "properties": {
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "title_fa": {"type": "string"},
                        "spend_needed": {"type": "string"},
                    },
                },
                "currency": {"type": "string"},
            },
        },
    },
}

REFUND_REQUEST = {
    "type": "object",
    "required": ["refund_id", "amount"],
    "properties": {
        "refund_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "The POS's own id: a retry with the same id is applied once",
        },
        "amount": MONEY,
    },
}

REFUND = {
    "type": "object",
    "required": ["refund_id", "transaction_id", "points_reversed", "debt_added", "balance"],
    "properties": {
        "refund_id": {"type": "string"},
        "transaction_id": {"type": "string"},
        "member_id": {"type": "string"},
        "points_reversed": {"type": "integer"},
        "debt_added": {"type": "integer"},
        "balance": {
            "type": "object",
            "properties": {
                "available": {"type": "integer"},
                "pending": {"type": "integer"},
                "debt": {"type": "integer"},
            },
        },
    },
}

PURCHASE_FOUND = {
    "type": "object",
    "required": ["transaction_id", "member_id", "amount", "refunded", "refundable"],
    "properties": {
        "transaction_id": {"type": "string"},
        "member_id": {"type": "string"},
        "amount": {"type": "string", "description": "What was paid"},
        "refunded": {"type": "string", "description": "What refunds have given back so far"},
        "refundable": {"type": "string", "description": "What is left to refund"},
        "points_earned": {"type": "integer"},
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the purchase happened at the till",
        },
    },
}

REDEMPTION_REQUEST = {
    "type": "object",
    "required": ["redemption_id", "member_id", "points"],
    "properties": {
        "redemption_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "The POS's own id: a retry with the same id is applied once",
        },
        "member_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "points": {"type": "integer", "minimum": 1, "maximum": MAX_POINTS},
        "capture": {
            "type": "boolean",
            "description": "Spend at once (pay with points) instead of holding",
        },
    },
}

REDEMPTION = {
    "type": "object",
    "required": ["redemption_id", "status", "points", "expires_at", "balance"],
    "properties": {
        "redemption_id": {"type": "string"},
        "member_id": {"type": "string"},
        "points": {"type": "integer"},
        "status": {"type": "string", "enum": ["held", "captured", "voided", "expired"]},
        "expires_at": {"type": "string", "format": "date-time"},
        "balance": BALANCE,
    },
}

LEDGER = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": "string"},
                    "points": {"type": "integer"},
                    "bucket": {"type": "string"},
                    "reason": {"type": "string"},
                    "source_type": {"type": "string"},
                    "source_id": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "next_cursor": {"type": ["string", "null"]},
    },
}

BATCH_REQUEST = {
    "type": "object",
    "required": ["purchases"],
    "properties": {
        "purchases": {
            "type": "array",
            "minItems": 1,
            "maxItems": BATCH_MAX,
            "description": "Each line as for POST /v1/purchases; each is checked on its own",
        }
    },
}

BATCH_LINE = {
    "type": "object",
    "required": ["index", "status"],
    "properties": {
        "index": {"type": "integer"},
        "transaction_id": {"type": ["string", "null"]},
        "status": {"type": "integer", "description": "What POST /v1/purchases would answer"},
        "points_earned": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
    },
}

BATCH = {
    "type": "object",
    "required": ["lines", "applied", "failed", "results"],
    "properties": {
        "lines": {"type": "integer"},
        "applied": {"type": "integer"},
        "failed": {"type": "integer"},
        "results": {"type": "array", "items": BATCH_LINE},
    },
}


# Examples of answers, shown in /openapi.json and on /docs (each one valid against its schema).
MEMBER_ID_EXAMPLE = "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10"

MEMBER_EXAMPLE = {
    "id": MEMBER_ID_EXAMPLE,
    "card_number": "6037990000012340",
    "phone_masked": "+98 912 *** **67",
    "email_masked": "",
    "first_name": "Sara",
    "last_name": "",
    "birth_date": None,
    "city": "",
    "consents": {
        "sms": {"granted": True, "source": "pos", "updated_at": "2026-11-22T09:30:00Z"},
    },
    "enrolled_at": "2026-11-22T09:30:00Z",
}

IDENTIFIED_EXAMPLE = {
    "member_id": MEMBER_ID_EXAMPLE,
    "display_name": "Sara A.",
    "phone_masked": "+98 912 *** **67",
    "tier": "member",
    "points": {"available": 125, "pending": 0},
    "offers": [
        {
            "campaign_id": "3c9b1f0e-7a2d-4e5f-8b6a-1d2c3e4f5a6b",
            "title": "Free coffee with any pastry",
            "description": "Show this at the counter",
            "code": "COFFEE-7",
            "ends_at": "2026-12-31T20:30:00Z",
        }
    ],
}

PURCHASE_EXAMPLE = {
    "transaction_id": "T-1001",
    "member_id": MEMBER_ID_EXAMPLE,
    "points_earned": 125,
    "breakdown": [{"source": "base", "points": 125, "reason": "1 point per 10000 IRR"}],
    "balance": {"available": 125, "pending": 0},
}

BATCH_EXAMPLE = {
    "lines": 2,
    "applied": 1,
    "failed": 1,
    "results": [
        {"index": 0, "transaction_id": "T-OFF-1", "status": 201, "points_earned": 25},
        {
            "index": 1,
            "transaction_id": "T-OFF-2",
            "status": 422,
            "code": "unknown-member",
            "detail": "no member with this member_id",
        },
    ],
}

POINTS_EXAMPLE = {
    "member_id": MEMBER_ID_EXAMPLE,
    "available": 75,
    "pending": 0,
    "held": 50,
    "debt": 0,
    "available_value": "7500",
    "expiring": [{"points": 75, "expires_at": "2027-12-31T23:59:59Z"}],
    "tier": {
        "name": "member",
        "title": "Member",
        "title_fa": "عضو",
        "multiplier": "1",
        "qualifying_spend": "1250000",
        "review_at": "2027-11-22T00:00:00Z",
        "next": {
            "name": "silver",
            "title": "Silver",
            "title_fa": "نقره‌ای",
            "spend_needed": "8750000",
        },
        "currency": "IRR",
    },
}

LEDGER_EXAMPLE = {
    "items": [
        {
            "id": "3c9e2f4a-8d1b-4e6f-a2c3-5b7d9e1f0a2b",
            "kind": "earn",
            "points": 125,
            "bucket": "available",
            "reason": "purchase",
            "source_type": "purchase",
            "source_id": "T-1001",
            "created_at": "2026-11-22T09:31:00Z",
        }
    ],
    "next_cursor": None,
}

REFUND_EXAMPLE = {
    "refund_id": "R-1001",
    "transaction_id": "T-1001",
    "member_id": MEMBER_ID_EXAMPLE,
    "points_reversed": 62,
    "debt_added": 0,
    "balance": {"available": 63, "pending": 0, "debt": 0},
}


PURCHASE_FOUND_EXAMPLE = {
    "transaction_id": "T-1001",
    "member_id": MEMBER_ID_EXAMPLE,
    "amount": "1250000",
    "refunded": "625000",
    "refundable": "625000",
    "points_earned": 125,
    "occurred_at": "2026-11-22T10:15:00Z",
}


def redemption_example(status: str) -> dict:
    return {
        "redemption_id": "RD-1001",
        "member_id": MEMBER_ID_EXAMPLE,
        "points": 50,
        "status": status,
        "expires_at": "2026-11-22T09:46:00Z",
        "balance": {"available": 75, "pending": 0},
    }


def page_query(what: str, default: int, maximum: int) -> list[dict]:
    """The query parameters of a paged list: `limit` (`what` per page) and `cursor`."""
    return [
        query_param(
            "limit",
            f"{what} per page (1-{maximum}, default {default})",
            {"type": "integer", "minimum": 1, "maximum": maximum},
        ),
        query_param("cursor", "`next_cursor` of the previous page"),
    ]


def page_args(default: int, maximum: int) -> tuple[int, str]:
    """`limit` and `cursor` of a paged list, from the query string."""
    raw_limit = request.args.get("limit", str(default))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= maximum:
        raise Problem(400, "invalid-request", f"limit must be a whole number from 1 to {maximum}")
    return int(raw_limit), request.args.get("cursor", "")


LEDGER_QUERY = page_query("Entries", LEDGER_PAGE_DEFAULT, LEDGER_PAGE_MAX)
MESSAGES_QUERY = page_query("Messages", MESSAGES_PAGE_DEFAULT, MESSAGES_PAGE_MAX)


def ledger_page_args() -> tuple[int, str]:
    """`limit` and `cursor` of a ledger page, from the query string."""
    return page_args(LEDGER_PAGE_DEFAULT, LEDGER_PAGE_MAX)


def messages_page_args() -> tuple[int, str]:
    return page_args(MESSAGES_PAGE_DEFAULT, MESSAGES_PAGE_MAX)


EXPORT = {
    "type": "object",
    "required": ["identity", "points", "ledger", "feedback"],
    "properties": {
        "identity": {"type": "object"},
        "points": POINTS,
        "ledger": {"type": "array", "items": {"type": "object"}},
        "feedback": {
            "type": "array",
            "description": "Every rating the member gave, with its comment, newest first",
            "items": {
                "type": "object",
                "properties": {
                    "feedback_id": {"type": "string"},
                    "rating": {"type": "integer"},
                    "comment": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
}

# The rewards catalog and coupons (marketing, /v1/me, the POS API, member care).

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
COUPON_TERMS_REQUEST = {
    "type": "object",
    "required": ["type", "value"],
    "properties": {
        "type": {"type": "string", "enum": ["amount", "percent"]},
        "value": {
            **MONEY,
            "description": 'The amount off (a decimal, e.g. "50000"), or the percent ("20")',
        },
        "max_discount": {**MONEY, "description": "A percent coupon's cap"},
        "min_purchase": {**MONEY, "description": "The least purchase it can be used with"},
    },
}
COUPON_TERMS = {
    "type": ["object", "null"],
    "description": "What a club coupon takes off; null for a partner code or a gift",
    "properties": {
        "type": {"type": "string", "enum": ["amount", "percent"]},
        "value": {"type": "string"},
        "max_discount": {"type": ["string", "null"]},
        "min_purchase": {"type": ["string", "null"]},
        "currency": {"type": ["string", "null"]},
    },
}
VISIBILITY = {
    "type": "object",
    "description": "Who sees the reward: empty lists everywhere for every member, otherwise"
    " a member in any one of the tiers, campaigns segments or lifecycle stages",
    "properties": {
        name: {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}}
        for name in ("tiers", "segment_ids", "stages")
    },
}
REWARD_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string", "maxLength": 2000},
    "name_fa": {"type": "string", "maxLength": 200},
    "description_fa": {"type": "string", "maxLength": 2000},
    "points_cost": {"type": "integer", "minimum": 1, "maximum": MAX_POINTS},
    "stock": {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": MAX_POINTS,
        "description": "null: unlimited",
    },
    "per_member_limit": {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 1_000_000,
        "description": "Redemptions per member; null or 0: no limit",
    },
    "valid_days": {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 3650,
        "description": "Days a coupon is valid after it is issued; null or 0: no expiry",
    },
    "starts_at": NULLABLE_TIME,
    "ends_at": NULLABLE_TIME,
    "visibility": VISIBILITY,
    "coupon": COUPON_TERMS_REQUEST,
    "status": {"type": "string", "enum": ["active", "paused"]},
    "refund_on_cancel": {
        "type": "boolean",
        "description": "Cancelling one of its coupons gives the member's points back",
    },
}
REWARD_REQUEST = {
    "type": "object",
    "required": ["name", "points_cost"],
    "properties": {
        "kind": {
            "type": "string",
            "enum": ["coupon", "partner_code", "gift"],
            "description": "A club coupon (the default: give `coupon`), a partner's code from"
            " the uploaded pool, or a gift collected at a store",
        },
        **REWARD_FIELDS,
    },
}
REWARD_CHANGE = {
    "type": "object",
    "description": "Only the fields given change; `stock: null` makes it unlimited",
    "properties": REWARD_FIELDS,
}
REWARD = {
    "type": "object",
    "required": ["id", "kind", "name", "points_cost", "status"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["coupon", "partner_code", "gift"]},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "name_fa": {"type": "string"},
        "description_fa": {"type": "string"},
        "points_cost": {"type": "integer"},
        "stock": {"type": ["integer", "null"], "description": "Left to redeem; null: unlimited"},
        "per_member_limit": {"type": ["integer", "null"]},
        "valid_days": {"type": ["integer", "null"]},
        "starts_at": NULLABLE_TIME,
        "ends_at": NULLABLE_TIME,
        "visibility": VISIBILITY,
        "coupon": COUPON_TERMS,
        "status": {"type": "string", "enum": ["active", "paused"]},
        "refund_on_cancel": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "remaining": {
            "type": ["integer", "null"],
            "description": "A member's listing: how many more times they may redeem it"
            " (null: no limit)",
        },
        "figures": {
            "type": "object",
            "description": "Staff listings: coupons issued (all), used, expired, cancelled,"
            " points spent less returned, stock and partner codes left",
            "properties": {
                name: {"type": ["integer", "null"]}
                for name in (
                    "issued",
                    "used",
                    "expired",
                    "cancelled",
                    "points_spent",
                    "stock_left",
                    "codes_left",
                )
            },
        },
    },
}
REWARDS = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": REWARD}},
}
CASE_KINDS = ("complaint", "question", "praise")
CASE_CHANNELS = ("phone", "store", "email", "web", "social")
COUPON = {
    "type": "object",
    "required": ["code", "status", "kind"],
    "properties": {
        "id": {"type": "string"},
        "code": {
            "type": "string",
            "description": "10 characters of 23456789ABCDEFGHJKLMNPQRSTUVWXYZ; show it as it"
            " is (never digit-converted). Accepted in any case, with spaces or dashes",
        },
        "reward_id": {"type": ["string", "null"]},
        "member_id": {"type": "string"},
        "kind": {"type": "string", "enum": ["coupon", "partner_code", "gift"]},
        "status": {"type": "string", "enum": ["issued", "used", "expired", "cancelled"]},
        "name": {"type": "string"},
        "name_fa": {"type": "string"},
        "partner_code": {
            "type": ["string", "null"],
            "description": "The partner's code to use at the partner",
        },
        "discount": COUPON_TERMS,
        "points_spent": {"type": "integer"},
        "issued_at": {"type": "string", "format": "date-time"},
        "expires_at": NULLABLE_TIME,
        "used_at": NULLABLE_TIME,
        "store_id": {"type": ["string", "null"]},
        "transaction_id": {"type": ["string", "null"]},
        "campaign_id": {"type": ["string", "null"]},
    },
}
COUPONS = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": COUPON}},
}
COUPON_CODE_EXAMPLE = "K7QM4XHD2P"
COUPON_EXAMPLE = {
    "id": "0b8e5a52-7c1d-4a3e-9f0b-2d4c6e8a1b3f",
    "code": COUPON_CODE_EXAMPLE,
    "reward_id": "5d2f8c41-3b6a-4e9d-8c7f-1a2b3c4d5e6f",
    "member_id": "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10",
    "kind": "coupon",
    "status": "issued",
    "name": "10% off your next basket",
    "name_fa": "۱۰٪ تخفیف خرید بعدی",
    "partner_code": None,
    "discount": {
        "type": "percent",
        "value": "10",
        "max_discount": "500000",
        "min_purchase": None,
        "currency": "IRR",
    },
    "points_spent": 500,
    "issued_at": "2026-12-03T10:00:00+00:00",
    "expires_at": "2027-01-02T10:00:00+00:00",
    "used_at": None,
    "store_id": None,
    "transaction_id": None,
    "campaign_id": None,
}

TARGETING = {
    "type": "object",
    "description": (
        "everyone: true, or segments (ids), stages, tiers, stores (where members enrolled):"
        " all must match"
    ),
    "properties": {
        "everyone": {"type": "boolean"},
        "segments": {"type": "array", "items": {"type": "string"}},
        "stages": {"type": "array", "items": {"type": "string"}},
        "tiers": {"type": "array", "items": {"type": "string"}},
        "stores": {"type": "array", "items": {"type": "string"}},
    },
}
DRAW_REQUEST = {
    "type": "object",
    "required": ["name", "closes_at", "prizes", "chances"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "closes_at": {
            "type": "string",
            "format": "date-time",
            "description": "After this no chances are earned or bought",
        },
        "prizes": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "description": "Drawn in this order, each as many times as its count",
            "items": {
                "type": "object",
                "required": ["name", "count"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "count": {"type": "integer", "minimum": 1, "maximum": 10000},
                },
            },
        },
        "chances": {
            "type": "object",
            "properties": {
                "per_purchase": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Chances each purchase earns",
                },
                "per_amount": {
                    **MONEY,
                    "description": "One chance for each this much spent in a purchase",
                },
                "points_per_chance": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The price of a chance in points (0: not sold)",
                },
                "max_per_member": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The most chances one member may hold (0: no limit)",
                },
            },
        },
        "targeting": {
            **TARGETING,
            "description": (
                "Who may enter, as a campaign's targeting (absent: everyone): only they earn"
                " chances from purchases, buy chances and see the draw while it is open"
            ),
        },
    },
}
DRAW = {
    "type": "object",
    "required": ["id", "name", "status", "closes_at", "prizes", "chances", "seed_sha256"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed", "cancelled"]},
        "closes_at": {"type": "string", "format": "date-time"},
        "prizes": {"type": "array", "items": {"type": "object"}},
        "chances": {"type": "object"},
        "seed_sha256": {
            "type": "string",
            "description": "The SHA-256 (hex) of the secret seed, published at creation",
        },
        "seed": {
            "type": ["string", "null"],
            "description": "The seed (hex), revealed when the draw is closed",
        },
        "winners": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["member_id", "prize"],
                "properties": {"member_id": {"type": "string"}, "prize": {"type": "string"}},
            },
        },
        "my_chances": {"type": "integer", "description": "The member's chances (/v1/me)"},
        "entrants": {
            "type": "integer",
            "description": "Members holding chances, erased members left out (/v1/marketing)",
        },
        "chances_held": {
            "type": "integer",
            "description": "The chances those members hold (/v1/marketing)",
        },
        "targeting": {**TARGETING, "description": "Who may enter (/v1/marketing)"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
DRAWS = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": DRAW}},
}
DRAW_ENTRIES = {
    "type": "object",
    "required": ["draw_id", "seed_sha256", "prizes", "entries"],
    "description": (
        "What `python -m services.campaigns.draw_selection verify FILE SEED` reads: the"
        " entries sorted by member id, no personal data"
    ),
    "properties": {
        "draw_id": {"type": "string"},
        "status": {"type": "string"},
        "seed_sha256": {"type": "string"},
        "seed": {"type": "string"},
        "prizes": {"type": "array", "items": {"type": "object"}},
        "entries": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["member_id", "chances"],
                "properties": {"member_id": {"type": "string"}, "chances": {"type": "integer"}},
            },
        },
        "winners": {"type": "array", "items": {"type": "object"}},
    },
}
