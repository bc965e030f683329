"""Names as the support desk searches them: one key per member, written with the name.

Persian is typed on Arabic keyboards too: Arabic yeh (ي, ى) and kaf (ك) are the same letters as
Persian ی and ک to a reader, teh marbuta (ة) reads as ه, a zero-width non-joiner (the half-space
of «محمد‌رضا») is a space, and tatweel or a vowel mark changes nothing. The key folds
all of these, and case, so an agent finds «علي» by typing «علی».
"""

from __future__ import annotations

import re

_LETTERS = str.maketrans(
    {"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "\u200c": " "}
)
# Tatweel, Arabic vowel marks, the zero-width joiner.
_IGNORED = re.compile("[\u0640\u064b-\u065f\u0670\u200d]")
MAX_KEY = 201


def folded(text: str) -> str:
    """`text` as names are compared: letters folded, marks dropped, spaces single, lower case."""
    return " ".join(_IGNORED.sub("", text.translate(_LETTERS)).casefold().split())


def search_keys(first_name: str, last_name: str) -> tuple[str, str]:
    """The keys a name prefix is matched against: "first last" and "last first"."""
    first, last = folded(first_name), folded(last_name)
    return (
        " ".join(filter(None, (first, last)))[:MAX_KEY],
        " ".join(filter(None, (last, first)))[:MAX_KEY],
    )
