"""The segment rule language, compiled to one SQL condition over the member view.

A rule is JSON:

    {"and": [rule, ...]}   {"or": [rule, ...]}   {"not": rule}
    {"attr": "<attribute>", "op": "<operator>", "value": ...}

Attributes and the operators they take:

- text: `stage`, `tier`, `city`, `gender` with `eq`, `ne`, `in`, `not_in`;
- numbers: `purchase_count`, `refund_count`, `points`, `rfm_r`, `rfm_f`, `rfm_m`,
  `coupons_unused` (coupons issued and not used, expired or cancelled: "has an unused coupon"
  is `gte` 1), `coupons_used`,
  `days_since_last_purchase`, `days_since_enrolled`, `days_in_stage` ("became dissatisfied in
  the last 2 days"), `birthday_month`, `last_rating`, `open_complaints` with `eq`,
  `ne`, `gt`, `gte`, `lt`, `lte`, `between` ([low, high], inclusive), `in`, `not_in`;
- money (decimal strings in the program's currency): `total_spend`, `average_spend`, same as
  numbers;
- `consent_sms`, `consent_email`: `eq` true or false;
- `categories`: `any_of`, `all_of`, `none_of` a list of category names.

A number must fit its column (a count an int32, points an int64, a rating or RFM score an
int16), days are 0 to 36500, and a rule holds at most 200 conditions (each category counts) and
2,500 values in all, so that it always compiles to a statement every database takes.
A rule that breaks these is refused with InvalidArgument naming the path of the bad node, such
as `rule.and[1].value`. Nothing is ever evaluated member by member in Python.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    SmallInteger,
    and_,
    bindparam,
    false,
    func,
    not_,
    or_,
    true,
)

from services.campaigns.lifecycle import STAGES
from services.campaigns.models import Member
from services.campaigns.projection import category_name
from services.runtime.db import UtcDateTime
from services.runtime.errors import InvalidArgument
from services.runtime.money import to_minor

TEXT = {"stage", "tier", "city", "gender"}
NUMBER = {
    "purchase_count",
    "refund_count",
    "coupons_unused",
    "coupons_used",
    "points",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "birthday_month",
    "last_rating",
    "open_complaints",
    "days_since_last_purchase",
    "days_since_enrolled",
    "days_in_stage",
}
# Days since a moment of the member's row.
DAYS = {
    "days_since_last_purchase": "last_purchase_at",
    "days_since_enrolled": "enrolled_at",
    "days_in_stage": "stage_since",
}
MONEY = {"total_spend", "average_spend"}
FLAGS = {"consent_sms", "consent_email"}
SETS = {"categories"}
ATTRIBUTES = TEXT | NUMBER | MONEY | FLAGS | SETS
COMPARE = {"eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"}
MAX_DEPTH = 20
MAX_LIST = 1000
MAX_DAYS = 36500
# SQLite parses `a OR b OR ...` into a tree at most 1000 deep, and binds at most 32766 values
# in a statement (a campaign's audience ORs up to 10 segments' rules).
MAX_CONDITIONS = 200
MAX_VALUES = 2500


def _bad(path: str, detail: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {detail}", code="invalid-rule")


def _range(attr: str) -> tuple[int, int]:
    """The whole numbers the attribute's column holds."""
    if attr in DAYS:
        return 0, MAX_DAYS
    if attr == "birthday_month":
        return 1, 12
    column_type = Member.__table__.c[attr].type
    bits = next(
        size
        for kind, size in ((SmallInteger, 16), (BigInteger, 64), (Integer, 32))
        if isinstance(column_type, kind)
    )
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


