"""Password hashes of the replaced systems (issue 12, first slice): made by the real libraries, verified
in their own scheme at a sign-in, and replaced there by bcrypt at the configured cost, in the sign-in's
own write. The import that puts them on user items comes next; here a hash is written as it would."""

from __future__ import annotations

from collections.abc import Callable

import bcrypt
import pyotp
import pytest

from shared.container import Services
from shared.db import keys
from shared.db.models import UserItem
from shared.domain import ClientInfo
from shared.errors import InvalidCredentialsError, MfaRequired
from shared.services import legacy_hashes
from shared.services.accounts import SignedIn
from tests.fakes.clock import FakeClock

CLIENT = ClientInfo(ip="198.51.100.9", user_agent="pytest")
LONG = "长" * 30  # 90 bytes in UTF-8: bcrypt read only the first 72 when the old system hashed it


def django_hash(password: str, hasher: str = "default") -> str:
    """What Django 5's ``make_password`` stores (the Hertz admin console and the mini-program backend)."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            PASSWORD_HASHERS=[
                "django.contrib.auth.hashers.PBKDF2PasswordHasher",
                "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
            ]
        )
    from django.contrib.auth.hashers import make_password

    return str(make_password(password, hasher=hasher))


def bcrypt_hash(password: str, prefix: bytes = b"2b", rounds: int = 4) -> str:
    """bcrypt as the other systems wrote it: ``$2a$`` (Go's x/crypto), ``$2b$`` (passlib), ``$2y$`` (PHP),
    of the password's first 72 bytes (what those libraries passed on)."""
    made = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds, prefix=b"2b")).decode()
    return f"${prefix.decode()}${made[4:]}"


def with_hash(user_id: str, hashed: str) -> None:
    """The user's password hash as an import writes it (another system's bcrypt kept as ``bcrypt72$``)."""
    kept = legacy_hashes.imported(hashed)
    UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE).update(actions=[UserItem.password_hash.set(kept)])


def stored(user_id: str) -> str:
    return str(UserItem.get(keys.user_pk(user_id), keys.PROFILE, consistent_read=True).password_hash)


LEGACY = [
    pytest.param(lambda p: django_hash(p), "pbkdf2_sha256", id="django-pbkdf2_sha256-1M"),
    pytest.param(lambda p: django_hash(p, "bcrypt_sha256"), "bcrypt_sha256", id="django-bcrypt_sha256"),
    pytest.param(lambda p: bcrypt_hash(p, b"2a"), "bcrypt", id="go-2a"),
    pytest.param(lambda p: bcrypt_hash(p, b"2b"), "bcrypt", id="passlib-2b"),
    pytest.param(lambda p: bcrypt_hash(p, b"2y"), "bcrypt", id="php-2y"),
]


@pytest.mark.parametrize(("make", "scheme"), LEGACY)
def test_a_legacy_hash_signs_in_and_is_replaced_by_bcrypt_in_that_sign_in(
    services: Services, sign_up: Callable[..., SignedIn], make: Callable[[str], str], scheme: str, scan_table
) -> None:
    alice = sign_up("alice")
    legacy = make("old-secret-1")
    assert legacy_hashes.scheme_of(legacy) == scheme
    with_hash(alice.user_id, legacy)
    with pytest.raises(InvalidCredentialsError):
        services.accounts.login("alice", "old-secret-2", None, CLIENT)
    assert stored(alice.user_id) == legacy_hashes.imported(legacy)  # a wrong password replaces nothing
    result = services.accounts.login("alice", "old-secret-1", None, CLIENT)
    assert result.user_id == alice.user_id
    now = stored(alice.user_id)
    assert now.startswith("$2b$") and legacy_hashes.bcrypt_cost(now) == services.settings.bcrypt_rounds
    assert bcrypt.checkpw(b"old-secret-1", now.encode())
    assert services.accounts.login("alice", "old-secret-1", None, CLIENT).user_id == alice.user_id
    assert stored(alice.user_id) == now  # replaced once


def test_a_password_longer_than_72_bytes_that_bcrypt_cut_still_signs_in(
    services: Services, sign_up: Callable[..., SignedIn]
) -> None:
    alice = sign_up("alice")
    with_hash(alice.user_id, bcrypt_hash(LONG, b"2a"))
    with pytest.raises(InvalidCredentialsError):  # a difference within the 72 bytes bcrypt read counts
        services.accounts.login("alice", "短" + LONG[1:], None, CLIENT)
    assert services.accounts.login("alice", LONG, None, CLIENT).user_id == alice.user_id
    rehashed = stored(alice.user_id)  # the one form that checks a password longer than bcrypt reads
    assert (
        rehashed.startswith("bcrypt72$$2b$") and legacy_hashes.bcrypt_cost(rehashed) == services.settings.bcrypt_rounds
    )
    assert services.accounts.login("alice", LONG, None, CLIENT).user_id == alice.user_id  # after the rehash too
    assert stored(alice.user_id) == rehashed


def test_bcrypt_at_another_cost_is_brought_to_the_configured_one(
    services: Services, sign_up: Callable[..., SignedIn]
) -> None:
    alice = sign_up("alice")
    cheaper = bcrypt_hash("old-secret-1", b"2b", rounds=services.settings.bcrypt_rounds + 1)
    with_hash(alice.user_id, cheaper)
    services.accounts.login("alice", "old-secret-1", None, CLIENT)
    assert legacy_hashes.bcrypt_cost(stored(alice.user_id)) == services.settings.bcrypt_rounds


def test_the_center_and_a_sign_in_waiting_for_its_second_factor_rehash_too(
    services: Services, sign_up: Callable[..., SignedIn], clock: FakeClock
) -> None:
    alice, bob = sign_up("alice"), sign_up("bob")
    with_hash(alice.user_id, django_hash("old-secret-1"))
    record, rehash = services.accounts.verify_password("alice", "old-secret-1", None)
    assert rehash is not None
    services.center.open(record, ["pwd"], changes=[rehash])
    assert stored(alice.user_id).startswith("$2b$")
    # bob has TOTP on: the first step writes the rehash with the waiting sign-in
    setup = services.mfa.setup(bob.user_id)
    services.mfa.confirm(bob.user_id, pyotp.TOTP(setup.secret).at(clock()), CLIENT)
    with_hash(bob.user_id, bcrypt_hash("old-secret-1", b"2a"))
    with pytest.raises(MfaRequired):
        services.accounts.login("bob", "old-secret-1", None, CLIENT)
    assert stored(bob.user_id).startswith("$2b$")


@pytest.mark.parametrize(
    "junk",
    [
        "pbkdf2_sha256$99999999$salt$AAAA",  # more iterations than a sign-in may burn
        "pbkdf2_sha256$abc$salt$AAAA",
        "md5$salt$abc",
        "$2b$04$short",
        "",
    ],
)
def test_malformed_or_unknown_hashes_never_match(junk: str) -> None:
    from shared.services.passwords import BcryptHasher

    assert BcryptHasher(4).verify("anything", junk) is False
