from __future__ import annotations

import pytest

from services.identity.identifiers import (
    PiiHasher,
    luhn_check_digit,
    mask_email,
    mask_phone,
    new_card_number,
    normalize_card_number,
    normalize_email,
    normalize_phone,
)
from services.runtime.errors import InvalidArgument
from services.runtime.text import ascii_digits


@pytest.mark.parametrize(
    "typed",
    [
        "09121234567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "+98 912 123 4567",
        "0098-912-123-4567",
        "(0912) 123-4567",
        "9121234567",
        "+989121234567",
    ],
)
def test_every_way_a_cashier_types_a_number_gives_one_e164(typed: str) -> None:
    assert normalize_phone(typed, "IR") == "+989121234567"


def test_the_default_region_decides_numbers_without_a_country_code() -> None:
    assert normalize_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalize_phone("+1 415 555 2671", "IR") == "+14155552671"


@pytest.mark.parametrize("typed", ["", "12", "not a phone", "0912123456789012", "+98 000 000 0000"])
def test_what_is_not_a_phone_number_is_refused(typed: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        normalize_phone(typed, "IR")
    assert refused.value.code == "invalid-phone"


def test_masks_show_enough_to_recognise_and_no_more() -> None:
    assert mask_phone("+989121234567") == "+98 912 *** **67"
    assert mask_phone("+14155552671") == "+1 415-***-**71"
    assert mask_email("sara.ahmadi@example.com") == "s***@example.com"


def test_new_card_numbers_pass_their_own_check_and_differ() -> None:
    cards = {new_card_number() for _ in range(200)}
    assert len(cards) == 200
    for card in cards:
        assert len(card) == 16
        assert normalize_card_number(card) == card


def test_card_numbers_are_read_with_spaces_dashes_and_persian_digits() -> None:
    body = "612345678901234"
    card = body + luhn_check_digit(body)
    spaced = f"{card[:4]} {card[4:8]}-{card[8:12]} {card[12:]}"
    assert normalize_card_number(spaced) == card
    persian = card.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert normalize_card_number(persian) == card


@pytest.mark.parametrize("position", range(16))
def test_any_single_mistyped_digit_is_caught(position: int) -> None:
    card = new_card_number()
    wrong = card[:position] + str((int(card[position]) + 3) % 10) + card[position + 1 :]
    with pytest.raises(InvalidArgument) as refused:
        normalize_card_number(wrong)
    assert refused.value.code == "invalid-card-number"


def test_luhn_matches_a_published_example() -> None:
    assert luhn_check_digit("7992739871") == "3"


def test_emails_are_normalised_and_checked() -> None:
    assert normalize_email("  Sara@Example.COM ") == "sara@example.com"
    for bad in ("", "sara", "sara@", "@example.com", "a b@example.com"):
        with pytest.raises(InvalidArgument):
            normalize_email(bad)


def test_pii_hashes_depend_on_the_key_and_the_kind() -> None:
    one, other = PiiHasher("key-one"), PiiHasher("key-two")
    assert one("phone", "+989121234567") == one("phone", "+989121234567")
    assert one("phone", "+989121234567") != other("phone", "+989121234567")
    assert one("phone", "x") != one("email", "x")
    assert "9121234567" not in one("phone", "+989121234567")


def test_ascii_digits_leaves_other_text_alone() -> None:
    assert ascii_digits("کد ۱۲۳ abc") == "کد 123 abc"
