"""Password policy and hashing (bcrypt, configurable cost).

bcrypt only reads the first 72 bytes of its input, so longer new passwords are refused with 422 instead
of being truncated silently (hashes imported from the replaced systems are checked as they were made:
``shared.services.legacy_hashes``). Unknown users are checked against a dummy hash so that a wrong username and a
wrong password take the same time (API.md section 7).
"""

from __future__ import annotations

import hmac
from typing import Protocol

import bcrypt

from shared.errors import ValidationError
from shared.services import legacy_hashes

BCRYPT_MAX_BYTES = 72


class PasswordHasher(Protocol):
    """What the account service needs from a hasher."""

    def hash(self, password: str) -> str: ...

    def verify(self, password: str, hashed: str | None) -> bool: ...

    def upgrade(self, password: str, hashed: str) -> str | None: ...


class BcryptHasher:
    """bcrypt with a fixed cost; ``verify(password, None)`` burns the same time and returns False."""

    def __init__(self, rounds: int = 11) -> None:
        self.rounds = rounds
        self._dummy: bytes | None = None

    def hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(self.rounds)).decode("ascii")

    def verify(self, password: str, hashed: str | None) -> bool:
        """``password`` against ``hashed``: this service's bcrypt, or a hash imported from a replaced
        system (``shared.services.legacy_hashes``). No hash: the same bcrypt work, then False."""
        if not hashed or legacy_hashes.scheme_of(hashed) is None:
            bcrypt.checkpw(password.encode("utf-8")[:BCRYPT_MAX_BYTES], self._dummy_hash())
            return False
        return legacy_hashes.check(password, hashed)

    def upgrade(self, password: str, hashed: str) -> str | None:
        """The hash to store instead of ``hashed``, which ``password`` just verified: bcrypt at the
        configured cost (``bcrypt72$`` for a legacy password longer than 72 bytes); None when ``hashed``
        is that already."""
        secret = password.encode("utf-8")
        long = len(secret) > BCRYPT_MAX_BYTES
        scheme = legacy_hashes.scheme_of(hashed)
        current = legacy_hashes.bcrypt_cost(hashed) == self.rounds and "$2b$" in hashed[:14]
        if current and scheme == ("bcrypt72" if long else "bcrypt"):
            return None
        made = bcrypt.hashpw(secret[:BCRYPT_MAX_BYTES], bcrypt.gensalt(self.rounds)).decode("ascii")
        return legacy_hashes.TRUNCATING + made if long else made

    def _dummy_hash(self) -> bytes:
        if self._dummy is None:
            self._dummy = bcrypt.hashpw(b"dummy-password-for-timing", bcrypt.gensalt(self.rounds))
        return self._dummy


class PasswordPolicy:
    """Length rules of API.md section 7: at least ``min_length`` characters, at most 72 UTF-8 bytes."""

    def __init__(self, min_length: int = 6) -> None:
        self.min_length = min_length

    def check(self, password: str, field: str = "password") -> None:
        """Raises:
        ValidationError: the password is too short or longer than bcrypt can hash.
        """
        problems: list[str] = []
        if len(password) < self.min_length:
            problems.append(f"must be at least {self.min_length} characters")
        if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
            problems.append(f"must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
        if problems:
            raise ValidationError({field: problems})


def constant_time_equals(a: str, b: str) -> bool:
    """Compare secrets without leaking where they differ."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
