"""Texts through the SMS provider (Kavenegar): one-time codes by its verify template, other
messages from the sender line, each handed over once per message id and its delivery followed.

A message is recorded as `sending` before the first call and gets the provider's id once
accepted: a repeat of an accepted message sends nothing. A call the provider could not answer
is tried again, a few times with a growing pause; one it refused (a bad number, no credit) is
recorded and reported, and not tried again under that id. A campaign text carries a local id
derived from the message id, so a repeat after a crash in the middle of a call is dropped by the
provider itself.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from services.identity import repository
from services.identity.kavenegar import FINAL_STATUSES, Entry, KavenegarApi, ProviderError
from services.identity.models import SmsDelivery
from services.identity.senders import OutgoingMessage
from services.identity.settings import ProviderSmsSettings
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition, Unavailable

logger = logging.getLogger(__name__)

PROVIDER = "kavenegar"
SENDING = "sending"
REFUSED = "refused"
STATUS_PAGE = 100


def local_id(message_id: str) -> int:
    """The provider's numeric local id for a message id, the same on every attempt."""
    return int(hashlib.sha256(message_id.encode()).hexdigest()[:15], 16)


class ProviderSmsSender:
    def __init__(
        self,
        database: Database,
        settings: ProviderSmsSettings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = database
        self._settings = settings
        self._api = KavenegarApi(settings.api_key, settings.base_url, settings.timeout)
        self._sleep = sleep

    def send(self, message: OutgoingMessage) -> None:
        if not self._claim(message.message_id):
            return
        try:
            entry = self._with_retries(message)
        except ProviderError as error:
            self._finish(message.message_id, None, error)
            if error.transient:
                raise Unavailable(
                    "the sms provider did not answer; try again later", code="sender-unavailable"
                ) from None
            raise FailedPrecondition(
                f"the sms provider refused the message (status {error.status})",
                code="sender-refused",
            ) from None
        self._finish(message.message_id, entry, None)

    def _claim(self, message_id: str) -> bool:
        """Records the message as being sent; False when it need not be sent (again)."""
        try:
            with self._db.write() as session:
                row = repository.sms_delivery(session, message_id, lock=True)
                if row is None:
                    session.add(
                        SmsDelivery(
                            message_id=message_id,
                            provider=PROVIDER,
                            provider_message_id="",
                            status=SENDING,
                            error_status=0,
                            attempts=0,
                        )
                    )
                    return True
                if row.provider_message_id:
                    return False
                if row.status == REFUSED:
                    raise FailedPrecondition(
                        f"the sms provider refused the message (status {row.error_status})",
                        code="sender-refused",
                    )
                return True
        except IntegrityError:
            # A concurrent copy is sending it.
            return False

    def _with_retries(self, message: OutgoingMessage) -> Entry:
        pause = self._settings.retry_pause
        for attempt in range(1, self._settings.attempts + 1):
            self._count_attempt(message.message_id)
            try:
                return self._call(message)
            except ProviderError as error:
                if not error.transient or attempt == self._settings.attempts:
                    raise
                logger.warning(
                    "sms provider did not answer (status %s); trying again", error.status
                )
                self._sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")

    def _call(self, message: OutgoingMessage) -> Entry:
        if message.code and self._settings.code_template:
            return self._api.lookup(message.to, message.code, self._settings.code_template)
        return self._api.send(
            message.to, message.body, self._settings.sender_line, local_id(message.message_id)
        )

    def _count_attempt(self, message_id: str) -> None:
        with self._db.write() as session:
            row = repository.sms_delivery(session, message_id, lock=True)
            if row is not None:
                row.attempts += 1

    def _finish(self, message_id: str, entry: Entry | None, error: ProviderError | None) -> None:
        """Records the provider's answer: its id and status, or why it refused (a message it
        could not answer stays `sending`, to be handed over again)."""
        with self._db.write() as session:
            row = repository.sms_delivery(session, message_id, lock=True)
            if row is None:
                return
            if entry is not None:
                row.provider_message_id = entry.message_id
                row.status = entry.status
            if error is not None:
                row.error_status = error.status
                if not error.transient:
                    row.status = REFUSED
            row.updated_at = utcnow()

    def poll_statuses(self) -> int:
        """Asks the provider how the accepted texts not yet final fared; returns how many
        changed."""
        with self._db.read() as session:
            pending = {
                row.provider_message_id: row.message_id
                for row in repository.sms_deliveries_pending(
                    session, sorted(FINAL_STATUSES), STATUS_PAGE
                )
            }
        if not pending:
            return 0
        try:
            entries = self._api.statuses(list(pending))
        except ProviderError as error:
            logger.warning("sms delivery statuses not read (status %s)", error.status)
            return 0
        changed = 0
        with self._db.write() as session:
            for entry in entries:
                message_id = pending.get(entry.message_id)
                row = repository.sms_delivery(session, message_id) if message_id else None
                if row is None:
                    continue
                changed += row.status != entry.status
                row.status = entry.status
                # Polled now: the next poll starts with the others.
                row.updated_at = utcnow()
        return changed
