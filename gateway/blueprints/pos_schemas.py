"""Request and response schemas of the POS API: they validate bodies and document the API."""

from __future__ import annotations

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
    },
}

IDENTIFIED = {
    "type": "object",
    "required": ["member_id", "display_name", "phone_masked", "tier", "points"],
    "properties": {
        "member_id": {"type": "string"},
        "display_name": {"type": "string"},
        "phone_masked": {"type": "string"},
        "tier": {"type": "string"},
        "points": BALANCE,
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
            "required": ["name", "multiplier", "qualifying_spend", "next"],
            "properties": {
                "name": {"type": "string"},
                "multiplier": {"type": "string"},
                "qualifying_spend": {"type": "string", "description": "Over the tier window"},
                "review_at": {"type": ["string", "null"], "format": "date-time"},
                "next": {
                    "type": ["object", "null"],
                    "properties": {
                        "name": {"type": "string"},
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
        "points": {"type": "integer", "minimum": 1, "maximum": 1000000000000},
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
