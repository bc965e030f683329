"""Kavenegar's public HTTP API, as this product uses it: one-time codes through a verify template
(`verify/lookup.json`), campaign messages from a sender line (`sms/send.json`) and the delivery
status of sent messages (`sms/status.json`).

Every call is `POST {base}/v1/{api-key}/{path}` with form fields; the answer is JSON
`{"return": {"status": 200, "message": …}, "entries": [{"messageid": …, "status": …}]}`, and a
refused call carries its reason's number in `return.status` (and as the HTTP status).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_BASE_URL = "https://api.kavenegar.com"
OK = 200
# The provider could not answer now (409), is throttling (429) or failed (5xx): try again.
RETRY_LATER = frozenset({409, 429})

# A message's delivery status, by the provider's number; the final ones end the polling.
STATUSES = {
    1: "queued",
    2: "scheduled",
    4: "sent-to-operator",
    5: "sent-to-operator",
    6: "failed",
    10: "delivered",
    11: "undelivered",
    13: "cancelled",
    14: "blocked",
    100: "unknown-message",
}
FINAL_STATUSES = frozenset({"failed", "delivered", "undelivered", "cancelled", "blocked"})


class ProviderError(Exception):
    """The provider refused or did not answer a call. `transient` says whether the same call
    may succeed later; `status` is the provider's number (0 when it did not answer)."""

    def __init__(self, status: int, transient: bool) -> None:
        super().__init__(f"sms provider status {status}")
        self.status = status
        self.transient = transient


@dataclass(frozen=True)
class Entry:
    """One message as the provider reports it."""

    message_id: str
    status: str


def receptor_of(phone: str) -> str:
    """A phone in E.164 as the provider's receptor: a national number at home (09…), the
    international prefix 00 abroad."""
    if phone.startswith("+98"):
        return "0" + phone[3:]
    return "00" + phone[1:] if phone.startswith("+") else phone


def status_name(number: int) -> str:
    return STATUSES.get(number, f"status-{number}")


class KavenegarApi:
    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0):
        self._base = f"{base_url.rstrip('/')}/v1/{urllib.parse.quote(api_key, safe='')}"
        self._timeout = timeout

    def lookup(self, receptor: str, token: str, template: str) -> Entry:
        """Sends a one-time code through the account's verify template."""
        fields = {"receptor": receptor_of(receptor), "token": token, "template": template}
        return self._entries("verify/lookup.json", fields)[0]

    def send(self, receptor: str, message: str, sender: str, local_id: int) -> Entry:
        """Sends a text from the sender line; a repeat under the same `local_id` is not sent
        again by the provider, which answers with the first message."""
        fields = {
            "receptor": receptor_of(receptor),
            "message": message,
            "sender": sender,
            "localid": str(local_id),
        }
        return self._entries("sms/send.json", fields)[0]

    def statuses(self, message_ids: list[str]) -> list[Entry]:
        return self._entries("sms/status.json", {"messageid": ",".join(message_ids)})

    def _entries(self, path: str, fields: dict[str, str]) -> list[Entry]:
        answer = self._call(path, fields)
        entries = answer.get("entries") or []
        if not isinstance(entries, list) or not entries:
            raise ProviderError(0, transient=True)
        return [
            Entry(str(entry.get("messageid", "")), status_name(int(entry.get("status", 0))))
            for entry in entries
        ]

    def _call(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._base}/{path}",
            data=urllib.parse.urlencode(fields).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            body = error.read()
            status = _status_of(body) or error.code
            raise ProviderError(status, _transient(status)) from None
        except (urllib.error.URLError, TimeoutError, OSError):
            raise ProviderError(0, transient=True) from None
        status = _status_of(body)
        if status != OK:
            raise ProviderError(status, _transient(status))
        return json.loads(body)


def _status_of(body: bytes) -> int:
    try:
        return int(json.loads(body)["return"]["status"])
    except (ValueError, KeyError, TypeError):
        return 0


def _transient(status: int) -> bool:
    return status == 0 or status in RETRY_LATER or status >= 500
