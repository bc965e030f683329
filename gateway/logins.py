"""How members and staff log in and out: the JSON API and the web pages both come through here.

A member logs in with a code sent to their phone (a new number is enrolled); staff with e-mail
and password (throttled by identity). Either way identity opens a session whose token the
caller sends as a bearer token or the pages keep in the `loyalty_session` cookie.
"""

from __future__ import annotations

from flask import current_app

from gateway.clients import clients
from gateway.clients.identity import Grant
from gateway.limits import client_ip


def send_member_code(phone: str, language: str = "en") -> int:
    """Sends a login code to the phone, its message in `language`; seconds it works."""
    return clients().identity.start_login(phone, client_ip(), language)


def log_in_member(phone: str, code: str, referral_code: str = "") -> Grant:
    return clients().identity.verify_login(phone, code, client_ip(), referral_code)


def log_in_staff(email: str, password: str) -> Grant:
    return clients().identity.login_staff(email, password, client_ip())


def log_out(token: str) -> None:
    """Ends the session everywhere (see gateway.auth.SessionTokens)."""
    current_app.extensions["sessions"].revoke(token)
