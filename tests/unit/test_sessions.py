"""Sessions: refresh rotation and reuse detection, expiry, listing and revocation (API.md section 3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import RefreshTokenReusedError, TokenExpiredError, TokenInvalidError, TokenRevokedError
from shared.services.accounts import SignedIn
from shared.services.sessions import TokenPair
from shared.services.tokens import AccessClaims
from shared.views import Tokens
from tests.fakes.clock import FakeClock
from tests.unit.helpers import PASSWORD, sessions_of

SignUp = Callable[..., SignedIn]


def login(services: Services, identifier: str = "alice") -> TokenPair:
    return services.accounts.login(identifier, PASSWORD, None, ClientInfo(ip="192.0.2.1", user_agent="ua")).tokens


@pytest.fixture
def alice(sign_up: SignUp) -> SignedIn:
    return sign_up("alice")


# -- refresh --------------------------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(services: Services, alice: SignedIn, clock: FakeClock):
    # Given Alice's first token pair
    first = alice.tokens
    clock.advance(30)

    # When she refreshes
    second = services.sessions.refresh(first.refresh_token)

    # Then she gets a new refresh token and a new access token for the same session
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    claims = services.tokens.verify_access(second.access_token)
    assert (claims.session_id, claims.user_id, claims.roles) == (
        first.session.session_id,
        alice.user_id,
        ["l0"],
    )
    assert Tokens.of(second).model_dump()["token_type"] == "Bearer"
    # And the stored session moved on: one more generation, used now, lifetime extended from now
    stored = services.sessions.sessions.get(first.session.session_id)
    assert stored is not None
    assert stored.generation == 1
    assert stored.last_used_at == int(clock())
    assert stored.expires_at == int(clock()) + services.settings.refresh_token_ttl
    # And the new refresh token works in turn
    third = services.sessions.refresh(second.refresh_token)
    assert services.sessions.sessions.get(first.session.session_id).generation == 2
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)


def test_reusing_a_refresh_token_revokes_the_session(services: Services, alice: SignedIn, clock: FakeClock):
    # Given a refresh token that was already used once, longer ago than the reuse leeway
    used = alice.tokens.refresh_token
    fresh = services.sessions.refresh(used)
    session_id = alice.tokens.session.session_id
    clock.advance(services.settings.refresh_reuse_leeway + 1)

    # When it is presented again
    with pytest.raises(RefreshTokenReusedError) as caught:
        services.sessions.refresh(used)

    # Then it is 401 REFRESH_TOKEN_REUSED and the whole session is gone
    assert (caught.value.status, caught.value.code) == (401, "REFRESH_TOKEN_REUSED")
    assert services.sessions.sessions.get(session_id) is None
    # so the legitimate holder's newer tokens die too
    with pytest.raises(TokenInvalidError):
        services.sessions.refresh(fresh.refresh_token)
    with pytest.raises(TokenRevokedError):
        services.sessions.verify(fresh.access_token)


def test_reuse_revokes_only_that_session(services: Services, alice: SignedIn, clock: FakeClock):
    other = login(services)
    used = alice.tokens.refresh_token
    services.sessions.refresh(used)
    clock.advance(services.settings.refresh_reuse_leeway + 1)
    with pytest.raises(RefreshTokenReusedError):
        services.sessions.refresh(used)
    assert services.sessions.verify(other.access_token)[1].session_id == other.session.session_id


def test_every_token_used_within_the_reuse_memory_is_detected_as_reuse(make_services, sign_up: SignUp):
    # Given sessions that remember their last 4 used refresh tokens, each rotated 3 times
    services = make_services(refresh_reuse_memory=4)
    sign_up("alice")
    oldest_tokens = []
    for _ in range(12):
        pair = login(services)
        oldest_tokens.append(pair.refresh_token)
        token = pair.refresh_token
        for _ in range(3):
            token = services.sessions.refresh(token).refresh_token

    # When the oldest (already used, still remembered) token of each session is replayed
    outcomes = []
    for token in oldest_tokens:
        try:
            services.sessions.refresh(token)
            outcomes.append("accepted")
        except RefreshTokenReusedError:
            outcomes.append("reuse")
        except TokenInvalidError:
            outcomes.append("invalid")

    # Then every replay is recognised as reuse (and revokes its session), never a plain "invalid"
    assert outcomes == ["reuse"] * len(oldest_tokens)


def test_previous_hashes_never_grow_beyond_the_reuse_memory(make_services, sign_up: SignUp, clock: FakeClock):
    # Given a session with the default memory
    services = make_services()
    memory = services.settings.refresh_reuse_memory
    token = sign_up("alice").tokens
    session_id = token.session.session_id

    # When it is refreshed many more times than it remembers
    refresh_token = token.refresh_token
    for _ in range(memory * 2 + 5):
        refresh_token = services.sessions.refresh(refresh_token).refresh_token
        stored = services.sessions.sessions.get(session_id)
        # Then the ring of used hashes stays bounded
        assert stored is not None
        assert len(stored.previous_hashes) <= memory

    assert stored.generation == memory * 2 + 5
    # And the most recently used token is always remembered
    previous = refresh_token
    services.sessions.refresh(previous)
    clock.advance(services.settings.refresh_reuse_leeway + 1)
    with pytest.raises(RefreshTokenReusedError):
        services.sessions.refresh(previous)


def test_small_reuse_memory_is_respected(make_services, sign_up: SignUp):
    services = make_services(refresh_reuse_memory=3)
    tokens = sign_up("alice").tokens
    refresh_token = tokens.refresh_token
    for _ in range(15):
        refresh_token = services.sessions.refresh(refresh_token).refresh_token
    stored = services.sessions.sessions.get(tokens.session.session_id)
    assert stored is not None
    assert 1 <= len(stored.previous_hashes) <= 3


def test_expired_session_cannot_be_refreshed(services: Services, alice: SignedIn, clock: FakeClock):
    # Given a session one second before the end of its refresh lifetime, it still refreshes
    ttl = services.settings.refresh_token_ttl
    clock.advance(ttl - 1)
    pair = services.sessions.refresh(alice.tokens.refresh_token)

    # When the clock passes the (extended) lifetime
    clock.advance(ttl)

    # Then the refresh is refused as expired
    with pytest.raises(TokenExpiredError) as caught:
        services.sessions.refresh(pair.refresh_token)
    assert caught.value.code == "TOKEN_EXPIRED"


def test_session_never_refreshed_expires_after_refresh_ttl(services: Services, alice: SignedIn, clock: FakeClock):
    clock.advance(services.settings.refresh_token_ttl)
    with pytest.raises(TokenExpiredError):
        services.sessions.refresh(alice.tokens.refresh_token)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        ".",
        "a.b.c",
        "abc.",
        ".secret",
        "not/alnum.secret",
        "sid with space.secret",
        "deadbeefdeadbeefdeadbeefdeadbeef.not-a-real-secret",
        "a" * 300,
        "a" * 200 + "." + "b" * 100,
    ],
)
def test_garbage_refresh_tokens_are_invalid(services: Services, garbage: str):
    with pytest.raises(TokenInvalidError):
        services.sessions.refresh(garbage)


def test_non_string_refresh_token_is_invalid(services: Services):
    with pytest.raises(TokenInvalidError):
        services.sessions.refresh(None)  # type: ignore[arg-type]


def test_wrong_secret_for_a_real_session_is_invalid_and_harmless(services: Services, alice: SignedIn):
    # Given someone who knows Alice's session id but not her secret
    session_id = alice.tokens.session.session_id

    # When they present a made-up secret
    with pytest.raises(TokenInvalidError):
        services.sessions.refresh(f"{session_id}.guessed-secret")

    # Then Alice's session is untouched and her token still refreshes
    assert services.sessions.refresh(alice.tokens.refresh_token).session.session_id == session_id


# -- check, list and revoke -----------------------------------------------------------------------


def test_list_marks_the_current_session(services: Services, alice: SignedIn, clock: FakeClock):
    # Given Alice has three sessions
    clock.advance(5)
    second = login(services)
    clock.advance(5)
    third = login(services)

    # When she lists them from the second
    listed = sessions_of(services, alice.user_id, second.session.session_id)

    # Then all three appear, oldest first, and only the second is current
    ids = [s["session_id"] for s in listed]
    assert ids == [alice.tokens.session.session_id, second.session.session_id, third.session.session_id]
    assert [s["current"] for s in listed] == [False, True, False]
    assert listed[1]["ip"] == "192.0.2.1"
    assert listed[1]["user_agent"] == "ua"
    assert listed[0]["created_at"].endswith("Z")


def test_list_leaves_out_expired_sessions(services: Services, alice: SignedIn, clock: FakeClock):
    # Given a second session that is kept alive by a refresh while the first one is not
    ttl = services.settings.refresh_token_ttl
    second = login(services)
    clock.advance(ttl - 10)
    services.sessions.refresh(second.refresh_token)

    # When the first session's lifetime passes
    clock.advance(20)

    # Then only the live one is listed
    listed = sessions_of(services, alice.user_id, None)
    assert [s["session_id"] for s in listed] == [second.session.session_id]


def test_list_shows_only_the_users_own_sessions(services: Services, alice: SignedIn, sign_up: SignUp):
    bob = sign_up("bob")
    listed = sessions_of(services, bob.user_id, None)
    assert [s["session_id"] for s in listed] == [bob.tokens.session.session_id]


def test_revoke_deletes_only_the_callers_own_session(services: Services, alice: SignedIn, sign_up: SignUp):
    # Given Bob's session
    bob = sign_up("bob")
    alice_id = alice.user_id

    # When Alice tries to revoke Bob's session by its id
    revoked = services.sessions.revoke(alice_id, bob.tokens.session.session_id)

    # Then nothing happened
    assert revoked == 0
    assert services.sessions.verify(bob.tokens.access_token)[0].user_id == bob.user_id

    # When she revokes her own session
    assert services.sessions.revoke(alice_id, alice.tokens.session.session_id) == 1

    # Then it is gone (a second revoke finds nothing) and its tokens stop working
    assert services.sessions.revoke(alice_id, alice.tokens.session.session_id) == 0
    with pytest.raises(TokenRevokedError):
        services.sessions.verify(alice.tokens.access_token)
    with pytest.raises(TokenInvalidError):
        services.sessions.refresh(alice.tokens.refresh_token)


def test_revoke_unknown_session_is_zero(services: Services, alice: SignedIn):
    assert services.sessions.revoke(alice.user_id, "no-such-session") == 0


def test_revoke_all(services: Services, alice: SignedIn, sign_up: SignUp):
    # Given Alice has three sessions and Bob one
    user_id = alice.user_id
    login(services)
    login(services)
    bob = sign_up("bob")

    # When she logs out everywhere
    revoked = services.accounts.revoke_all(user_id)

    # Then her three sessions are gone and Bob's is not
    assert revoked == 3
    assert sessions_of(services, user_id, None) == []
    with pytest.raises(TokenRevokedError):
        services.sessions.verify(alice.tokens.access_token)
    assert services.sessions.verify(bob.tokens.access_token)[0].user_id == bob.user_id


def test_a_refresh_repeated_within_the_leeway_answers_with_the_same_successor(
    services: Services, alice: SignedIn, clock: FakeClock
):
    # Given two tabs holding the same refresh token; the first refreshes
    token = alice.tokens.refresh_token
    first = services.sessions.refresh(token)

    # When the second presents it a few seconds later, within the leeway
    clock.advance(services.settings.refresh_reuse_leeway - 1)
    second = services.sessions.refresh(token)

    # Then it gets the same successor and a working access token; the session lives on
    assert second.refresh_token == first.refresh_token
    assert services.sessions.verify(second.access_token)[1].session_id == alice.tokens.session.session_id
    # And the family goes on from that one successor
    third = services.sessions.refresh(first.refresh_token)
    assert services.sessions.verify(third.access_token)[1].session_id == alice.tokens.session.session_id
    # While the first token, presented after the successor itself was used, is a reuse
    clock.advance(services.settings.refresh_reuse_leeway + 1)
    with pytest.raises(RefreshTokenReusedError):
        services.sessions.refresh(token)


def test_check_raises_token_revoked_after_logout(services: Services, alice: SignedIn):
    # Given a valid access token and its session
    claims = services.tokens.verify_access(alice.tokens.access_token)
    assert services.sessions.check(claims).session_id == claims.session_id

    # When the user logs out (the session is deleted)
    services.sessions.revoke(claims.user_id, claims.session_id)

    # Then the still-unexpired access token is refused as revoked
    with pytest.raises(TokenRevokedError) as caught:
        services.sessions.check(claims)
    assert (caught.value.status, caught.value.code) == (401, "TOKEN_REVOKED")


def test_check_refuses_claims_naming_someone_elses_session(services: Services, alice: SignedIn, sign_up: SignUp):
    bob = sign_up("bob")
    claims = services.tokens.verify_access(bob.tokens.access_token)
    forged = AccessClaims(
        user_id=claims.user_id,
        session_id=alice.tokens.session.session_id,
        app_name="app0",
        roles=[],
        exp=claims.exp,
        raw={},
    )
    with pytest.raises(TokenRevokedError):
        services.sessions.check(forged)


def test_check_refuses_an_expired_session(services: Services, alice: SignedIn, clock: FakeClock):
    claims = services.tokens.verify_access(alice.tokens.access_token)
    clock.advance(services.settings.refresh_token_ttl)
    with pytest.raises(TokenRevokedError):
        services.sessions.check(claims)
