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
    elif value.startswith("86") and MAINLAND_RE.fullmatch(value[2:]):
        value = "+" + value  # 86 and a mainland number, without the plus (API.md section 7)
    if E164_RE.fullmatch(value):
        return value
    return None


# Country calling codes assigned by the ITU (the list of ITU-T E.164 assigned country codes). The set is
# prefix-free (no code starts another), so a number's first digits match at most one of them.
_ASSIGNED = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 "
    "81 82 84 86 90 91 92 93 94 95 98 "
    "211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 "
    "240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 "
    "266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 "
    "376 377 378 379 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 "
    "590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 "
    "687 688 689 690 691 692 800 808 850 852 853 855 856 870 878 880 881 882 883 886 888 960 961 962 963 "
    "964 965 966 967 968 970 971 972 973 974 975 976 977 979 992 993 994 995 996 998"
)
COUNTRY_CALLING_CODES = frozenset(_ASSIGNED.split())


def country_calling_code(phone_e164: str) -> str | None:
    """The country calling code of an E.164 number (``+8613800138000`` → ``86``); None when its first
    digits match no code in service."""
    digits = phone_e164.removeprefix("+")
    for length in (1, 2, 3):
        if digits[:length] in COUNTRY_CALLING_CODES:
            return digits[:length]
    return None
