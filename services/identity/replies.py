"""Replies members send to the club's SMS number: an opt-out withdraws the SMS consent.

Iranian operators require every marketing SMS to say how to stop them («لغو۱۱»); a member who
answers «لغو», «لغو۱۱», «11» or "stop" (any digits, any case, spaces ignored) gets no more
marketing SMS. Withdrawing twice changes nothing, so a provider's retried delivery is harmless.
A reply from a number that is no member's, or any other text, changes nothing either.
"""

from __future__ import annotations

import re

from services.identity.directory import Directory
from services.identity.profiles import Profiles
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.text import ascii_digits

OPTED_OUT = "opted-out"
NOT_AN_OPT_OUT = "not-an-opt-out"
UNKNOWN_SENDER = "unknown-sender"
_OPT_OUT = re.compile(r"(لغو|stop|cancel)?(11)?")


def is_opt_out(text: str) -> bool:
    compact = re.sub(r"\s+", "", ascii_digits(text)).lower()
    return bool(compact) and _OPT_OUT.fullmatch(compact) is not None


class SmsReplies:
    def __init__(self, directory: Directory, profiles: Profiles) -> None:
        self._directory = directory
        self._profiles = profiles

    def receive(self, from_phone: str, text: str) -> str:
        """What a reply did: OPTED_OUT, NOT_AN_OPT_OUT or UNKNOWN_SENDER."""
        if not is_opt_out(text):
            return NOT_AN_OPT_OUT
        try:
            member = self._directory.identify_by_phone(from_phone)
        except (NotFound, InvalidArgument):
            return UNKNOWN_SENDER
        self._profiles.set_consent(member.id, "sms", False, "sms")
        return OPTED_OUT
