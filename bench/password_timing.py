"""How long a wrong password takes, by the kind of hash the user has (issue 12).

Imported users keep their old system's hash until their first sign-in: Django's PBKDF2 at 1,000,000
iterations is several times slower than bcrypt at cost 10, so without care a wrong password would tell an
attacker that the account exists and was imported. ``BcryptHasher`` holds every failed check to the
``FailureFloor`` (the slower of a bcrypt check at the configured cost and a PBKDF2 check at
``LEGACY_PBKDF2_ITERATIONS``). This section times ``BcryptHasher.verify`` with a wrong password for each
kind of hash, with the floor off (``LEGACY_PBKDF2_ITERATIONS=0``) and at the template's default, at the
template's bcrypt cost, one after another on this machine.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time

import bcrypt

from bench import report
from bench.bcrypt_cost import template_defaults
from shared.services.legacy_hashes import imported
from shared.services.passwords import BcryptHasher, FailureFloor

PASSWORD = "correct horse battery"
WRONG = "Correct horse battery"
SPREAD_BAR = 1.10  # slowest / fastest median failure with the floor on


def django_pbkdf2(iterations: int) -> str:
    salt = base64.b64encode(os.urandom(12)).decode().rstrip("=")
    derived = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(derived).decode()}"


def kinds(rounds: int) -> list[tuple[str, str | None]]:
    native = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds)).decode()
    go = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10, b"2a")).decode()
    passlib = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12, b"2b")).decode()
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest().encode()
    sha = "bcrypt_sha256$" + bcrypt.hashpw(digest, bcrypt.gensalt(12)).decode()
    return [
        ("nobody (no such user)", None),
        (f"native bcrypt, cost {rounds}", native),
        ("Django 5 pbkdf2_sha256, 1,000,000", django_pbkdf2(1_000_000)),
        ("Django 3.2 pbkdf2_sha256, 260,000", django_pbkdf2(260_000)),
        ("Django bcrypt_sha256, cost 12", sha),
        ("Go bcrypt $2a$, cost 10", imported(go)),
        ("passlib bcrypt $2b$, cost 12", imported(passlib)),
    ]


def failure_time(hasher: BcryptHasher, hashed: str | None, runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        assert not hasher.verify(WRONG, hashed)
        timings.append(time.perf_counter() - start)
    return report.median(timings)


def run(runs: int) -> None:
    rounds, _ = template_defaults()
    rounds = rounds or 10
    legacy = 1_000_000
    report.heading(f"5b. a wrong password's time by the user's hash (BcryptHasher.verify, median of {runs})")
    bare = BcryptHasher(rounds, FailureFloor(rounds, 0))
    held = BcryptHasher(rounds, FailureFloor(rounds, legacy))
    rows, padded = [], []
    for name, hashed in kinds(rounds):
        without = failure_time(bare, hashed, runs)
        with_floor = failure_time(held, hashed, runs)
        padded.append(with_floor)
        rows.append([name, report.ms(without, 0), report.ms(with_floor, 0)])
    report.table(["the user's hash", "floor off (0)", f"floor on ({legacy:,})"], rows, "<>>")
    spread = max(padded) / min(padded)
    report.note(
        f"floor measured: {report.ms(held.floor.seconds(b''), 0)} (bcrypt cost {rounds} and PBKDF2 at "
        f"{legacy:,} iterations, scaled from the slowest of three 20,000-iteration samples, x{FailureFloor.MARGIN})"
    )
    report.note(
        f"slowest / fastest failure with the floor on: {spread:.2f} (bar {SPREAD_BAR:.2f}) "
        f"{report.verdict(spread <= SPREAD_BAR)}"
    )
