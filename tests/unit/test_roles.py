"""Role grants (issue 5): changes reach the sessions (the authorizer's snapshot) atomically, per app."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.authorizer import Unauthorized, authorize
from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import NotFoundError, UserDisabledError, ValidationError
from shared.schemas import AppBody, RoleBody
from shared.services.accounts import SignedIn
from shared.services.apps import AppExistsError, origin_allowed
from tests.unit.helpers import PASSWORD, user_info_of

SignUp = Callable[..., SignedIn]
ARN = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/api/auth/user/info"


def context_of(services: Services, signed_in: SignedIn) -> dict[str, str]:
    event = {"authorizationToken": f"Bearer {signed_in.tokens.access_token}", "methodArn": ARN}
    return authorize(event, services.sessions, [])["context"]


def test_assign_creates_the_role_and_updates_live_sessions(services: Services, sign_up: SignUp) -> None:
    # Given a user with two sessions in app0
    alice = sign_up("alice")
    second = services.accounts.login("alice", PASSWORD, None, ClientInfo())
    # When an admin assigns a role that does not exist yet
    grant = services.roles.assign(alice.user_id, "app0", "editor")
    # Then the role exists and both sessions carry it, so the authorizer sees it on the next call
    assert grant.role_id == "app0:editor"
    assert services.apps.apps.get_role("app0", "editor") is not None
    for signed_in in (alice, second):
        assert context_of(services, signed_in)["roles"] == "editor,l0"
    # And assigning again changes nothing
    services.roles.assign(alice.user_id, "app0", "editor")
    assert [g.role_code for g in services.accounts.get(alice.user_id).grants_in("app0")] == [
        "editor",
        "l0",
    ]


def test_removing_the_super_admin_role_drops_its_permissions_from_sessions(services: Services, sign_up: SignUp) -> None:
    alice = sign_up("alice")
    user_id = alice.user_id
    services.roles.assign(user_id, "app0", "admin")
    assert "system:user:list" in context_of(services, alice)["permissions"].split(",")
    assert services.roles.remove(user_id, "app0", ["admin", "not-held"]) == 1
    context = context_of(services, alice)
    assert context["roles"] == "l0" and context["permissions"] == ""


def test_grants_in_one_app_do_not_touch_sessions_of_another(services: Services, sign_up: SignUp) -> None:
    services.apps.create(AppBody(**{"app_name": "crm"}))
    alice = sign_up("alice")
    crm = services.accounts.login("alice", PASSWORD, "crm", ClientInfo())
    services.roles.assign(alice.user_id, "app0", "admin")
    assert context_of(services, crm) == {**context_of(services, crm), "roles": "l0", "permissions": ""}
    assert context_of(services, crm)["app_name"] == "crm"
    assert "admin" in context_of(services, alice)["roles"].split(",")


def test_replace_sets_exactly_the_given_roles(services: Services, sign_up: SignUp) -> None:
    alice = sign_up("alice")
    user_id = alice.user_id
    services.roles.assign(user_id, "app0", "editor")
    services.roles.replace(user_id, "app0", ["editor"])
    assert context_of(services, alice)["roles"] == "editor"
    with pytest.raises(NotFoundError):
        services.roles.replace(user_id, "app0", ["ghost"])
    assert context_of(services, alice)["roles"] == "editor"  # nothing half done


def test_unknown_user_app_or_bad_code(services: Services, sign_up: SignUp) -> None:
    alice = sign_up("alice")
    with pytest.raises(NotFoundError):
        services.roles.assign("no-such-user", "app0", "editor")
    with pytest.raises(NotFoundError):
        services.roles.assign(alice.user_id, "nope", "editor")
    with pytest.raises(ValidationError):
        services.roles.assign(alice.user_id, "app0", "bad code!")


def test_disabling_a_user_revokes_every_session_and_blocks_sign_in(services: Services, sign_up: SignUp) -> None:
    alice = sign_up("alice")
    user_id = alice.user_id
    services.accounts.login("alice", PASSWORD, None, ClientInfo())
    assert services.accounts.set_status(user_id, "disabled") == 2
    with pytest.raises(Unauthorized):
        context_of(services, alice)
    with pytest.raises(UserDisabledError):
        services.accounts.login("alice", PASSWORD, None, ClientInfo())
    assert services.accounts.set_status(user_id, "active") == 0
    assert user_info_of(services.accounts.login("alice", PASSWORD, None, ClientInfo()))["status"] == "active"


def test_apps_create_update_and_list(services: Services) -> None:
    created = services.apps.create(
        AppBody(**{"app_name": "shop", "allowed_callback_origins": ["https://A.example.com:8443/"]})
    )
    assert created.allowed_callback_origins == ["https://a.example.com:8443"]
    with pytest.raises(AppExistsError):
        services.apps.create(AppBody(**{"app_name": "shop"}))
    with pytest.raises(AppExistsError):
        services.apps.create(AppBody(**{"app_name": "app0"}))
    updated = services.apps.update("app0", AppBody(**{"require_captcha": True}))
    assert updated.require_captcha is True and services.apps.get("app0").require_captcha is True
    assert [a.app_name for a in services.apps.list()] == ["app0", "shop"]
    with pytest.raises(NotFoundError):
        services.apps.update("ghost", AppBody(**{"display_name": "x"}))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example.com/cb?x=1", True),
        ("https://A.EXAMPLE.com:443/cb", True),  # the default port is the same origin
        ("https://a.example.com:8443/cb", False),
        ("http://a.example.com/cb", False),
        ("https://a.example.com.evil.com/cb", False),
        ("https://evil.com/?next=https://a.example.com", False),
        ("javascript:alert(1)", False),
        ("//a.example.com/cb", False),
        ("https://user@a.example.com/cb", False),
    ],
)
def test_callback_urls_are_checked_against_origins(url: str, expected: bool) -> None:
    assert origin_allowed(url, ["https://a.example.com"]) is expected


def test_a_disabled_role_grants_nothing_until_enabled_again(services: Services, sign_up: SignUp) -> None:
    alice = sign_up("alice")
    services.role_admin.create(RoleBody(**{"app_name": "app0", "role_code": "auditor", "permissions": ["audit:read"]}))
    services.roles.assign(alice.user_id, "app0", "auditor")
    assert context_of(services, alice)["permissions"] == "audit:read"
    services.role_admin.update("app0:auditor", RoleBody(**{"status": "disabled"}))
    assert context_of(services, alice)["permissions"] == ""
    services.role_admin.update("app0:auditor", RoleBody(**{"status": "active"}))
    assert context_of(services, alice)["permissions"] == "audit:read"
    with pytest.raises(ValidationError):
        services.role_admin.update("app0:auditor", RoleBody(**{"status": "sleeping"}))
