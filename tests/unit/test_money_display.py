"""Amounts on the pages as people write them: no zeros after the point, rials or toman."""

from __future__ import annotations

import pytest
from flask import Flask

from gateway.config import GatewayConfig
from gateway.web import i18n
from services.runtime.config import Env
from services.runtime.money import display_amount, to_minor, typed_amount


@pytest.mark.parametrize(
    ("amount", "currency", "shown", "written"),
    [
        ("125000.00", "IRR", "IRR", "125000"),
        ("125000.00", "IRR", "IRT", "12500"),
        ("125005.00", "IRR", "IRT", "12500.5"),
        ("0.00", "IRR", "IRT", "0"),
        ("-50.00", "IRR", "IRR", "-50"),
        ("12.50", "EUR", "EUR", "12.50"),
        ("12.00", "EUR", "EUR", "12"),
        ("1250", "JPY", "JPY", "1250"),
    ],
)
def test_an_amount_is_written_without_zeros_after_the_point(
    amount: str, currency: str, shown: str, written: str
) -> None:
    assert display_amount(amount, currency, shown) == written


@pytest.mark.parametrize(("typed", "rials"), [("12500", 125000), ("12500.5", 125005)])
def test_an_amount_typed_in_toman_is_booked_in_rials(typed: str, rials: int) -> None:
    assert to_minor(typed_amount(typed, "IRR", "IRT"), "IRR") == rials * 100


@pytest.mark.parametrize("typed", ["1e3", "abc", "-5", ""])
def test_what_is_not_an_amount_is_left_for_the_amount_check_to_refuse(typed: str) -> None:
    assert typed_amount(typed, "IRR", "IRT") == typed


def _app(**env: str) -> Flask:
    app = Flask(__name__)
    app.config["LOYALTY"] = GatewayConfig.load(Env({"REDIS_URL": "", **env}))
    return app


@pytest.mark.parametrize(
    ("env", "lang", "written", "unit"),
    [
        ({}, "en", "8,750,000", "rials"),
        ({}, "fa", "۸٬۷۵۰٬۰۰۰", "ریال"),
        ({"LOYALTY_DISPLAY_CURRENCY": "IRT"}, "en", "875,000", "toman"),
        ({"LOYALTY_DISPLAY_CURRENCY": "IRT"}, "fa", "۸۷۵٬۰۰۰", "تومان"),
    ],
)
def test_pages_write_money_in_the_display_currency_and_language(
    env: dict, lang: str, written: str, unit: str
) -> None:
    with _app(**env).test_request_context(headers={"Cookie": f"lang={lang}"}):
        assert i18n.money("8750000.00") == written
        assert i18n.currency_name() == unit
