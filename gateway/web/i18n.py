"""English and Persian for the web pages: one message catalogue, numbers and dates per language.

The language comes from the `lang` cookie (set by the switch on every page), else English.
Persian pages show Persian digits and Jalali dates; every form accepts either kind of digit.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, request

from gateway.web.jalali import MONTHS_FA, to_jalali

LANGUAGES = ("en", "fa")
COOKIE = "lang"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

MESSAGES: dict[str, dict[str, str]] = {
    "club": {"en": "Loyalty club", "fa": "باشگاه مشتریان"},
    "language.other": {"en": "فارسی", "fa": "English"},
    "till.title": {"en": "Till", "fa": "صندوق"},
    "till.sign_in": {"en": "Sign in with the store's POS key", "fa": "ورود با کلید صندوق فروشگاه"},
    "till.key": {"en": "POS key", "fa": "کلید صندوق"},
    "till.sign_in.button": {"en": "Sign in", "fa": "ورود"},
    "till.sign_out": {"en": "Sign out", "fa": "خروج"},
    "till.identify": {"en": "Find the member", "fa": "یافتن عضو"},
    "till.identifier": {
        "en": "Phone, card number or QR code",
        "fa": "شماره موبایل، شماره کارت یا کد QR",
    },
    "till.identify.button": {"en": "Find", "fa": "یافتن"},
    "till.next": {"en": "Next customer", "fa": "مشتری بعدی"},
    "till.tier": {"en": "Tier", "fa": "سطح"},
    "till.available": {"en": "Available points", "fa": "امتیاز قابل استفاده"},
    "till.pending": {"en": "Pending points", "fa": "امتیاز در انتظار"},
    "till.expiring": {
        "en": "{points} points expire on {date}",
        "fa": "{points} امتیاز در {date} منقضی می‌شود",
    },
    "till.purchase": {"en": "Record a purchase", "fa": "ثبت خرید"},
    "till.amount": {"en": "Amount ({currency})", "fa": "مبلغ ({currency})"},
    "till.purchase.button": {"en": "Record", "fa": "ثبت"},
    "till.redeem": {"en": "Pay with points", "fa": "پرداخت با امتیاز"},
    "till.points": {"en": "Points", "fa": "امتیاز"},
    "till.redeem.button": {"en": "Redeem", "fa": "استفاده"},
    "till.earned": {
        "en": "Purchase recorded: {points} points earned.",
        "fa": "خرید ثبت شد: {points} امتیاز کسب شد.",
    },
    "till.redeemed": {"en": "{points} points redeemed.", "fa": "{points} امتیاز استفاده شد."},
    "till.balance": {
        "en": "Balance: {available} available, {pending} pending.",
        "fa": "مانده: {available} قابل استفاده، {pending} در انتظار.",
    },
    "error.bad-key": {"en": "This POS key is not valid.", "fa": "این کلید صندوق معتبر نیست."},
    "error.signed-out": {
        "en": "The till was signed out; sign in again.",
        "fa": "صندوق از حساب خارج شد؛ دوباره وارد شوید.",
    },
    "error.unrecognised": {
        "en": "Type a phone number or a 16-digit card number.",
        "fa": "شماره موبایل یا شماره کارت ۱۶ رقمی را وارد کنید.",
    },
    "error.not-found": {
        "en": "No member with this phone or card.",
        "fa": "عضوی با این شماره یا کارت یافت نشد.",
    },
    "error.invalid-qr-token": {
        "en": "This is not a member's QR code.",
        "fa": "این کد QR متعلق به عضو باشگاه نیست.",
    },
    "error.qr-token-expired": {
        "en": "This QR code has expired; ask the member to refresh it.",
        "fa": "این کد QR منقضی شده است؛ از عضو بخواهید آن را تازه کند.",
    },
    "error.invalid-card-number": {
        "en": "This card number is mistyped (check digit).",
        "fa": "شماره کارت اشتباه وارد شده است.",
    },
    "error.invalid-phone": {
        "en": "This phone number is not valid.",
        "fa": "شماره موبایل معتبر نیست.",
    },
    "error.invalid-amount": {
        "en": "Enter an amount such as 1250000.",
        "fa": "مبلغ را درست وارد کنید، مثلاً ۱۲۵۰۰۰۰.",
    },
    "error.invalid-points": {
        "en": "Enter a whole number of points.",
        "fa": "تعداد امتیاز را به عدد صحیح وارد کنید.",
    },
    "error.insufficient-points": {"en": "Not enough points.", "fa": "امتیاز کافی نیست."},
    "error.csrf": {
        "en": "The form expired; please try again.",
        "fa": "فرم منقضی شده است؛ دوباره تلاش کنید.",
    },
    "error.unavailable": {
        "en": "The club is not answering right now; try again shortly.",
        "fa": "سامانه در حال حاضر پاسخ نمی‌دهد؛ کمی بعد دوباره تلاش کنید.",
    },
    "docs.title": {"en": "API reference", "fa": "مستندات API"},
}


def current_language() -> str:
    lang = request.cookies.get(COOKIE, "")
    return lang if lang in LANGUAGES else "en"


def translate(key: str, **values: object) -> str:
    lang = current_language()
    entry = MESSAGES.get(key)
    text = entry.get(lang, entry["en"]) if entry else key
    return text.format(**{name: number(v) for name, v in values.items()})


def has_message(key: str) -> bool:
    return key in MESSAGES


def number(value: object) -> str:
    """Integers with thousands separators; Persian digits on Persian pages."""
    text = f"{value:,}" if isinstance(value, int) else str(value)
    if current_language() == "fa":
        return text.replace(",", "٬").translate(_PERSIAN_DIGITS)
    return text


def _timezone() -> ZoneInfo | None:
    try:
        return ZoneInfo(current_app.config["LOYALTY"].timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_date(value: str | datetime | date) -> str:
    """A day as people read it: `22 Nov 2026`, or `۱ آذر ۱۴۰۵` on Persian pages.

    Times (RFC 3339 strings or datetimes) are taken in the club's time zone first."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        zone = _timezone()
        value = (value.astimezone(zone) if zone else value).date()
    if current_language() == "fa":
        year, month, day = to_jalali(value)
        return f"{day} {MONTHS_FA[month - 1]} {year}".translate(_PERSIAN_DIGITS)
    return value.strftime("%-d %b %Y")
