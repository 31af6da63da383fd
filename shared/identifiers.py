"""Normalisation of sign-in identifiers (API.md section 1): usernames, emails and phone numbers."""

from __future__ import annotations

import re

# fullmatch() everywhere: "$" would also accept a trailing newline. [0-9], not \d: no other scripts' digits.
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")
MAINLAND_RE = re.compile(r"1[3-9][0-9]{9}")
E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")


def username_key(username: str) -> str:
    """Usernames are unique case-insensitively: the claim key is the case-folded name."""
    return username.strip().casefold()


def is_valid_username(username: str) -> bool:
    """2-64 letters, digits, ``_ . -`` or CJK; not an email and not all digits (those look like phones)."""
    return bool(USERNAME_RE.fullmatch(username)) and not username.isdigit()


def normalize_email(email: str) -> str | None:
    """Lower-cased email, or None when it does not look like one."""
    value = email.strip().lower()
    return value if len(value) <= 254 and EMAIL_RE.fullmatch(value) else None


def normalize_phone(phone: str) -> str | None:
    """E.164 form of a mainland 11-digit number or an E.164 number, else None."""
    value = re.sub(r"[\s\-]", "", phone.strip())
    if MAINLAND_RE.fullmatch(value):
        return "+86" + value
    if value.startswith("0086"):
        value = "+" + value[2:]
    if E164_RE.fullmatch(value):
        return value
    return None
