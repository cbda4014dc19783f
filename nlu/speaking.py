"""Values as the bot says them: digits one by one, e-mail addresses, dates, amounts of money.

Pure text for TTS; the dialog fills its prompts with these, so each reading is tested once here
rather than through a call.
"""

from __future__ import annotations

from datetime import date, timedelta


def say_digits(digits: str) -> str:
    """Digits for TTS to read one by one: "45678" → "4 5 6 7 8"."""
    return " ".join(digits)


def say_email(email: str) -> str:
    """An address as it is spoken: "bob.smith@example.com" → "bob dot smith at example dot com"."""
    return email.replace(".", " dot ").replace("@", " at ").replace("_", " underscore ").replace("-", " dash ")


def say_date(d: date, today: date) -> str:
    """"today", "tomorrow", else "Monday 23 November" (the caller knows the year)."""
    if d == today:
        return "today"
    if d == today + timedelta(days=1):
        return "tomorrow"
    return f"{d:%A} {d.day} {d:%B}"


def say_amount(cents: int, currency_word: str) -> str:
    """4250 → "42 dollars and 50 cents"; no "and 0 cents"; a credit is "minus ..."."""
    major, minor = divmod(abs(cents), 100)
    text = f"{major} {currency_word}"
    if minor:
        text += f" and {minor} cents"
    return ("minus " if cents < 0 else "") + text
