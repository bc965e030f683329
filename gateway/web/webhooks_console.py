"""`/console/webhooks`: the administrator's webhook endpoints in the console.

Only staff with the admin role (and the admin token's holder, who has no console session) may
open these pages; a marketer gets 403. They make the admin API's own calls of
`gateway.clients.webhooks`: register an endpoint (its secret shown on the answer page alone,
never kept in a cookie), switch one off or on, read its delivery log and send a delivery again.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request
from werkzeug.datastructures import MultiDict

from gateway.auth import GUARDS
from gateway.clients import clients
from gateway.problems import Problem
from gateway.web import console, console_text, i18n, pages
from gateway.web.forms import field

bp = Blueprint("console_webhooks", __name__)
bp.before_request(pages.csrf_guard)

WEBHOOKS = f"{console.HOME}/webhooks"
ALL = "*"
i18n.MESSAGES.update(console_text.WEBHOOK_MESSAGES)


def is_admin() -> bool:
    caller = console.signed_in_staff()
    return caller is not None and caller.grant in GUARDS["admin"]


@bp.app_context_processor
def _admin_flag() -> dict:
    return {"console_admin": is_admin}


@bp.before_request
def require_admin() -> Response | None:
    caller = console.signed_in_staff()
    if caller is None:
        return redirect(console.SIGN_IN, 303)
    if caller.grant not in GUARDS["admin"]:
        return pages.error_page(403, "webhooks.forbidden", console.HOME)
    return None


@bp.errorhandler(Problem)
def _failed_page(problem: Problem) -> Response:
    if problem.status == 404:
        return pages.error_page(404, "webhooks.not_found", WEBHOOKS)
    if problem.status >= 500:
        return pages.error_page(problem.status, "error.unavailable", WEBHOOKS)
    return pages.error_page(problem.status, "console.failed", WEBHOOKS)


def endpoints_page(status: int = 200, **context: object) -> Response:
    items, event_types = clients().webhooks.endpoints()
    context.setdefault("notice", console.shown_notice())
    context.setdefault("form", request.form)
    return pages.page(
        "console_webhooks.html", status, endpoints=items, event_types=event_types, **context
    )


@bp.get(WEBHOOKS)
def endpoints() -> Response:
    return endpoints_page()


@bp.post(WEBHOOKS)
def register() -> Response:
    chosen = request.form.getlist("event_types")
    try:
        created = clients().webhooks.create_endpoint(
            field("url"),
            [ALL] if ALL in chosen else chosen,
            field("description"),
            bool(request.form.get("personal_data")),
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        return endpoints_page(422, notice=console.failed(problem))
    # The secret is on this page only: it is never put in a cookie or a redirect.
    return endpoints_page(201, created=created, form=MultiDict())


@bp.get(f"{WEBHOOKS}/<endpoint_id>")
def deliveries(endpoint_id: str) -> Response:
    found = next((e for e in clients().webhooks.endpoints()[0] if e["id"] == endpoint_id), None)
    if found is None:
        return pages.error_page(404, "webhooks.not_found", WEBHOOKS)
    shown = request.args.get("status", "")
    return pages.page(
        "console_webhook.html",
        endpoint=found,
        deliveries=clients().webhooks.deliveries(endpoint_id, shown, "", 100),
        shown=shown,
        notice=console.shown_notice(),
    )


@bp.post(f"{WEBHOOKS}/<endpoint_id>/enabled")
def switch(endpoint_id: str) -> Response:
    enabled = field("enabled") == "1"
    clients().webhooks.update_endpoint(endpoint_id, {"enabled": enabled})
    console.notice("ok", "webhooks.switched_on" if enabled else "webhooks.switched_off")
    return redirect(f"{WEBHOOKS}/{endpoint_id}", 303)


@bp.post(f"{WEBHOOKS}/<endpoint_id>/deliveries/<delivery_id>/redeliver")
def redeliver(endpoint_id: str, delivery_id: str) -> Response:
    clients().webhooks.redeliver(endpoint_id, delivery_id)
    console.notice("ok", "webhooks.redelivering")
    return redirect(f"{WEBHOOKS}/{endpoint_id}", 303)
