"""English and Persian for the web pages: one message catalogue, numbers and dates per language.

The language comes from the `lang` cookie (set by the switch on every page), else from the
browser's Accept-Language, else English.
Persian pages show Persian digits and Jalali dates; every form accepts either kind of digit.
Codes (coupon codes, offer codes) are shown exactly as issued: a `Code` is never digit-converted.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, request

from services.runtime.jalali import MONTHS_FA, to_jalali
from services.runtime.money import display_amount, from_minor

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
    "till.transaction": {"en": "Transaction number:", "fa": "شماره تراکنش:"},
    "till.worth": {"en": "Worth {amount} {currency}", "fa": "به ارزش {amount} {currency}"},
    "till.offers": {"en": "Offers", "fa": "پیشنهادها"},
    "till.offer_code": {"en": "Code:", "fa": "کد:"},
    "till.enrol": {"en": "Enrol a new customer", "fa": "عضویت مشتری جدید"},
    "till.enrol.button": {"en": "Enrol", "fa": "عضویت"},
    "till.consent_sms": {
        "en": "The customer agrees to offers by SMS",
        "fa": "مشتری دریافت پیشنهادها با پیامک را می‌پذیرد",
    },
    "till.enrolled": {"en": "Welcome to the club: enrolled.", "fa": "به باشگاه خوش آمدید: عضو شد."},
    "till.already_member": {
        "en": "This phone is a member already: here they are.",
        "fa": "این شماره از قبل عضو است: عضو یافت شد.",
    },
    "till.refund": {"en": "Refund a purchase", "fa": "مرجوعی خرید"},
    "till.refund.transaction": {"en": "Transaction number", "fa": "شماره تراکنش"},
    "till.refund.find": {"en": "Look up the sale", "fa": "جستجوی خرید"},
    "till.refund.paid": {
        "en": "Paid {amount} {currency} on {date}; {left} {currency} left to refund.",
        "fa": "پرداخت {amount} {currency} در {date}؛ {left} {currency} قابل مرجوع.",
    },
    "till.refund.amount": {
        "en": "Amount to refund ({currency}): all that is left, or less for a part",
        "fa": "مبلغ مرجوعی ({currency}): همه مبلغ باقی‌مانده، یا کمتر برای بخشی از آن",
    },
    "till.refund.button": {"en": "Refund", "fa": "مرجوع"},
    "till.refund.cancel": {"en": "Cancel", "fa": "انصراف"},
    "till.refunded": {
        "en": "Refunded {amount}: {points} points taken back.",
        "fa": "{amount} مرجوع شد: {points} امتیاز کسر شد.",
    },
    "error.purchase-not-found": {
        "en": "This store has no purchase with this transaction number.",
        "fa": "خریدی با این شماره تراکنش در این فروشگاه نیست.",
    },
    "error.refund-exceeds-purchase": {
        "en": "That is more than is left to refund of this purchase.",
        "fa": "این مبلغ بیش از مانده قابل مرجوع این خرید است.",
    },
    "error.member-exists": {
        "en": "This phone is a member already.",
        "fa": "این شماره از قبل عضو است.",
    },
    "till.coupon": {"en": "Coupon", "fa": "کوپن"},
    "till.coupon_check": {"en": "A coupon with this purchase", "fa": "کوپن برای این خرید"},
    "till.coupon_code": {
        "en": "Coupon code (type it or scan it)",
        "fa": "کد کوپن (تایپ یا اسکن کنید)",
    },
    "till.coupon_check_button": {"en": "Check", "fa": "بررسی"},
    "till.coupon_discount": {
        "en": "Discount: {discount} {currency}",
        "fa": "تخفیف: {discount} {currency}",
    },
    "till.coupon_to_pay": {
        "en": "To pay: {amount} {currency}",
        "fa": "قابل پرداخت: {amount} {currency}",
    },
    "till.coupon_use": {"en": "Use the coupon", "fa": "استفاده از کوپن"},
    "till.coupon_remove": {"en": "Put it away", "fa": "کنار گذاشتن"},
    "till.coupon_release": {
        "en": "Sale cancelled: give the coupon back",
        "fa": "فروش لغو شد: کوپن برگردانده شود",
    },
    "till.coupon_unusable": {
        "en": "This coupon cannot be used now.",
        "fa": "این کوپن اکنون قابل استفاده نیست.",
    },
    "till.coupon_used": {
        "en": "Coupon used: {discount} off; {to_pay} to pay. Record the purchase below.",
        "fa": "کوپن استفاده شد: {discount} تخفیف؛ {to_pay} قابل پرداخت. خرید را در پایین ثبت کنید.",
    },
    "till.coupon_released": {
        "en": "The coupon was given back; it can be used again.",
        "fa": "کوپن برگردانده شد و دوباره قابل استفاده است.",
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
    "portal.title": {"en": "My club", "fa": "باشگاه من"},
    "portal.login": {"en": "Log in with your mobile number", "fa": "ورود با شماره موبایل"},
    "portal.phone": {"en": "Mobile number", "fa": "شماره موبایل"},
    "portal.send_code": {"en": "Send me a code", "fa": "ارسال کد"},
    "portal.code_sent": {
        "en": "We sent a 6-digit code to your phone by SMS.",
        "fa": "یک کد ۶ رقمی برای شما پیامک شد.",
    },
    "portal.code": {"en": "Code", "fa": "کد"},
    "portal.verify": {"en": "Log in", "fa": "ورود"},
    "portal.start_again": {"en": "Use another number", "fa": "شماره دیگر"},
    "portal.logout": {"en": "Log out", "fa": "خروج"},
    "portal.hello": {"en": "Hello, {name}", "fa": "سلام {name}"},
    "portal.member": {"en": "Member", "fa": "عضو"},
    "portal.available": {"en": "Points to spend", "fa": "امتیاز قابل استفاده"},
    "portal.pending": {"en": "Pending", "fa": "در انتظار"},
    "portal.held": {"en": "Reserved", "fa": "رزرو شده"},
    "portal.expiring": {
        "en": "{points} points expire on {date}",
        "fa": "{points} امتیاز در {date} منقضی می‌شود",
    },
    "portal.tier": {"en": "Tier: {name}", "fa": "سطح: {name}"},
    "portal.next_tier": {
        "en": "Spend {amount} {currency} more to reach {name}.",
        "fa": "با {amount} {currency} خرید دیگر به سطح {name} می‌رسید.",
    },
    "portal.top_tier": {"en": "You are in the top tier.", "fa": "شما در بالاترین سطح هستید."},
    "portal.qr": {"en": "Show this at the till", "fa": "این کد را به صندوقدار نشان دهید"},
    "portal.qr_note": {
        "en": "The code renews itself every minute. Card number: {card}",
        "fa": "کد هر دقیقه تازه می‌شود. شماره کارت: {card}",
    },
    "portal.history": {"en": "History", "fa": "تاریخچه"},
    "portal.older": {"en": "Older", "fa": "قدیمی‌تر"},
    "portal.newest": {"en": "Newest", "fa": "جدیدترین"},
    "portal.no_history": {"en": "No points yet.", "fa": "هنوز امتیازی ندارید."},
    "portal.profile": {"en": "Profile", "fa": "مشخصات"},
    "portal.first_name": {"en": "First name", "fa": "نام"},
    "portal.last_name": {"en": "Last name", "fa": "نام خانوادگی"},
    "portal.city": {"en": "City", "fa": "شهر"},
    "portal.birth_date": {"en": "Birth date (YYYY-MM-DD)", "fa": "تاریخ تولد (۱۳۷۰/۰۱/۳۱)"},
    "portal.consent_sms": {"en": "Send me offers by SMS", "fa": "پیشنهادها را پیامک کنید"},
    "portal.consent_email": {"en": "Send me offers by e-mail", "fa": "پیشنهادها را ایمیل کنید"},
    "portal.email": {
        "en": "New e-mail address (we send it a code to confirm)",
        "fa": "ایمیل جدید (برای تأیید، کدی به آن می‌فرستیم)",
    },
    "portal.email_code_sent": {
        "en": "Saved. We sent a code to your new e-mail address: type it below to use the address.",
        "fa": "ذخیره شد. کدی به ایمیل جدید شما فرستادیم: برای ثبت ایمیل، آن را در پایین وارد کنید.",
    },
    "portal.email_confirm": {"en": "Confirm your e-mail address", "fa": "تأیید ایمیل"},
    "portal.email_code_to": {"en": "The code went to:", "fa": "کد فرستاده شد به:"},
    "portal.email_set": {"en": "Confirm", "fa": "تأیید"},
    "portal.email_saved": {"en": "Your e-mail address is set.", "fa": "ایمیل شما ثبت شد."},
    "portal.phone_change": {"en": "Change your mobile number", "fa": "تغییر شماره موبایل"},
    "portal.new_phone": {"en": "New mobile number", "fa": "شماره موبایل جدید"},
    "portal.send_codes": {"en": "Get the codes", "fa": "دریافت کدها"},
    "portal.phone_codes_sent": {
        "en": "We sent a code to your current number and one to the new number.",
        "fa": "یک کد به شماره فعلی و یک کد به شماره جدید فرستادیم.",
    },
    "portal.phone_codes_to": {"en": "The new number:", "fa": "شماره جدید:"},
    "portal.old_code": {
        "en": "Code sent to your current number",
        "fa": "کد ارسال‌شده به شماره فعلی",
    },
    "portal.new_code": {"en": "Code sent to the new number", "fa": "کد ارسال‌شده به شماره جدید"},
    "portal.phone_confirm": {"en": "Change the number", "fa": "تغییر شماره"},
    "portal.phone_changed": {
        "en": "Your mobile number is changed.",
        "fa": "شماره موبایل شما تغییر کرد.",
    },
    "portal.my_data": {"en": "Your data", "fa": "اطلاعات شما"},
    "portal.export": {
        "en": "Download everything the club holds about you",
        "fa": "دریافت همه اطلاعاتی که باشگاه از شما دارد",
    },
    "portal.delete_explained": {
        "en": "Deleting your account erases your name, number, e-mail and consents for good;"
        " your points are lost.",
        "fa": "با حذف حساب، نام، شماره، ایمیل و رضایت‌های شما برای همیشه پاک می‌شود و امتیازهایتان"
        " از بین می‌رود.",
    },
    "portal.delete_confirm": {
        "en": "Type DELETE to confirm",
        "fa": "برای تأیید، کلمه «حذف» را بنویسید",
    },
    "portal.delete": {"en": "Delete my account", "fa": "حذف حساب من"},
    "portal.delete_unconfirmed": {
        "en": "Type DELETE to delete your account.",
        "fa": "برای حذف حساب، کلمه «حذف» را بنویسید.",
    },
    "portal.deleted": {
        "en": "Your account is deleted. Thank you for having been a member.",
        "fa": "حساب شما حذف شد. از همراهی شما سپاسگزاریم.",
    },
    "portal.save": {"en": "Save", "fa": "ذخیره"},
    "portal.saved": {"en": "Saved.", "fa": "ذخیره شد."},
    "portal.offers": {"en": "Offers for you", "fa": "پیشنهادهای شما"},
    "portal.referral": {"en": "Invite a friend", "fa": "دعوت از دوستان"},
    "portal.missions": {"en": "Your missions", "fa": "مأموریت‌های شما"},
    "portal.mission_progress": {
        "en": "{progress} of {target}",
        "fa": "{progress} از {target}",
    },
    "portal.mission_done": {
        "en": "Done: {progress} of {target}. Your reward is on its way.",
        "fa": "انجام شد: {progress} از {target}. پاداش شما در راه است.",
    },
    "portal.mission_resets": {"en": "Starts again on {date}", "fa": "شروع دوباره: {date}"},
    "portal.mission_reward_points": {
        "en": "Reward: {points} points",
        "fa": "پاداش: {points} امتیاز",
    },
    "portal.mission_reward_item": {"en": "Reward:", "fa": "پاداش:"},
    "portal.referral_note": {
        "en": "Friends who join with your code earn points with their first purchase, and so"
        " do you.",
        "fa": "دوستانی که با کد شما عضو شوند با اولین خریدشان امتیاز می‌گیرند، و شما هم.",
    },
    "portal.referral_link": {"en": "Your invitation link", "fa": "پیوند دعوت شما"},
    "portal.referral_sms": {"en": "Share by SMS", "fa": "ارسال با پیامک"},
    "portal.referral_sms_body": {
        "en": "Join the club with my code {code}: {link}",
        "fa": "با کد من {code} عضو باشگاه شوید: {link}",
    },
    "portal.referral_counts": {
        "en": "Friends who joined: {invited}. Rewarded: {rewarded}.",
        "fa": "دوستانی که عضو شدند: {invited}. پاداش گرفته: {rewarded}.",
    },
    "portal.referral_code": {
        "en": "A friend's referral code (optional)",
        "fa": "کد معرف (اختیاری)",
    },
    "error.invalid-referral-code": {
        "en": "This referral code is not valid. Check it, or log in without it.",
        "fa": "این کد معرف معتبر نیست. آن را بررسی کنید یا بدون آن وارد شوید.",
    },
    "portal.offer_code": {"en": "Code: {code}", "fa": "کد: {code}"},
    "portal.offer_ends": {"en": "Until {date}", "fa": "تا {date}"},
    "portal.feedback": {"en": "How are we doing?", "fa": "نظر شما درباره ما چیست؟"},
    "portal.rating": {"en": "Your rating (1 to 5)", "fa": "امتیاز شما (۱ تا ۵)"},
    "portal.comment": {"en": "Comment (optional)", "fa": "توضیح (اختیاری)"},
    "portal.send": {"en": "Send", "fa": "ارسال"},
    "portal.thanks": {"en": "Thank you for your feedback.", "fa": "از نظر شما سپاسگزاریم."},
    "error.invalid-rating": {
        "en": "Choose a rating from 1 to 5.",
        "fa": "امتیازی از ۱ تا ۵ انتخاب کنید.",
    },
    "line.purchase": {"en": "Purchase", "fa": "خرید"},
    "line.purchase.at": {"en": "Purchase at {store}", "fa": "خرید در {store}"},
    "line.redemption": {"en": "Paid with points", "fa": "پرداخت با امتیاز"},
    "line.redemption.at": {
        "en": "Paid with points at {store}",
        "fa": "پرداخت با امتیاز در {store}",
    },
    "line.refund": {"en": "Refund", "fa": "مرجوعی"},
    "line.refund.at": {"en": "Refund at {store}", "fa": "مرجوعی در {store}"},
    "line.bonus": {"en": "Campaign bonus", "fa": "امتیاز هدیه کمپین"},
    "line.bonus.at": {"en": "Campaign bonus at {store}", "fa": "امتیاز هدیه کمپین در {store}"},
    "line.expiry": {"en": "Expired", "fa": "منقضی"},
    "line.adjustment": {"en": "Adjustment", "fa": "اصلاح"},
    "line.referral": {"en": "Referral reward", "fa": "پاداش معرفی دوست"},
    "line.opening": {"en": "Opening balance", "fa": "مانده اولیه"},
    "line.mission": {"en": "Mission reward", "fa": "پاداش مأموریت"},
    "line.draw": {"en": "Prize draw chances", "fa": "شانس قرعه‌کشی"},
    "line.draw-back": {
        "en": "Prize draw chances returned",
        "fa": "بازگشت امتیاز شانس قرعه‌کشی",
    },
    "kind.earn": {"en": "Purchase", "fa": "خرید"},
    "kind.redeem": {"en": "Redeemed", "fa": "استفاده"},
    "kind.refund": {"en": "Refund", "fa": "مرجوعی"},
    "kind.expire": {"en": "Expired", "fa": "منقضی"},
    "kind.adjust": {"en": "Adjustment", "fa": "اصلاح"},
    "kind.transfer": {"en": "Transfer", "fa": "انتقال"},
    "kind.activate": {"en": "Now available", "fa": "قابل استفاده شد"},
    "kind.hold": {"en": "Reserved", "fa": "رزرو"},
    "kind.merge": {"en": "Accounts merged", "fa": "ادغام حساب"},
    "kind.referral": {"en": "Referral reward", "fa": "پاداش معرفی دوست"},
    "kind.opening": {"en": "Opening balance", "fa": "مانده اولیه"},
    "kind.draw": {"en": "Prize draw chances", "fa": "شانس قرعه‌کشی"},
    "kind.draw-back": {"en": "Prize draw chances returned", "fa": "بازگشت امتیاز شانس قرعه‌کشی"},
    "error.wrong-code": {"en": "That code is not right.", "fa": "کد درست نیست."},
    "error.code-used": {"en": "That code was already used.", "fa": "این کد قبلاً استفاده شده است."},
    "error.code-expired": {
        "en": "That code expired: ask for a new one.",
        "fa": "این کد منقضی شده است: کد تازه بخواهید.",
    },
    "error.invalid-email": {
        "en": "That is not an e-mail address.",
        "fa": "این نشانی ایمیل درست نیست.",
    },
    "error.too-many-tries": {
        "en": "Too many wrong tries: ask for a new code.",
        "fa": "تلاش‌های نادرست زیاد بود: کد تازه بخواهید.",
    },
    "error.too-many-codes": {
        "en": "Too many codes were sent; wait a little and try again.",
        "fa": "کدهای زیادی ارسال شده است؛ کمی صبر کنید.",
    },
    "error.rate-limited": {
        "en": "Too many tries; wait a little and try again.",
        "fa": "تلاش‌ها زیاد بود؛ کمی صبر کنید.",
    },
    "error.invalid-birth-date": {
        "en": "Type the birth date as YYYY-MM-DD.",
        "fa": "تاریخ تولد را به شکل ۱۳۷۰/۰۱/۳۱ وارد کنید.",
    },
    "docs.title": {"en": "API reference", "fa": "مستندات API"},
    "currency.IRR": {"en": "rials", "fa": "ریال"},
    "currency.IRT": {"en": "toman", "fa": "تومان"},
    "portal.rewards": {"en": "Rewards and coupons", "fa": "جوایز و کوپن‌ها"},
    "portal.rewards_link": {
        "en": "Spend your points on rewards",
        "fa": "امتیازهایتان را با جایزه عوض کنید",
    },
    "rewards.title": {"en": "Rewards", "fa": "جوایز"},
    "rewards.back": {"en": "Back to my club", "fa": "بازگشت به باشگاه من"},
    "rewards.you_have": {
        "en": "You have {points} points to spend.",
        "fa": "{points} امتیاز قابل استفاده دارید.",
    },
    "rewards.cost": {"en": "{points} points", "fa": "{points} امتیاز"},
    "rewards.stock": {"en": "{stock} left", "fa": "{stock} عدد باقی مانده"},
    "rewards.unlimited": {"en": "always available", "fa": "همیشه موجود"},
    "rewards.redeem": {"en": "Redeem", "fa": "دریافت"},
    "rewards.need_more": {
        "en": "{points} more points needed",
        "fa": "{points} امتیاز دیگر لازم است",
    },
    "rewards.none": {"en": "No rewards right now.", "fa": "فعلاً جایزه‌ای نیست."},
    "rewards.confirm": {
        "en": "Spend {points} points on this reward?",
        "fa": "{points} امتیاز برای این جایزه خرج شود؟",
    },
    "rewards.confirm_button": {"en": "Yes, redeem", "fa": "بله، دریافت می‌کنم"},
    "rewards.not_now": {"en": "Not now", "fa": "فعلاً نه"},
    "rewards.redeemed": {
        "en": "Done: your coupon is below.",
        "fa": "انجام شد: کوپن شما در پایین است.",
    },
    "rewards.not_found": {
        "en": "This reward is not offered to you.",
        "fa": "این جایزه برای شما در دسترس نیست.",
    },
    "coupons.title": {"en": "My coupons", "fa": "کوپن‌های من"},
    "coupons.none": {"en": "No coupons yet.", "fa": "هنوز کوپنی ندارید."},
    "coupons.code": {"en": "Code:", "fa": "کد:"},
    "coupons.partner_code": {"en": "Partner's code:", "fa": "کد همکار:"},
    "coupons.expires": {"en": "valid until {date}", "fa": "معتبر تا {date}"},
    "coupons.percent_off": {"en": "{percent}% off", "fa": "{percent}٪ تخفیف"},
    "coupons.amount_off": {"en": "{amount} {currency} off", "fa": "{amount} {currency} تخفیف"},
    "coupons.min_purchase": {
        "en": "on a purchase of {amount} or more",
        "fa": "برای خرید {amount} یا بیشتر",
    },
    "coupon.issued": {"en": "Ready to use", "fa": "آماده استفاده"},
    "coupon.used": {"en": "Used", "fa": "استفاده شده"},
    "coupon.expired": {"en": "Expired", "fa": "منقضی"},
    "coupon.cancelled": {"en": "Cancelled", "fa": "لغو شده"},
    "error.out-of-stock": {"en": "Out of stock.", "fa": "موجودی تمام شده است."},
    "error.reward-limit-reached": {
        "en": "You have redeemed this reward as often as it allows.",
        "fa": "این جایزه را به اندازه مجاز دریافت کرده‌اید.",
    },
    "error.reward-not-found": {
        "en": "This reward is not offered to you.",
        "fa": "این جایزه برای شما در دسترس نیست.",
    },
    "error.coupon-not-found": {"en": "No coupon has this code.", "fa": "کوپنی با این کد نیست."},
    "error.coupon-used": {
        "en": "This coupon was already used.",
        "fa": "این کوپن قبلاً استفاده شده است.",
    },
    "error.coupon-expired": {"en": "This coupon has expired.", "fa": "این کوپن منقضی شده است."},
    "error.coupon-cancelled": {"en": "This coupon was cancelled.", "fa": "این کوپن لغو شده است."},
    "error.coupon-min-purchase": {
        "en": "The purchase is below this coupon's minimum.",
        "fa": "مبلغ خرید کمتر از حداقل این کوپن است.",
    },
    "error.coupon-not-redeemable": {
        "en": "This code is not used at the till.",
        "fa": "این کد در صندوق استفاده نمی‌شود.",
    },
    # Prize draws, in the portal and the console
    "draw_status.open": {"en": "Open", "fa": "باز"},
    "draw_status.closed": {"en": "Closed", "fa": "بسته"},
    "draw_status.cancelled": {"en": "Cancelled", "fa": "لغو شده"},
    "portal.draws": {"en": "Prize draws", "fa": "قرعه‌کشی‌ها"},
    "portal.draws_link": {
        "en": "See the draws and your chances",
        "fa": "قرعه‌کشی‌ها و شانس‌های شما",
    },
    "draws.back_home": {"en": "Back to my club", "fa": "بازگشت به باشگاه من"},
    # The member's messages, in the portal
    "portal.messages": {"en": "Your messages", "fa": "پیام‌های شما"},
    "portal.messages_link": {
        "en": "Read what the club sent you",
        "fa": "پیام‌هایی که باشگاه برایتان فرستاده",
    },
    "messages.none": {
        "en": "The club has sent you no message yet.",
        "fa": "باشگاه هنوز پیامی برایتان نفرستاده است.",
    },
    "messages.by.sms": {"en": "by SMS", "fa": "با پیامک"},
    "messages.by.email": {"en": "by e-mail", "fa": "با ایمیل"},
    "draws.none_open": {
        "en": "No draw is open right now.",
        "fa": "فعلاً قرعه‌کشی بازی نیست.",
    },
    "draws.until": {"en": "Open until {moment}", "fa": "باز تا {moment}"},
    "draws.ended": {"en": "Closed {moment}", "fa": "بسته شده در {moment}"},
    "draws.prizes_won": {"en": "Prizes", "fa": "جایزه‌ها"},
    "draws.your_chances": {"en": "Your chances", "fa": "شانس‌های شما"},
    "draws.earn.per_purchase": {
        "en": "{n} chance(s) with each purchase",
        "fa": "{n} شانس با هر خرید",
    },
    "draws.earn.per_amount": {
        "en": "one chance for each {amount} {currency} you spend in a purchase",
        "fa": "یک شانس به ازای هر {amount} {currency} خرید",
    },
    "draws.earn.points": {
        "en": "or buy a chance for {points} points",
        "fa": "یا خرید هر شانس با {points} امتیاز",
    },
    "draws.earn.max": {"en": "at most {n} chances each", "fa": "حداکثر {n} شانس برای هر نفر"},
    "draws.you_have": {"en": "You have {points} points.", "fa": "{points} امتیاز دارید."},
    "draws.how_many": {"en": "Chances to buy", "fa": "تعداد شانس"},
    "draws.buy": {"en": "Buy with points", "fa": "خرید با امتیاز"},
    "draws.bought": {"en": "Your chances are in the draw.", "fa": "شانس‌های شما ثبت شد."},
    "draws.you_won": {"en": "You won: {prize}!", "fa": "برنده شدید: {prize}!"},
    "draws.not_won": {
        "en": "Not this time: {winners} winner(s) were drawn.",
        "fa": "این بار نه: {winners} برنده انتخاب شد.",
    },
    "draws.fairness": {"en": "Check the draw", "fa": "بررسی قرعه‌کشی"},
    "draws.fairness_note": {
        "en": "Before the draw, the club published the SHA-256 of a secret seed; at closing it"
        " reveals the seed, which picks the winners. The SHA-256 of the seed must be the"
        " commitment.",
        "fa": "باشگاه پیش از قرعه‌کشی، SHA-256 بذری محرمانه را منتشر کرده است؛ هنگام بستن، بذر"
        " آشکار می‌شود و برندگان را تعیین می‌کند. SHA-256 بذر باید همان تعهد باشد.",
    },
    "draws.commitment_short": {"en": "Commitment", "fa": "تعهد"},
    "draws.seed_short": {"en": "Seed", "fa": "بذر"},
    "draws.invalid_chances": {
        "en": "Type how many chances, a whole number from 1.",
        "fa": "تعداد شانس را به صورت عدد صحیح از ۱ بنویسید.",
    },
    "error.draw-not-found": {"en": "No such draw.", "fa": "چنین قرعه‌کشی‌ای وجود ندارد."},
    "error.draw-not-open": {"en": "This draw is not open.", "fa": "این قرعه‌کشی باز نیست."},
    "error.draw-cancelled": {
        "en": "The draw was cancelled.",
        "fa": "این قرعه‌کشی لغو شده است.",
    },
    "error.draw-closed": {"en": "The draw is closed.", "fa": "این قرعه‌کشی بسته شده است."},
    "error.too-many-chances": {
        "en": "That is more chances than this draw allows each member.",
        "fa": "این تعداد از سقف شانس هر عضو در این قرعه‌کشی بیشتر است.",
    },
    "error.not-eligible": {
        "en": "This draw is not open to you.",
        "fa": "این قرعه‌کشی برای شما نیست.",
    },
    "error.invalid-targeting": {
        "en": "Choose who may enter: every member, a segment, stages or tiers.",
        "fa": "مشخص کنید چه کسانی شرکت می‌کنند: همه اعضا، یک بخش، مراحل یا سطح‌ها.",
    },
    "error.chances-not-for-sale": {
        "en": "This draw's chances are not sold for points.",
        "fa": "شانس این قرعه‌کشی با امتیاز فروخته نمی‌شود.",
    },
    "error.request-id-reused": {
        "en": "This form was already sent; open the page again to buy more.",
        "fa": "این فرم قبلاً ارسال شده است؛ برای خرید بیشتر صفحه را دوباره باز کنید.",
    },
    "error.invalid-prizes": {
        "en": "Give each prize a name and a count from 1 (at most 50 prizes).",
        "fa": "برای هر جایزه نام و تعدادی از ۱ بنویسید (حداکثر ۵۰ جایزه).",
    },
    "error.invalid-chances": {
        "en": "Say how chances are earned (per purchase, per amount spent or for points),"
        " each a number of 0 or more.",
        "fa": "راه کسب شانس را مشخص کنید (هر خرید، مبلغ خرید یا امتیاز)، هر کدام عددی"
        " از ۰ به بالا.",
    },
    "error.invalid-closes-at": {
        "en": "The closing time must be in the future.",
        "fa": "زمان پایان باید در آینده باشد.",
    },
}


class Code(str):
    """A code a member reads out or types at the till (`LOYAL2X`): shown as issued, in every
    language."""


def code(value: object) -> Code:
    return Code(value)


def current_language() -> str:
    """The switch's choice, else the browser's preferred language of ours, else English."""
    lang = request.cookies.get(COOKIE, "")
    if lang in LANGUAGES:
        return lang
    for tag, _quality in request.accept_languages:  # most preferred first
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return "en"


def translate(key: str, **values: object) -> str:
    lang = current_language()
    entry = MESSAGES.get(key)
    text = entry.get(lang, entry["en"]) if entry else key
    return text.format(**{name: number(v) for name, v in values.items()})


def verbatim(key: str, **values: str) -> str:
    """A message with values that are codes or links: shown as they are, never with their
    digits converted."""
    entry = MESSAGES[key]
    return entry.get(current_language(), entry["en"]).format(**values)


def has_message(key: str) -> bool:
    return key in MESSAGES


def number(value: object) -> str:
    """Integers with thousands separators; Persian digits on Persian pages. A `Code` as it is."""
    if isinstance(value, Code):
        return value
    text = f"{value:,}" if isinstance(value, int) else str(value)
    if current_language() == "fa":
        return text.replace(",", "٬").translate(_PERSIAN_DIGITS)
    return text


def money(amount: str) -> str:
    """The one way pages write an amount of the program's currency: in the display currency
    (`LOYALTY_DISPLAY_CURRENCY`), with thousands separators and no zeros after the point:
    `8750000.00` IRR → `8,750,000` (Persian: ۸٬۷۵۰٬۰۰۰), or `875,000` when shown in toman."""
    config = current_app.config["LOYALTY"]
    whole, _, fraction = display_amount(amount, config.currency, config.display_currency).partition(
        "."
    )
    if not whole.lstrip("-").isdecimal():
        return amount
    text = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    if current_language() == "fa":
        return text.replace(",", "٬").replace(".", "٫").translate(_PERSIAN_DIGITS)
    return text


def shown_title(thing: dict) -> str:
    """What a page shows for something with a `title` and a `title_fa` (a tier): the Persian
    one on Persian pages."""
    return (
        thing["title_fa"]
        if current_language() == "fa" and thing.get("title_fa")
        else thing["title"]
    )


def mission_figures(mission: dict) -> dict[str, object]:
    """A mission's progress and target as pages show them (`progress_shown`, `target_shown`):
    counts as numbers, a spend goal's amounts as money in the display currency."""
    if mission["metric"] != "spend":
        return {"progress_shown": mission["progress"], "target_shown": mission["target"]}
    currency = current_app.config["LOYALTY"].currency
    return {
        name + "_shown": f"{money(from_minor(mission[name], currency))} {currency_name()}"
        for name in ("progress", "target")
    }


def currency_name() -> str:
    """The display currency as people name it (`rials`, `تومان`), else its ISO code."""
    shown = current_app.config["LOYALTY"].display_currency
    return translate(f"currency.{shown}") if has_message(f"currency.{shown}") else shown


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


def local_moment(value: str | datetime) -> str:
    """A day and a time of day in the club's time zone: `22 Nov 2026 14:05` (Persian: Jalali
    day, Persian digits)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    zone = _timezone()
    local = value.astimezone(zone) if zone else value
    clock = local.strftime("%H:%M")
    if current_language() == "fa":
        clock = clock.translate(_PERSIAN_DIGITS)
    return f"{local_date(local)} {clock}"
