"""`/portal/messages`: what the club sent the member (campaigns' offers, prize draws' news),
newest first, a page at a time, made for a phone."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request

from gateway.clients import clients
from gateway.problems import Problem
from gateway.web import pages
from gateway.web.portal import HOME, failed_page, signed_in_member
from services.runtime.cursors import MESSAGES_PAGE_DEFAULT

bp = Blueprint("portal_messages", __name__)
bp.register_error_handler(Problem, failed_page)

MESSAGES = "/portal/messages"


@bp.get(MESSAGES)
def messages() -> Response:
    member_id = signed_in_member()
    if member_id is None:
        return redirect(HOME, 303)
    cursor = request.args.get("older", "")
    try:
        found = clients().campaigns.member_messages(member_id, MESSAGES_PAGE_DEFAULT, cursor)
    except Problem as problem:
        if problem.status != 422 or not cursor:
            raise
        return redirect(MESSAGES, 303)  # a stale or altered cursor: back to the newest
    return pages.page("portal_messages.html", messages=found, older=bool(cursor))
