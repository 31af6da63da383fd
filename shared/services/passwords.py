"""Password policy and hashing (bcrypt, configurable cost).

bcrypt only reads the first 72 bytes of its input, so longer new passwords are refused with 422 instead
of being truncated silently (hashes imported from the replaced systems are checked as they were made:
``shared.services.legacy_hashes``). Unknown users are checked against a dummy hash so that a wrong username and a
wrong password take the same time (API.md section 7); and every failed check lasts at least as long as the
slowest hash an imported user may have (``FailureFloor``), so that nobody can tell an imported user from
a native one, or either from nobody, by the time a wrong password takes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
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


class FailureFloor:
    """How long a failed password check lasts at least, in seconds: the longer of a bcrypt check at the
    configured cost and a Django ``pbkdf2_sha256`` check at ``legacy_iterations`` (Django 5 makes
    1,000,000; 0 when no such hashes were imported), with a margin for the noise of a measurement.

    Measured once per container, at its first failed check (a bcrypt check and a 20,000-iteration
    PBKDF2 timed three times, about 100 ms at cost 10), and scaled: PBKDF2's time is linear in its
    iterations. Success is never padded: whoever signs in knows the password already.
    """

    SAMPLE_ITERATIONS = 20_000
    MARGIN = 1.25  # a shared CPU's speed drifts by a fifth between one measurement and the next

    def __init__(self, rounds: int, legacy_iterations: int = 0, timer: Callable[[], float] = time.perf_counter) -> None:
        self.rounds = rounds
        self.legacy_iterations = legacy_iterations
        self._timer = timer
        self._seconds: float | None = None

    def seconds(self, dummy: bytes) -> float:
        """The floor; ``dummy`` is a bcrypt hash at the configured cost to time a check against."""
        if self._seconds is None:
            started = self._timer()
            bcrypt.checkpw(b"calibration", dummy)
            slowest = self._timer() - started
            if self.legacy_iterations > 0:
                sample = max(self._pbkdf2_sample() for _ in range(3))  # an upper estimate: the slowest of 3
                slowest = max(slowest, sample * self.legacy_iterations / self.SAMPLE_ITERATIONS)
            self._seconds = slowest * self.MARGIN
        return self._seconds

    def _pbkdf2_sample(self) -> float:
        started = self._timer()
        hashlib.pbkdf2_hmac("sha256", b"calibration", b"salt", self.SAMPLE_ITERATIONS)
        return self._timer() - started


class BcryptHasher:
    """bcrypt with a fixed cost; ``verify(password, None)`` burns the same time and returns False, and
    every failed ``verify`` lasts ``FailureFloor`` at least."""

    def __init__(
        self,
        rounds: int = 11,
        floor: FailureFloor | None = None,
        *,
        timer: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rounds = rounds
        self.floor = floor or FailureFloor(rounds)
        self._timer = timer
        self._sleep = sleep
        self._dummy: bytes | None = None

    def hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(self.rounds)).decode("ascii")

    def verify(self, password: str, hashed: str | None) -> bool:
        """``password`` against ``hashed``: this service's bcrypt, or a hash imported from a replaced
        system (``shared.services.legacy_hashes``). No hash: the same bcrypt work, then False. A False
        answer comes no sooner than the failure floor after the call."""
        started = self._timer()
        if not hashed or legacy_hashes.scheme_of(hashed) is None:
            bcrypt.checkpw(password.encode("utf-8")[:BCRYPT_MAX_BYTES], self._dummy_hash())
            matched = False
        else:
            matched = legacy_hashes.check(password, hashed)
        if not matched:
            rest = self.floor.seconds(self._dummy_hash()) - (self._timer() - started)
            if rest > 0:
                self._sleep(rest)
        return matched

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
