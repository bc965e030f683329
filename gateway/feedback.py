"""Member feedback, for the member routes: the schema of the body and the call that stores it."""

from __future__ import annotations

from flask import current_app

from loyalty.campaigns.v1 import campaigns_pb2

FEEDBACK_REQUEST = {
    "type": "object",
    "required": ["feedback_id", "rating"],
    "properties": {
        "feedback_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "The client's own id: a retry with the same id is stored once",
        },
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "comment": {"type": "string", "maxLength": 2000},
    },
}
FEEDBACK = {
    "type": "object",
    "required": ["feedback_id", "rating"],
    "properties": {"feedback_id": {"type": "string"}, "rating": {"type": "integer"}},
}


def submit_feedback(member_id: str, body: dict) -> tuple[dict, int]:
    """Stores a member's feedback with campaigns (a low rating flags them dissatisfied)."""
    current_app.extensions["upstreams"].campaigns.SubmitFeedback(
        campaigns_pb2.SubmitFeedbackRequest(
            feedback_id=body["feedback_id"],
            member_id=member_id,
            rating=body["rating"],
            comment=body.get("comment", ""),
        )
    )
    return {"feedback_id": body["feedback_id"], "rating": body["rating"]}, 201
