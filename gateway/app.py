"""The Flask application factory."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import problems
from gateway.auth import PosKeys, SessionTokens
from gateway.blueprints import (
    admin,
    cases,
    marketing,
    me,
    member_care,
    pos,
    pos_keys,
    sessions,
    staff,
    system,
    webhooks,
)
from gateway.clients import Clients, connect
from gateway.config import MAX_BODY, GatewayConfig
from gateway.import_jobs import ImportJobs
from gateway.web import (
    admin_console,
    console,
    console_draws,
    console_rewards,
    desk,
    docs,
    pages,
    portal,
    portal_draws,
    portal_messages,
    portal_rewards,
    staff_pages,
    till,
    webhooks_console,
    welcome,
)
from gateway.web.security import add_headers
from services.runtime import metrics, tracecontext
from services.runtime.cache import Cache
from services.runtime.logs import (
    clean_request_id,
    log,
    reset_request_id,
    set_request_id,
)

logger = logging.getLogger("access")


def create_app(config: GatewayConfig | None = None, clients: Clients | None = None) -> Flask:
    """The gateway; `clients` of the services are made from `config` unless given."""
    config = config or GatewayConfig.load()
    app = Flask(__name__)
    app.config["LOYALTY"] = config
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False  # type: ignore[attr-defined]
    cache = Cache(config.redis_url, f"{config.cache_prefix}:gateway")
    if config.proxy_hops:
        # The client's address as the trusted proxies saw it: what rate limits count by.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.proxy_hops, x_proto=config.proxy_hops
        )
    app.extensions["cache"] = cache
    app.extensions["clients"] = clients if clients is not None else connect(config)
    app.extensions["pos_keys"] = PosKeys(cache)
    app.extensions["sessions"] = SessionTokens()
    app.extensions["member_imports"] = ImportJobs(app.extensions["clients"], cache)

    pages.configure(app)
    for blueprint in (
        system.bp,
        admin.bp,
        pos_keys.bp,
        pos.bp,
        sessions.bp,
        staff.bp,
        marketing.bp,
        pages.bp,
        till.bp,
        portal.bp,
        portal_rewards.bp,
        portal_draws.bp,
        portal_messages.bp,
        console.bp,
        console_rewards.bp,
        console_draws.bp,
        webhooks_console.bp,
        docs.bp,
        me.bp,
        cases.bp,
        member_care.bp,
        webhooks.bp,
        staff_pages.bp,
        desk.bp,
        admin_console.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(welcome.bp)
    problems.register(app)

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.request_id = clean_request_id(request.headers.get("X-Request-Id"))
        g.request_id_token = set_request_id(g.request_id)
        g.span_token = tracecontext.start_span(request.headers.get(tracecontext.TRACEPARENT_HEADER))

    @app.after_request
    def _finish(response: Response) -> Response:
        add_headers(
            response,
            {
                "X-Request-Id": g.get("request_id", ""),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )
        # The route's pattern, not the path: no identifiers or query strings in logs or metrics.
        route = request.url_rule.rule if request.url_rule else "unmatched"
        seconds = time.perf_counter() - g.started
        metrics.observe_http(request.method, route, response.status_code, seconds)
        if request.path not in ("/healthz", "/readyz"):
            log(
                logger,
                "http",
                method=request.method,
                route=route,
                status=response.status_code,
                duration_ms=round(seconds * 1000, 2),
            )
        return response

    @app.teardown_request
    def _teardown(_error: BaseException | None) -> None:
        span = g.pop("span_token", None)
        if span is not None:
            tracecontext.end_span(span)
        token = g.pop("request_id_token", None)
        if token is not None:
            reset_request_id(token)

    return app
