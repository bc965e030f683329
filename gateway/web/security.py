"""What keeps the web pages safe: response headers, CSRF tokens, sealed cookie values."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, Request, Response, current_app, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from gateway.auth import behind_tls

CSRF_FIELD = "csrf_token"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class PageSessions(SecureCookieSessionInterface):
    """Flask's signed session cookie, HTTPS-only whenever the page was served over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return behind_tls()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # An API call carries no page cookie: an empty session, without building the signer.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def configure(app: Flask) -> None:
    config = app.config["LOYALTY"]
    app.secret_key = config.web_secret
    app.session_interface = PageSessions()
    app.config.update(
        SESSION_COOKIE_NAME="loyalty_web",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["sealer"] = Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"sealed:" + config.web_secret.encode()).digest())
    )
    app.jinja_env.globals["csrf_token"] = csrf_token


# Lower-cased once: every response is checked for each of them.
_DEFAULTS = [(name.lower(), name, value) for name, value in HEADERS.items()]
_HSTS = "Strict-Transport-Security"


def add_headers(response: Response, overrides: dict[str, str] | None = None) -> Response:
    """Sets `overrides`, then each of HEADERS (and HSTS over TLS) the view did not set itself.

    One pass over the response's headers, not a case-insensitive scan per header: this runs on
    every response.
    """
    headers = response.headers
    present = {key.lower() for key, _value in headers}
    for name, value in (overrides or {}).items():
        if name.lower() in present:
            headers[name] = value
        else:
            headers.add(name, value)
    for lower, name, value in _DEFAULTS:
        if lower not in present:
            headers.add(name, value)
    if behind_tls() and _HSTS.lower() not in present:
        headers.add(_HSTS, "max-age=31536000")
    return response


class CsrfRejected(Exception):
    """A POST without this session's CSRF token."""


def csrf_token() -> str:
    """This browser session's token, put in every form and checked on every POST."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Before any POST of a web page: the form must carry the session's token."""
    if request.method != "POST":
        return
    expected = session.get("csrf", "")
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRejected


def seal(value: str) -> str:
    """Encrypted and authenticated, for secrets kept in the session cookie (a POS key)."""
    return current_app.extensions["sealer"].encrypt(value.encode()).decode()


def unseal(token: str) -> str | None:
    try:
        return current_app.extensions["sealer"].decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
