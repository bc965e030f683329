from __future__ import annotations

import pytest

from services.points.earning import EarningRule
from services.runtime.config import ConfigError, Env
from services.runtime.errors import InvalidArgument
from services.runtime.money import from_minor, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1250000", "IRR", 125000000),
        (1250000, "IRR", 125000000),
        ("12.50", "EUR", 1250),
        ("12.5", "EUR", 1250),
        ("0.01", "EUR", 1),
        ("500", "JPY", 500),
        ("1.250", "KWD", 1250),
        ("۱۲۵۰۰۰۰", "IRR", 125000000),
        ("١٢.٥٠", "EUR", 1250),
    ],
)
def test_decimal_strings_become_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    "amount", ["-1", "1e3", "12.345", "1,000", " ", "", "½", "²", 1.5, True, None]
)
def test_what_is_not_a_plain_amount_is_refused(amount: object) -> None:
    with pytest.raises(InvalidArgument) as refused:
        to_minor(amount, "EUR")  # type: ignore[arg-type]
    assert refused.value.code == "invalid-amount"


def test_minor_units_format_back_exactly() -> None:
    assert from_minor(1250, "EUR") == "12.50"
    assert from_minor(5, "EUR") == "0.05"
    assert from_minor(500, "JPY") == "500"
    assert from_minor(-1250, "EUR") == "-12.50"


def test_base_earning_rounds_down_per_full_unit() -> None:
    rule = EarningRule.from_env(Env({}), "IRR")  # 1 point per 10,000 IRR
    assert rule.base_points(to_minor("1250000", "IRR")) == 125
    assert rule.base_points(to_minor("19999.99", "IRR")) == 1
    assert rule.base_points(to_minor("9999", "IRR")) == 0
    assert rule.label == "1 point per 10000 IRR"


def test_earning_is_configurable_with_a_minimum_purchase() -> None:
    env = Env({"POINTS_EARN_POINTS": "3", "POINTS_EARN_PER": "2.50", "POINTS_MIN_PURCHASE": "10"})
    rule = EarningRule.from_env(env, "EUR")
    assert rule.base_points(to_minor("9.99", "EUR")) == 0
    assert rule.base_points(to_minor("10", "EUR")) == 12
    assert rule.label == "3 points per 2.50 EUR"


@pytest.mark.parametrize(
    "env",
    [{"POINTS_EARN_PER": "0"}, {"POINTS_EARN_PER": "abc"}, {"POINTS_EARN_POINTS": "-1"}],
)
def test_a_bad_earning_setting_stops_start_up(env: dict) -> None:
    with pytest.raises(ConfigError):
        EarningRule.from_env(Env(env), "IRR")