class Compiler:
    def __init__(self, currency: str, now: datetime) -> None:
        self._currency = currency
        self._now = now
        self._conditions = 0
        self._values = 0

    def _spend(self, path: str, conditions: int, values: int) -> None:
        """Counts a node's conditions and values against the whole rule's allowance."""
        self._conditions += conditions
        self._values += values
        if self._conditions > MAX_CONDITIONS:
            raise _bad(path, f"a rule holds at most {MAX_CONDITIONS} conditions")
        if self._values > MAX_VALUES:
            raise _bad(path, f"a rule holds at most {MAX_VALUES} values in all")

    def compile(self, rule: Any, path: str = "rule", depth: int = 0) -> ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise _bad(path, f"rules nest at most {MAX_DEPTH} deep")
        if not isinstance(rule, dict):
            raise _bad(path, "must be an object")
        logical = [key for key in ("and", "or", "not") if key in rule]
        if logical:
            if len(rule) != 1:
                raise _bad(path, f"`{logical[0]}` must be the object's only key")
            key = logical[0]
            if key == "not":
                return not_(self.compile(rule["not"], f"{path}.not", depth + 1))
            parts = rule[key]
            if not isinstance(parts, list) or not parts:
                raise _bad(f"{path}.{key}", "must be a non-empty list of rules")
            compiled = [
                self.compile(part, f"{path}.{key}[{i}]", depth + 1) for i, part in enumerate(parts)
            ]
            return and_(*compiled) if key == "and" else or_(*compiled)
        unknown = set(rule) - {"attr", "op", "value"}
        if unknown:
            raise _bad(path, f"unknown key `{sorted(unknown)[0]}`")
        for key in ("attr", "op", "value"):
            if key not in rule:
                raise _bad(path, f"`{key}` is required (or use and/or/not)")
        attr, op, value = rule["attr"], rule["op"], rule["value"]
        if attr not in ATTRIBUTES:
            raise _bad(f"{path}.attr", f"unknown attribute {attr!r}")
        if attr in SETS:
            return self._categories(op, value, path)
        if attr in FLAGS:
            if op != "eq":
                raise _bad(f"{path}.op", f"{attr} takes only `eq`")
            if not isinstance(value, bool):
                raise _bad(f"{path}.value", "must be true or false")
            self._spend(f"{path}.value", 1, 0)
            column = getattr(Member.__table__.c, attr)
            return column.is_(true()) if value else column.is_(false())
        if op not in COMPARE or (attr in TEXT and op not in {"eq", "ne", "in", "not_in"}):
            raise _bad(f"{path}.op", f"{op!r} is not an operator of {attr}")
        return self._compare(attr, op, value, path)

    def _scalar(self, attr: str, value: Any, path: str) -> Any:
        if attr in TEXT:
            if not isinstance(value, str) or not value:
                raise _bad(path, "must be a non-empty string")
            if attr == "stage" and value not in STAGES:
                raise _bad(path, f"unknown stage {value!r}; one of {', '.join(STAGES)}")
            return value.strip().lower() if attr == "city" else value
        if attr in MONEY:
            try:
                return to_minor(value, self._currency, path)
            except InvalidArgument as error:
                raise _bad(path, error.detail) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(path, "must be a whole number")
        low, high = _range(attr)
        if not low <= value <= high:
            raise _bad(path, f"{attr} is a whole number from {low} to {high}")
        return value

    def _compare(self, attr: str, op: str, value: Any, path: str) -> ColumnElement[bool]:
        where = f"{path}.value"
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or len(value) > MAX_LIST:
                raise _bad(where, f"must be a list of 1 to {MAX_LIST} values")
            if attr in DAYS:
                raise _bad(f"{path}.op", "days take comparisons, not lists")
            self._spend(where, 1, len(value))
            values = [self._scalar(attr, v, f"{where}[{i}]") for i, v in enumerate(value)]
            column = self._column(attr)
            return (
                column.in_(values) if op == "in" else or_(column.is_(None), column.not_in(values))
            )
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise _bad(where, "must be [low, high]")
            self._spend(where, 1, 2)
            low, high = (self._scalar(attr, v, f"{where}[{i}]") for i, v in enumerate(value))
            return and_(self._compare_raw(attr, "gte", low), self._compare_raw(attr, "lte", high))
        self._spend(where, 1, 2)
        return self._compare_raw(attr, op, self._scalar(attr, value, where))

    def _compare_raw(self, attr: str, op: str, value: Any) -> ColumnElement[bool]:
        if attr in DAYS:
            # "more than N days since" means the moment was before now - N days.
            column = getattr(Member.__table__.c, DAYS[attr])
            moment = bindparam(None, self._now - timedelta(days=value), type_=UtcDateTime())
            flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}
            if op in ("eq", "ne"):
                start = bindparam(None, self._now - timedelta(days=value + 1), type_=UtcDateTime())
                inside = and_(column > start, column <= moment)
                return inside if op == "eq" else not_(inside)
            return _operate(column, flipped[op], moment)
        return _operate(self._column(attr), op, value)

    def _column(self, attr: str) -> ColumnElement:
        c = Member.__table__.c
        if attr == "total_spend":
            return c.total_spend_minor
        if attr == "average_spend":
            return c.total_spend_minor / func.nullif(c.purchase_count, 0)
        if attr == "birthday_month":
            return c.birth_month
        return getattr(c, attr)

    def _categories(self, op: str, value: Any, path: str) -> ColumnElement[bool]:
        if op not in ("any_of", "all_of", "none_of"):
            raise _bad(f"{path}.op", "categories take any_of, all_of or none_of")
        if (
            not isinstance(value, list)
            or not value
            or len(value) > MAX_LIST
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise _bad(f"{path}.value", "must be a non-empty list of category names")
        names = sorted({category_name(v) for v in value})
        self._spend(f"{path}.value", len(names), len(names))
        column = Member.__table__.c.categories
        bought = [column.contains(f",{name},", autoescape=True) for name in names]
        if op == "any_of":
            return or_(*bought)
        if op == "all_of":
            return and_(*bought)
        return not_(or_(*bought))


def _operate(column: ColumnElement, op: str, value: Any) -> ColumnElement[bool]:
    if op == "eq":
        return column == value
    if op == "ne":
        return or_(column.is_(None), column != value)
    if op == "gt":
        return column > value
    if op == "gte":
        return column >= value
    if op == "lt":
        return column < value
    return column <= value


def compile_rule(rule: Any, currency: str, now: datetime) -> ColumnElement[bool]:
    """The SQL condition of `rule`, or InvalidArgument `invalid-rule` with the bad node's path."""
    return Compiler(currency, now).compile(rule)
