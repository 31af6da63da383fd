"""DynamoDB faults (DESIGN.md "Reliability"): a failure leaves nothing half written, and surfaces as a
PynamoDB exception, which the HTTP layer (shared.http) answers with 503 SERVICE_UNAVAILABLE.

Faults are injected at the botocore level (a ``before-send`` handler on every client PynamoDB creates), so
the services, repositories, PynamoDB and botocore's retry logic all run for real.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import botocore.session
import pytest
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from shared.config import Settings
from shared.container import Services, build_services
from shared.db.models import BaseItem, ClaimItem, UserItem
from shared.domain import ClientInfo
from shared.errors import EmailTakenError, InvalidCredentialsError, PhoneTakenError
from shared.services.accounts import RegisterCommand, SignedIn
from tests.fakes.clock import FakeClock
from tests.fakes.dynamo_faults import DynamoFaults
from tests.unit.helpers import PASSWORD, user_info_of

SignUp = Callable[..., SignedIn]
USER_PREFIXES = ("USER#", "UNAME#", "EMAIL#", "PHONE#", "SESSION#", "AUDIT#", "ACCT#")


def user_data(scan_table: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [i for i in scan_table() if str(i["PK"]).startswith(USER_PREFIXES)]


def register(services: Services, username: str, **fields: Any) -> SignedIn:
    return services.accounts.register(RegisterCommand(username=username, password=PASSWORD, **fields), ClientInfo())


# -- cancelled transactions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "fields", "error"),
    [
        ("EMAIL#taken@example.com", {"email": "Taken@example.com", "phone": "13700137000"}, EmailTakenError),
        ("PHONE#+8613700137000", {"email": "free@example.com", "phone": "13700137000"}, PhoneTakenError),
    ],
)
def test_cancelled_registration_transaction_writes_nothing(
    services: Services, scan_table, claim: str, fields: dict[str, str], error: type[Exception]
):
    # Given an identifier claim that already exists (held by an account the user knows nothing about)
    ClaimItem(pk=claim, sk="CLAIM", user_id="someone-else").save()

    # When a registration that needs that claim runs
    with pytest.raises(error):
        register(services, "newcomer", **fields)

    # Then the transaction was cancelled as a whole: no user, claim, account, role link, session or audit
    # item of the new user exists, and the old claim is untouched
    assert [(i["PK"], i["user_id"]) for i in user_data(scan_table)] == [(claim, "someone-else")]
    # And the username and the other identifier are still free
    assert user_info_of(register(services, "newcomer", email="free@example.com"))["username"] == "newcomer"


def test_collision_on_the_user_item_is_a_database_error_and_writes_nothing(
    settings: Settings, clock: FakeClock, scan_table
):
    # Given services whose id factory is predictable, and a profile already stored under the next user id
    # (the first id names the default role's incarnation, made at the first sign-up)
    counter = itertools.count()
    services = build_services(replace(settings), clock=clock, ids=lambda: f"id{next(counter):04d}")
    services.apps.default_grant("app0")
    UserItem(pk="USER#id0001", sk="PROFILE", user_id="id0001", created_at=0).save()

    # When a registration's transaction is cancelled on a non-claim item
    with pytest.raises(TransactWriteError) as caught:
        register(services, "unlucky", email="unlucky@example.com")

    # Then it surfaces as a PynamoDB error (503), not as "username taken", and nothing else was written
    assert isinstance(caught.value, PynamoDBException)
    assert [i["PK"] for i in user_data(scan_table)] == ["USER#id0001"]


# -- injected faults ------------------------------------------------------------------------------


def test_throttled_registration_is_retried_then_surfaces_and_writes_nothing(
    services: Services, faults: DynamoFaults, scan_table
):
    # Given DynamoDB throttles every TransactWriteItems
    faults.fail("TransactWriteItems", "throttle")

    # When a user registers
    with pytest.raises(PynamoDBException) as caught:
        register(services, "alice", email="alice@example.com", phone="13800138000")

    # Then botocore retried it (1 + max_retry_attempts) before the PynamoDB error came out
    assert isinstance(caught.value, TransactWriteError)
    assert caught.value.cause_response_code == "ThrottlingException"
    assert faults.attempts["TransactWriteItems"] == 1 + BaseItem.Meta.max_retry_attempts
    # And nothing of the user was written
    assert user_data(scan_table) == []
    # And once DynamoDB recovers the same registration succeeds (no claim was left behind)
    faults.clear()
    assert register(services, "alice", email="alice@example.com", phone="13800138000").created


@pytest.mark.parametrize("fault", ["timeout", "server"])
def test_failed_sign_in_surfaces_as_a_database_error_and_opens_no_session(
    services: Services, faults: DynamoFaults, scan_table, fault: str
):
    # Given a registered user (one session)
    alice = register(services, "alice")
    sessions_before = [i for i in scan_table() if str(i["PK"]).startswith("SESSION#")]
    assert len(sessions_before) == 1

    # When reads of the claim time out (or fail with 500) during sign-in
    faults.fail("GetItem", fault)
    faults.fail("BatchGetItem", fault)
    with pytest.raises(PynamoDBException):
        services.accounts.login("alice", PASSWORD, None, ClientInfo())

    # Then it is a database error (503), never "invalid credentials", and no session was opened
    assert sum(faults.attempts.values()) >= 1
    assert [i for i in scan_table() if str(i["PK"]).startswith("SESSION#")] == sessions_before
    faults.clear()
    assert services.accounts.login("alice", PASSWORD, None, ClientInfo()).user_id == alice.user_id


def test_failed_password_change_keeps_the_old_password_and_every_session(services: Services, faults: DynamoFaults):
    # Given a user with two sessions
    alice = register(services, "alice")
    other = services.accounts.login("alice", PASSWORD, None, ClientInfo()).tokens
    user_id = alice.user_id

    # When the password-change transaction fails
    faults.fail("TransactWriteItems", "timeout")
    with pytest.raises(PynamoDBException):
        services.accounts.change_password(user_id, alice.tokens.session.session_id, PASSWORD, "new-secret-1", None)
    faults.clear()

    # Then the old password still works, the new one does not, and the other session survived
    assert services.accounts.login("alice", PASSWORD, None, ClientInfo()).user_id == user_id
    with pytest.raises(InvalidCredentialsError):
        services.accounts.login("alice", "new-secret-1", None, ClientInfo())
    assert services.sessions.verify(other.access_token)[1].session_id == other.session.session_id


def test_failed_refresh_leaves_the_refresh_token_usable(services: Services, faults: DynamoFaults):
    # Given a refresh token
    alice = register(services, "alice")

    # When the rotation's UpdateItem fails
    faults.fail("UpdateItem", "timeout")
    with pytest.raises(PynamoDBException):
        services.sessions.refresh(alice.tokens.refresh_token)
    faults.clear()

    # Then the token was not consumed: it refreshes normally and is not mistaken for a reuse
    assert services.sessions.refresh(alice.tokens.refresh_token).session.session_id == alice.tokens.session.session_id


def test_failed_session_check_is_a_database_error_not_a_revoked_token(services: Services, faults: DynamoFaults):
    alice = register(services, "alice")
    faults.fail("BatchGetItem", "timeout")
    with pytest.raises(PynamoDBException):
        services.sessions.verify(alice.tokens.access_token)


def test_failed_logout_is_a_database_error_and_keeps_the_session(services: Services, faults: DynamoFaults):
    # Given a session
    alice = register(services, "alice")

    # When deleting it times out
    faults.fail("DeleteItem", "timeout")
    with pytest.raises(PynamoDBException):
        services.sessions.revoke(alice.user_id, alice.tokens.session.session_id)
    faults.clear()

    # Then the session is still there (the client can retry the logout)
    assert services.sessions.verify(alice.tokens.access_token)[1].session_id == alice.tokens.session.session_id


def test_failed_default_role_creation_is_a_database_error_and_writes_no_user(
    services: Services, faults: DynamoFaults, scan_table
):
    # Given a fresh table (app0's default role does not exist yet) and transactions timing out
    faults.fail("TransactWriteItems", "timeout")

    # When the first user registers (which creates the role first)
    with pytest.raises(PynamoDBException):
        register(services, "first")

    # Then no user data was written
    assert user_data(scan_table) == []


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("BatchGetItem", lambda services, tokens: services.sessions.verify(tokens.access_token)),
        ("UpdateItem", lambda services, tokens: services.sessions.refresh(tokens.refresh_token)),
    ],
    ids=["session-read-timeout", "refresh-update-timeout"],
)
def test_http_layer_answers_a_database_timeout_with_503(
    services: Services, faults: DynamoFaults, operation: str, call: Callable[[Services, Any], Any]
):
    # Given a route built like the real functions (shared.http's error handlers) whose service call
    # meets a DynamoDB timeout
    import logging

    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from shared.http import install_error_handlers, ok

    alice = register(services, "alice")
    app = APIGatewayRestResolver()
    install_error_handlers(app, logging.getLogger("test"))

    @app.get("/probe")
    def probe() -> Any:
        call(services, alice.tokens)
        return ok(app, {})

    faults.fail(operation, "timeout")

    # When the request is handled
    event = {
        "resource": "/probe",
        "path": "/probe",
        "httpMethod": "GET",
        "headers": {"Accept-Language": "en"},
        "queryStringParameters": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {"requestId": "req-1", "stage": "dev", "resourcePath": "/probe", "httpMethod": "GET"},
    }
    response = app.resolve(event, None)

    # Then it is a clean 503 SERVICE_UNAVAILABLE envelope
    body = json.loads(response["body"])
    assert response["statusCode"] == 503, body
    assert (body["code"], body["error"], body["success"]) == (503, "SERVICE_UNAVAILABLE", False)


def test_unreachable_endpoint_surfaces_as_a_database_error(make_services):
    # Given services pointed at a port where no DynamoDB listens
    services = make_services(dynamodb_endpoint="http://127.0.0.1:9")

    # When a user registers or signs in
    # Then each call fails with a PynamoDB exception (connection refused, after botocore's retries)
    with pytest.raises(PynamoDBException):
        register(services, "alice")
    with pytest.raises(PynamoDBException):
        services.accounts.login("alice", PASSWORD, None, ClientInfo())


# -- connections ----------------------------------------------------------------------------------


def test_warm_sign_in_creates_no_new_dynamodb_client(services: Services, monkeypatch: pytest.MonkeyPatch):
    # DESIGN.md: clients are created once per container and cached. A new botocore client costs tens of
    # milliseconds (it loads the service model), so a warm request must not build one.
    first = register(services, "alice")  # warm every code path once
    services.sessions.refresh(first.tokens.refresh_token)
    services.accounts.login("alice", PASSWORD, None, ClientInfo())

    created: list[str] = []
    original = botocore.session.Session.create_client

    def counting(self: botocore.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)

    # When the same flows run again on the warm container
    signed_in = services.accounts.login("alice", PASSWORD, None, ClientInfo())
    services.sessions.refresh(signed_in.tokens.refresh_token)

    # Then no new DynamoDB client was created
    assert created == []


# -- a commit whose answer was lost ------------------------------------------------------------------


def test_a_registration_whose_commit_answer_was_lost_succeeds_once(
    services: Services, faults: DynamoFaults, scan_table
):
    # Given the registration's transaction commits but its answer never comes back
    faults.lose_answer_once("TransactWriteItems")

    # When a user registers (botocore retries the same request, with the same ClientRequestToken)
    signed_up = register(services, "alice", email="alice@example.com")

    # Then the registration succeeds (not 409 USERNAME_TAKEN), and exactly one of everything exists
    assert faults.attempts["TransactWriteItems"] >= 1
    items = user_data(scan_table)
    assert [i["PK"] for i in items if i["SK"] == "PROFILE"] == [f"USER#{signed_up.user_id}"]
    assert sorted(i["PK"] for i in items if i["SK"] == "CLAIM") == ["EMAIL#alice@example.com", "UNAME#alice"]
    assert len([i for i in items if str(i["PK"]).startswith("SESSION#")]) == 1
    assert services.sessions.verify(signed_up.tokens.access_token)[0].user_id == signed_up.user_id


def test_a_sign_in_whose_commit_answer_was_lost_opens_one_session(services: Services, faults: DynamoFaults, scan_table):
    user_id = register(services, "bob").user_id
    faults.lose_answer_once("TransactWriteItems")

    signed_in = services.accounts.login("bob", PASSWORD, None, ClientInfo())

    sessions = [i for i in user_data(scan_table) if str(i["PK"]).startswith("SESSION#")]
    assert len(sessions) == 2  # the sign-up's and this one: the retried commit wrote nothing again
    assert services.sessions.verify(signed_in.tokens.access_token)[0].user_id == user_id
