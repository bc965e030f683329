"""`/`: the first page a person opens. It links the member portal, the till, the marketer
console and the API reference, each with a sentence on who it is for."""

from __future__ import annotations

from flask import Blueprint, Response

from gateway.web import i18n, pages

bp = Blueprint("welcome", __name__)

MESSAGES: dict[str, dict[str, str]] = {
    "welcome.title": {"en": "Welcome to the loyalty club", "fa": "به باشگاه مشتریان خوش آمدید"},
    "welcome.intro": {
        "en": "One suite for the club's members, cashiers, marketers and developers. Where to?",
        "fa": "یک سامانه برای اعضا، صندوقداران، بازاریاب‌ها و توسعه‌دهندگان باشگاه. کجا می‌روید؟",
    },
    "welcome.portal": {
        "en": "Members log in with their mobile number to see their points, show their card at "
        "the till and read their offers.",
        "fa": "اعضا با شماره موبایل وارد می‌شوند تا امتیازهایشان را ببینند، کارت خود را در "
        "صندوق نشان دهند و پیشنهادهایشان را بخوانند.",
    },
    "welcome.till": {
        "en": "Cashiers sign in with the store's POS key to find a member, record a purchase and "
        "redeem points.",
        "fa": "صندوقداران با کلید صندوق فروشگاه وارد می‌شوند تا عضو را بیابند، خرید را ثبت کنند "
        "و امتیاز را استفاده کنند.",
    },
    "welcome.console": {
        "en": "Marketers and administrators follow the members' stages, build segments and run "
        "campaigns.",
        "fa": "بازاریاب‌ها و مدیران مرحله‌های اعضا را دنبال می‌کنند، بخش‌ها را می‌سازند و "
        "کمپین اجرا می‌کنند.",
    },
    "welcome.docs": {
        "en": "Developers read every operation of the HTTP API with examples, and try it out.",
        "fa": "توسعه‌دهندگان همه عملیات API را با نمونه می‌خوانند و امتحان می‌کنند.",
    },
}
i18n.MESSAGES.update(MESSAGES)

# Each page: its path, the key of its title (the page's own) and of what it is for.
LINKS = (
    ("/portal", "portal.title", "welcome.portal"),
    ("/till", "till.title", "welcome.till"),
    ("/console", "console.title", "welcome.console"),
    ("/docs", "docs.title", "welcome.docs"),
)


@bp.get("/")
def show() -> Response:
    return pages.page("welcome.html", links=LINKS)
