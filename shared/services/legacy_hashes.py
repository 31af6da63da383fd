"""The password hashes of the systems this service replaces (issue 12), verified in their own scheme so
that nobody must reset a password on day one: Django's ``pbkdf2_sha256$<iterations>$<salt>$<base64>``
and ``bcrypt_sha256$<bcrypt>`` (the Hertz admin console, the mini-program backend), and bcrypt ``$2a$``,
``$2b$``, ``$2y$`` (passlib in the FastAPI library, the REST system, Go's x/crypto in the account center).

bcrypt reads only the first 72 bytes of a password; the old systems passed longer ones and bcrypt cut
them. This service refuses such passwords instead (a hash of its own is never checked against a cut
password), so an imported bcrypt hash is kept as ``bcrypt72$<hash>``: checked against the first 72
bytes, as it was made. A first sign-in that verifies a legacy hash (or bcrypt at another cost) replaces it
with bcrypt at the configured cost in that sign-in's own write (``AccountService``); a password longer
than 72 bytes stays ``bcrypt72$`` (at the configured cost), the only form that can check it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT_MAX_BYTES = 72
MAX_PBKDF2_ITERATIONS = 5_000_000  # an imported hash may not make a sign-in burn more than this


TRUNCATING = "bcrypt72$"


def scheme_of(hashed: str | None) -> str | None:
    """``bcrypt`` (this service's), ``bcrypt72`` (imported bcrypt: the first 72 bytes), ``pbkdf2_sha256``,
    ``bcrypt_sha256``, or None (not a hash this service can check)."""
    if not hashed:
        return None
    if hashed.startswith(BCRYPT_PREFIXES) and len(hashed) == 60:
        return "bcrypt"
    if hashed.startswith(TRUNCATING) and scheme_of(hashed[len(TRUNCATING) :]) == "bcrypt":
        return "bcrypt72"
    if hashed.startswith("pbkdf2_sha256$") and hashed.count("$") == 3:
        return "pbkdf2_sha256"
    if hashed.startswith("bcrypt_sha256$") and hashed[len("bcrypt_sha256$") :].startswith(BCRYPT_PREFIXES):
        return "bcrypt_sha256"
    return None


def imported(hashed: str) -> str:
    """How an imported hash is kept: a bcrypt hash of another system as ``bcrypt72$`` (see above)."""
    return TRUNCATING + hashed if scheme_of(hashed) == "bcrypt" else hashed


def bcrypt_cost(hashed: str) -> int | None:
    """The cost of a bcrypt hash (``$2b$10$...`` or ``bcrypt72$$2b$10$...`` → 10)."""
    try:
        return int(hashed.removeprefix(TRUNCATING).split("$")[2])
    except (IndexError, ValueError):
        return None


def check(password: str, hashed: str) -> bool:
    """Whether ``password`` is the one ``hashed`` was made from (False for a hash of no known scheme)."""
    scheme = scheme_of(hashed)
    secret = password.encode("utf-8")
    try:
        if scheme == "bcrypt":  # this service's: a longer password was never hashed, so never matches
            return len(secret) <= BCRYPT_MAX_BYTES and bool(bcrypt.checkpw(secret, hashed.encode("ascii")))
        if scheme == "bcrypt72":
            inner = hashed[len(TRUNCATING) :].encode("ascii")
            return bool(bcrypt.checkpw(secret[:BCRYPT_MAX_BYTES], inner))
        if scheme == "bcrypt_sha256":  # Django: bcrypt over the SHA-256 hex digest (no 72-byte cut)
            digest = hashlib.sha256(secret).hexdigest().encode("ascii")
            return bool(bcrypt.checkpw(digest, hashed[len("bcrypt_sha256$") :].encode("ascii")))
        if scheme == "pbkdf2_sha256":
            _, iterations, salt, expected = hashed.split("$", 3)
            rounds = int(iterations)
            if not 1 <= rounds <= MAX_PBKDF2_ITERATIONS:
                return False
            derived = hashlib.pbkdf2_hmac("sha256", secret, salt.encode("utf-8"), rounds)
            return hmac.compare_digest(base64.b64encode(derived).decode("ascii"), expected)
    except (ValueError, UnicodeEncodeError):
        return False
    return False
