from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.points.policy import Expiry, Line, PointsPolicy
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
    "amount",
    [
        *("-1", "1e3", "12.345", "1,000", " ", "", "½", "²", 1.5, True, None),
        # Beyond what is held exactly: refused rather than rounded to 1.
        *("1.00000000000000000000000000001", "1." + "0" * 39, "1" * 40, 10**40),
    ],
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
    policy = PointsPolicy.from_env(Env({}))  # 1 point per 10,000 IRR
    assert policy.base_points(to_minor("1250000", "IRR")) == 125
    assert policy.base_points(to_minor("19999.99", "IRR")) == 1
    assert policy.base_points(to_minor("9999", "IRR")) == 0
    assert policy.label == "1 point per 10000 IRR"


def test_earning_is_configurable_with_a_minimum_purchase() -> None:
    env = Env(
        {
            "LOYALTY_CURRENCY": "EUR",
            "POINTS_EARN_POINTS": "3",
            "POINTS_EARN_PER": "2.50",
            "POINTS_MIN_PURCHASE": "10",
        }
    )
    policy = PointsPolicy.from_env(env)
    assert policy.base_points(to_minor("9.99", "EUR")) == 0
    assert policy.base_points(to_minor("10", "EUR")) == 12
    assert policy.label == "3 points per 2.50 EUR"


def test_category_and_sku_rates_weight_the_amount_paid() -> None:
    env = Env(
        {
            "LOYALTY_CURRENCY": "EUR",
            "POINTS_EARN_PER": "1",
            "POINTS_CATEGORY_RATES": '{"tobacco": 0, "dairy": 2}',
            "POINTS_SKU_RATES": '{"MILK-PROMO": 3}',
        }
    )
    policy = PointsPolicy.from_env(env)
    lines = (
        Line("CIG", "tobacco", 1000),  # excluded
        Line("CHEESE", "dairy", 500),  # double
        Line("MILK-PROMO", "dairy", 100),  # its SKU rate wins over the category's
        Line("BREAD", "bakery", 400),  # base rate
    )
    # 10 + 5*2 + 1*3 + 4*1 = 17 points per 20 EUR of goods ...
    assert policy.base_points(2000, lines) == 17
    # ... and a 10% discount on the bill takes 10% of that.
    assert policy.base_points(1800, lines) == 15
    assert policy.base_points(2000) == 20


@pytest.mark.parametrize(
    ("setting", "earned", "expires"),
    [
        ("never", datetime(2026, 3, 1, tzinfo=UTC), None),
        ("days:30", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)),
        ("year-end:1", datetime(2026, 3, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)),
        ("year-end:0", datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_expiry_policies(setting: str, earned: datetime, expires: datetime | None) -> None:
    assert Expiry.parse(setting).expires_at(earned) == expires


@pytest.mark.parametrize(
    "env",
    [
        {"POINTS_EARN_PER": "0"},
        {"POINTS_EARN_PER": "abc"},
        {"POINTS_EARN_POINTS": "-1"},
        {"POINTS_EXPIRY": "soon"},
        {"POINTS_EXPIRY": "days:0"},
        {"POINTS_CATEGORY_RATES": "[1]"},
        {"POINTS_SKU_RATES": '{"A": -1}'},
        {"POINTS_PENDING_DAYS": "-3"},
    ],
)
def test_a_bad_points_setting_stops_start_up(env: dict) -> None:
    with pytest.raises(ConfigError):
        PointsPolicy.from_env(Env(env))


def test_the_default_tiers_and_where_spend_puts_a_member() -> None:
    ladder = PointsPolicy.from_env(Env({})).ladder
    assert [t.name for t in ladder.tiers] == ["member", "silver", "gold"]
    assert ladder.earned_by(0).name == "member"
    assert ladder.earned_by(to_minor("50000000", "IRR")).name == "silver"
    assert ladder.earned_by(to_minor("49999999.99", "IRR")).name == "member"
    assert ladder.above(ladder.named("gold")) is None
    assert ladder.named("silver").bonus(125) == 31
    assert [t.shown for t in ladder.tiers] == [
        ("Member", "عضو"),
        ("Silver", "نقره‌ای"),
        ("Gold", "طلایی"),
    ]


def test_a_tier_without_titles_is_shown_by_its_name_and_one_without_persian_in_english() -> None:
    tiers = (
        '[{"name": "basic", "min_spend": "0"},'
        ' {"name": "vip", "min_spend": "10", "title": "  Very   important "}]'
    )
    ladder = PointsPolicy.from_env(Env({"POINTS_TIERS": tiers})).ladder
    assert [t.shown for t in ladder.tiers] == [
        ("basic", "basic"),
        ("Very important", "Very important"),
    ]


@pytest.mark.parametrize(
    "tiers",
    [
        "not json",
        '[{"name": "silver", "min_spend": "10"}]',  # no tier starts at 0
        '[{"name": "a", "min_spend": "0"}, {"name": "a", "min_spend": "5"}]',
        '[{"name": "a", "min_spend": "0", "multiplier": 0.5}]',
        '[{"name": "a"}]',
    ],
)
def test_bad_tier_settings_stop_start_up(tiers: str) -> None:
    with pytest.raises(ConfigError):
        PointsPolicy.from_env(Env({"POINTS_TIERS": tiers}))
