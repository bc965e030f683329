"""Names as the desk searches them: Persian and Arabic forms of a letter are one letter."""

from __future__ import annotations

from services.identity.names import folded, search_keys


def test_arabic_yeh_and_kaf_read_as_persian() -> None:
    assert folded("علي كريمي") == folded("علی کریمی") == "علی کریمی"


def test_half_spaces_marks_and_case_do_not_matter() -> None:
    assert folded("محمد\u200cرضا") == folded("محمد رضا")
    assert folded("مُحَمَّد") == folded("محمد")
    assert folded("  Sara   KARIMI ") == "sara karimi"


def test_a_name_is_found_by_its_first_or_its_last_name() -> None:
    assert search_keys("Sara", "Karimi") == ("sara karimi", "karimi sara")
    assert search_keys("", "Karimi") == ("karimi", "karimi")
