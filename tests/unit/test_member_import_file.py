"""Reading a club's member file: its columns, any digits, either calendar, a byte order mark,
and the line each bad row is reported at."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from gateway.member_import import ImportFileError, parse_row, read_rows


def rows(text: str, bom: bool = False) -> list[tuple[int, dict[str, str]]]:
    return list(read_rows(io.BytesIO((("\ufeff" if bom else "") + text).encode())))


def test_rows_keep_their_file_lines_past_blank_and_quoted_lines() -> None:
    read = rows(
        'Phone,City\n09121234567,Tehran\n\n09121234568,"Karaj,\nAlborz"\n0912123456,\n', bom=True
    )
    assert [line for line, _ in read] == [2, 5, 6]
    assert read[1][1] == {"phone": "09121234568", "city": "Karaj,\nAlborz"}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("phone,nickname\n1,2\n", "unknown column 'nickname'"),
        ("city\nTehran\n", "no phone column"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(text: str, why: str) -> None:
    with pytest.raises(ImportFileError, match=why):
        rows(text)


def test_a_file_that_is_not_utf8_is_refused_whole() -> None:
    with pytest.raises(ImportFileError, match="not UTF-8"):
        list(read_rows(io.BytesIO("phone,city\n0912,تهران\n".encode("cp1256"))))


def test_persian_digits_jalali_days_and_yes_no_words_are_read() -> None:
    row = parse_row(
        7,
        {
            "phone": "۰۹۱۲۱۲۳۴۵۶۷",
            "sms_consent": "بله",
            "sms_consent_date": "۱۴۰۲/۰۵/۰۱",
            "email_consent": "No",
            "points": "۱٬۵۰۰",
            "points_expire_on": "1410/12/29",
            "tier": "silver",
        },
    )
    assert row.member["line"] == 7
    assert row.member["consents"] == {"sms": (True, "2023-07-23"), "email": (False, "")}
    assert row.points == 1500
    # Spendable all through the last day, 1410/12/29 = 2032-03-19.
    assert row.expires_at == datetime(2032, 3, 20, tzinfo=UTC)
    assert row.tier == "silver"


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        ({"phone": ""}, "invalid-phone"),
        ({"phone": "0912", "sms_consent": "maybe"}, "invalid-consent"),
        ({"phone": "0912", "points": "-5"}, "invalid-points"),
        ({"phone": "0912", "points": "12.5"}, "invalid-points"),
        ({"phone": "0912", "points_expire_on": "1402/12/30"}, "invalid-date"),
        ({"phone": "0912", "email_consent": "yes", "email_consent_date": "soon"}, "invalid-date"),
    ],
)
def test_a_bad_field_names_its_code(cells: dict[str, str], code: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_row(2, cells)
    assert getattr(refused.value, "code", None) == code
