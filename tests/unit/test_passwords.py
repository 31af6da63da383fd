"""Password hashing (bcrypt) and the length policy of API.md section 7."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest

from shared.errors import ValidationError
from shared.services.passwords import BcryptHasher, FailureFloor, PasswordPolicy, constant_time_equals

CHINESE = "密"  # three bytes in UTF-8


@pytest.fixture(scope="module")
def hasher() -> BcryptHasher:
    return BcryptHasher(rounds=4)


# -- hashing --------------------------------------------------------------------------------------


def test_hash_is_bcrypt_at_the_configured_cost_and_verifies(hasher: BcryptHasher):
    # When a password is hashed
    hashed = hasher.hash("correct horse")

    # Then it is a salted bcrypt hash with cost 4 that verifies the password and nothing else
    assert hashed.startswith("$2b$04$")
    assert "correct horse" not in hashed
    assert hasher.verify("correct horse", hashed) is True
    assert hasher.verify("correct horsE", hashed) is False
    assert hasher.verify("", hashed) is False


def test_two_hashes_of_one_password_differ(hasher: BcryptHasher):
    assert hasher.hash("same-password") != hasher.hash("same-password")


def test_hash_is_compatible_with_plain_bcrypt(hasher: BcryptHasher):
    hashed = hasher.hash("口令-password")
    assert bcrypt.checkpw("口令-password".encode(), hashed.encode())
    foreign = bcrypt.hashpw(b"imported", bcrypt.gensalt(5)).decode()
    assert hasher.verify("imported", foreign)


def test_verify_without_a_stored_hash_returns_false(hasher: BcryptHasher):
    # The unknown-user path: it burns bcrypt work on a dummy hash and answers False
    assert hasher.verify("anything", None) is False
    assert hasher.verify("anything", "") is False
    # even for the password the dummy hash was made from
    assert hasher.verify("dummy-password-for-timing", None) is False


@pytest.mark.parametrize("stored", ["not-a-hash", "$2b$04$short", "$2b$04$" + "!" * 53])
def test_verify_against_a_corrupt_hash_returns_false(hasher: BcryptHasher, stored: str):
    assert hasher.verify("password", stored) is False


def test_verify_never_truncates_a_long_password(hasher: BcryptHasher):
    # Given a stored 72-byte password
    stored_password = "a" * 72
    hashed = hasher.hash(stored_password)

    # When someone presents it with extra bytes after the 72nd (bcrypt alone would ignore them)
    # Then it does not verify
    assert hasher.verify(stored_password + "b", hashed) is False
    assert hasher.verify(stored_password, hashed) is True


# -- the failure floor (issue 12: imported users' wrong passwords take a native user's time) ---------------


class Ticking:
    """A timer that moves ``step`` seconds each time it is read; ``sleeps`` records what was slept."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.sleeps = 0.0, step, list[float]()

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class Reading:
    """A timer answering the given readings in order (and failing when read once too often)."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0)


def test_the_floor_is_the_slower_of_bcrypt_and_the_legacy_pbkdf2_scaled_from_a_sample():
    dummy = bcrypt.hashpw(b"x", bcrypt.gensalt(4))
    # bcrypt measured at 80 ms, the 20,000-iteration sample at 6, 7 and 5 ms: the slowest, 7 ms, makes
    # 350 ms for 1,000,000 iterations
    samples = (1.0, 1.006, 2.0, 2.007, 3.0, 3.005)
    floor = FailureFloor(10, 1_000_000, Reading(0.0, 0.080, *samples))
    assert floor.seconds(dummy) == pytest.approx(0.350 * FailureFloor.MARGIN)
    # measured once: a second reading of the timer would fail
    assert floor.seconds(dummy) == pytest.approx(0.350 * FailureFloor.MARGIN)
    # Django hashes at fewer iterations than bcrypt's time: bcrypt is the floor
    assert FailureFloor(10, 100_000, Reading(0.0, 0.080, *samples)).seconds(dummy) == pytest.approx(
        0.080 * FailureFloor.MARGIN
    )
    # none imported: bcrypt alone, and no PBKDF2 sample is taken
    assert FailureFloor(10, 0, Reading(0.0, 0.080)).seconds(dummy) == pytest.approx(0.080 * FailureFloor.MARGIN)


class FixedFloor(FailureFloor):
    def __init__(self, seconds: float) -> None:
        super().__init__(4)
        self.fixed = seconds

    def seconds(self, dummy: bytes) -> float:
        return self.fixed


@pytest.mark.parametrize("stored", ["native", "pbkdf2", "none"])
def test_a_failed_check_lasts_the_floor_and_a_success_is_not_held(stored: str):
    timer = Ticking(0.030)
    hasher = BcryptHasher(4, FixedFloor(0.5), timer=timer, sleep=timer.sleep)
    hashed = {
        "native": hasher.hash("right-password"),
        "pbkdf2": "pbkdf2_sha256$1000$salt$"
        + base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"right-password", b"salt", 1000)).decode(),
        "none": None,
    }[stored]

    # A wrong password (or nobody): the answer waits out the rest of the floor after the 30 ms the check took
    assert hasher.verify("wrong-password", hashed) is False
    assert timer.sleeps == [pytest.approx(0.5 - 0.030)]

    # The right one is answered at once
    if hashed is not None:
        assert hasher.verify("right-password", hashed) is True
        assert timer.sleeps == [pytest.approx(0.470)]


def test_a_check_slower_than_the_floor_is_not_held_further():
    timer = Ticking(0.900)
    hasher = BcryptHasher(4, FixedFloor(0.5), timer=timer, sleep=timer.sleep)
    assert hasher.verify("wrong", hasher.hash("right")) is False
    assert timer.sleeps == []


def test_the_container_pads_to_the_configured_legacy_iterations(make_services):
    services = make_services(legacy_pbkdf2_iterations=600_000, bcrypt_rounds=5)
    floor = services.accounts.hasher.floor
    assert (floor.rounds, floor.legacy_iterations) == (5, 600_000)


def test_constant_time_equals():
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")


# -- policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["", "a", "12345", CHINESE * 5])
def test_policy_refuses_passwords_below_the_minimum_length(password: str):
    with pytest.raises(ValidationError) as caught:
        PasswordPolicy(min_length=6).check(password)
    assert set(caught.value.errors or {}) == {"password"}
    assert caught.value.status == 422


def test_policy_counts_characters_not_bytes_for_the_minimum():
    # Six Chinese characters are 18 bytes but six characters: long enough
    PasswordPolicy(min_length=6).check(CHINESE * 6)


def test_policy_minimum_is_configurable():
    PasswordPolicy(min_length=3).check("abc")
    with pytest.raises(ValidationError):
        PasswordPolicy(min_length=10).check("abcdefghi")


def test_policy_refuses_more_than_72_utf8_bytes_with_multibyte_characters():
    # Given 25 Chinese characters: 25 characters, 75 bytes in UTF-8
    password = CHINESE * 25
    assert len(password) == 25
    assert len(password.encode("utf-8")) == 75

    # When / Then the policy refuses it and names the field the caller gave
    with pytest.raises(ValidationError) as caught:
        PasswordPolicy().check(password, "new_password")
    assert list(caught.value.errors or {}) == ["new_password"]
    assert any("72" in message for message in caught.value.errors["new_password"])


def test_policy_refuses_73_ascii_bytes():
    with pytest.raises(ValidationError) as caught:
        PasswordPolicy().check("x" * 73)
    assert "password" in (caught.value.errors or {})


@pytest.mark.parametrize("password", ["x" * 72, CHINESE * 24, "é" * 36, CHINESE * 23 + "abc"])
def test_policy_accepts_exactly_72_bytes(password: str, hasher: BcryptHasher):
    assert len(password.encode("utf-8")) == 72
    PasswordPolicy().check(password)
    assert hasher.verify(password, hasher.hash(password))


def test_policy_reports_both_problems_for_one_field():
    # 25 Chinese characters: fewer than 30 characters and more than 72 bytes, so both rules fail
    with pytest.raises(ValidationError) as caught:
        PasswordPolicy(min_length=30).check(CHINESE * 25)
    assert len(caught.value.errors["password"]) == 2
