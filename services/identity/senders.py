"""Where SMS and e-mail leave the product: a pluggable sender per channel.

`dev` (the default) appends each message as a JSON line to
`$LOYALTY_DATA_DIR/outbox/<channel>.jsonl`: a stand-in provider for development and tests.
`webhook` POSTs the same JSON to a provider's URL. Both carry the message id, which a provider
uses to drop a repeat (as the dev sender does), so a message retried after a crash reaches the
member once. `kavenegar` sends texts through that provider's API (`provider_sms.py`).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from services.runtime.errors import Unavailable

if TYPE_CHECKING:
    from services.identity.settings import SenderSettings

CHANNELS = ("sms", "email")
SENDER_KINDS = ("dev", "webhook", "kavenegar")


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    channel: str
    to: str
    body: str
    # A one-time code's code, which a provider may fill into its own template.
    code: str = ""


class Sender(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class DevSender:
    """Writes messages to a file, once per message id."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = {}

    def _file(self, channel: str) -> Path:
        return self._folder / f"{channel}.jsonl"

    def _sent_ids(self, channel: str) -> set[str]:
        if channel not in self._seen:
            path = self._file(channel)
            lines = path.read_text().splitlines() if path.exists() else []
            self._seen[channel] = {json.loads(line)["message_id"] for line in lines if line}
        return self._seen[channel]

    def send(self, message: OutgoingMessage) -> None:
        with self._lock:
            sent = self._sent_ids(message.channel)
            if message.message_id in sent:
                return
            self._folder.mkdir(parents=True, exist_ok=True)
            line = {"message_id": message.message_id, "to": message.to, "body": message.body}
            with self._file(message.channel).open("a") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            sent.add(message.message_id)


class WebhookSender:
    """POSTs `{message_id, channel, to, body}` to a provider, with the id as Idempotency-Key."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout

    def send(self, message: OutgoingMessage) -> None:
        payload = json.dumps(
            {
                "message_id": message.message_id,
                "channel": message.channel,
                "to": message.to,
                "body": message.body,
            }
        ).encode()
        request = urllib.request.Request(
            self._url,
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": message.message_id},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            # The reason is the provider's; the message and its address stay out of the error.
            raise Unavailable(
                f"the {message.channel} provider did not accept the message",
                code="sender-unavailable",
            ) from error


def senders_for(
    settings: Mapping[str, SenderSettings], dev_folder: Path, provider: Sender | None = None
) -> dict[str, Sender]:
    """One sender per channel, as the settings say (IDENTITY_SMS_SENDER, ...); `provider` is
    the SMS provider's sender, for the channel set to `kavenegar`."""
    dev = DevSender(dev_folder)

    def sender(channel: str) -> Sender:
        chosen = settings[channel]
        if chosen.kind == "dev":
            return dev
        if chosen.kind == "webhook":
            return WebhookSender(chosen.webhook_url, chosen.webhook_timeout)
        if provider is None:
            raise ValueError(f"no provider sender for the {channel} channel")
        return provider

    return {channel: sender(channel) for channel in CHANNELS}
