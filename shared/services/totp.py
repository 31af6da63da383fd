"""RFC 6238 time-based one-time codes (pyotp) and the one-time recovery codes that stand in for them.

A code is looked for in the current 30-second step and one step either side (clock drift); the step it
matched is returned, so the caller can accept each step once (RFC 6238 section 5.2). Recovery codes are
ten random 10-character codes from an alphabet without look-alikes; only their SHA-256 is kept (they
carry 50 bits each, so a fast hash is enough, as for refresh tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
RECOVERY_LENGTH = 10


def new_secret() -> str:
    """160 random bits in base32 (RFC 4226's recommended length), as authenticator apps take it."""
    import pyotp

    return pyotp.random_base32(32)


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/`` URI authenticator apps scan (the Key Uri Format)."""
    label = quote(f"{issuer}:{account}", safe=":@")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"


def is_totp_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now: float, window: int = WINDOW) -> int | None:
    """The time step whose code ``code`` is (current step ± ``window``), or None. Every candidate is
    compared in constant time, whichever matches."""
    import pyotp

    code = code.strip()
    if not is_totp_shaped(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now) // STEP_SECONDS
    found = None
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def new_recovery_codes() -> list[str]:
    """Ten codes shown once, as ``XXXXX-XXXXX``."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def recovery_hash(code: str) -> str:
    return hashlib.sha256(normalize_recovery(code).encode()).hexdigest()


def matching_recovery(code: str, hashes: list[str]) -> str | None:
    """The stored hash ``code`` matches (compared against every one in constant time), or None."""
    normal = normalize_recovery(code)
    if len(normal) != RECOVERY_LENGTH:
        return None
    presented = hashlib.sha256(normal.encode()).hexdigest()
    found = None
    for stored in hashes:
        if hmac.compare_digest(stored, presented) and found is None:
            found = stored
    return found
