"""Coupon codes (made unguessable, read however typed) and what a coupon takes off."""

from __future__ import annotations

import pytest

from services.points.coupon_codes import ALPHABET, LENGTH, new_code, normalise
from services.points.coupon_terms import Terms, checked
from services.runtime.errors import FailedPrecondition, InvalidArgument


def test_codes_are_ten_symbols_of_an_alphabet_without_look_alikes() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == LENGTH and set(code) <= set(ALPHABET) for code in codes)
    assert not set("01OI") & set(ALPHABET)
    assert len(set(ALPHABET)) ** LENGTH >= 2**50


@pytest.mark.parametrize(
    "typed",
    ["k7qm4xhd2p", "K7QM 4XHD 2P", "k7qm-4xhd-2p", "K7QM۴XHD۲P", "K7QM٤XHD٢P", " K7QM4XHD2P\n"],
)
def test_a_code_is_read_however_it_is_typed(typed: str) -> None:
    assert normalise(typed) == "K7QM4XHD2P"


def percent(value: str, **limits: int) -> Terms:
    return checked(Terms(type="percent", currency="IRR", percent=value, **limits))


def test_a_percent_discount_is_capped_and_rounds_down() -> None:
    assert percent("10").discount(1_999, "IRR") == 199
    assert percent("12.5").discount(1_000_00, "IRR") == 125_00
    assert percent("10", max_discount_minor=50_00).discount(1_000_00, "IRR") == 50_00
    assert percent("100").discount(7_00, "IRR") == 7_00


def test_an_amount_discount_never_exceeds_the_purchase() -> None:
    five = checked(Terms(type="amount", currency="IRR", amount_minor=5_00))
    assert five.discount(20_00, "IRR") == 5_00
    assert five.discount(3_00, "IRR") == 3_00


def test_the_minimum_purchase_and_currency_are_enforced() -> None:
    terms = percent("20", min_purchase_minor=100_00)
    with pytest.raises(FailedPrecondition) as below:
        terms.discount(99_99, "IRR")
    assert below.value.code == "coupon-min-purchase"
    assert terms.discount(100_00, "IRR") == 20_00
    with pytest.raises(FailedPrecondition) as currency:
        checked(Terms(type="amount", currency="IRR", amount_minor=1)).discount(10, "EUR")
    assert currency.value.code == "coupon-currency"


@pytest.mark.parametrize(
    "terms",
    [
        Terms(type="percent", currency="IRR", percent="0"),
        Terms(type="percent", currency="IRR", percent="100.5"),
        Terms(type="percent", currency="IRR", percent="ten"),
        Terms(type="amount", currency="IRR", amount_minor=0),
        Terms(type="amount", currency="IRR", amount_minor=5, max_discount_minor=1),
        Terms(type="free", currency="IRR"),
    ],
)
def test_terms_that_make_no_sense_are_refused(terms: Terms) -> None:
    with pytest.raises(InvalidArgument) as refused:
        checked(terms)
    assert refused.value.code == "invalid-coupon"


def test_a_percent_is_kept_as_written_without_trailing_zeros() -> None:
    assert percent("۲۰").percent == "20"
    assert percent("12.50").percent == "12.5"
