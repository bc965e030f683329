"""The offers a member is meant to see now, for the routes that show them (identify, the
portal): their schema and the call that lists them."""

from __future__ import annotations

from flask import current_app

from loyalty.campaigns.v1 import campaigns_pb2
from services.runtime.convert import from_timestamp

OFFER = {
    "type": "object",
    "required": ["campaign_id", "title"],
    "properties": {
        "campaign_id": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "code": {"type": "string"},
        "ends_at": {"type": ["string", "null"]},
    },
}
OFFERS = {"type": "array", "items": OFFER}


def offers_for(member_id: str, store_id: str = "") -> list[dict]:
    response = current_app.extensions["upstreams"].campaigns.ListOffers(
        campaigns_pb2.ListOffersRequest(member_id=member_id, store_id=store_id)
    )
    offers = []
    for offer in response.offers:
        ends_at = from_timestamp(offer.ends_at)
        offers.append(
            {
                "campaign_id": offer.campaign_id,
                "title": offer.title,
                "description": offer.description,
                "code": offer.code,
                "ends_at": ends_at.isoformat() if ends_at else None,
            }
        )
    return offers
