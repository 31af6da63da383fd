"""The signed-in user: who they are, their menus, profile and password (API.md sections 2 and 5)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.container import get_services
from shared.errors import ValidationError
from shared.observability import logger, tracer
from shared.schemas import PasswordChangeBody, ProfileUpdateBody, VerifyTokenBody
from shared.views import CenterUserInfo, MenuNode, Revoked, UserInfo

router = http.router()


@router.get("/api/auth/user/info", **http.requires("user"), **http.answers(UserInfo))
@router.post("/api/token/get-current-user", **http.requires("user"), **http.answers(UserInfo))
@router.post("/api/token/check-token-from-header", **http.requires("user"), **http.answers(UserInfo))
@tracer.capture_method
def user_info(me: http.Me) -> Response[str]:
    """The caller's ``user_info`` in the token's app."""
    record = get_services().accounts.get(me.user_id, me.app_name)
    return http.ok(router, UserInfo.of_record(record, me.app_name))


@router.get("/api/auth/user-info", **http.requires("user"), **http.answers(CenterUserInfo))
@tracer.capture_method
def center_user_info(me: http.Me) -> Response[str]:
    """Account-center clients: ``user_info`` plus ``userId``, ``unionId``, ``phoneNumber``, ``profile``."""
    record = get_services().accounts.get(me.user_id, me.app_name)
    return http.ok(router, CenterUserInfo.of_record(record, me.app_name))


@router.post("/api/token/check-token-from-body", **http.answers(UserInfo))
def check_token_from_body(body: VerifyTokenBody) -> Response[str]:
    """verify-token with ``access_token`` in the body, answering the user's ``user_info``."""
    token = body.access_token or body.token
    if not token:
        raise ValidationError({"access_token": ["required"]})
    services = get_services()
    claims, _ = services.sessions.verify(token)
    record = services.accounts.get(claims.user_id, claims.app_name)
    return http.ok(router, UserInfo.of_record(record, claims.app_name))


@router.get("/api/auth/user/menus", **http.requires("user"), **http.answers(list[MenuNode]))
@tracer.capture_method
def user_menus(me: http.Me) -> Response[str]:
    """The menu tree the caller's roles open in the token's app (roles as the authorizer saw them)."""
    tree = get_services().menus.for_roles(me.app_name, list(me.roles))
    return http.ok(router, MenuNode.tree(tree))


@router.put("/api/auth/user/info/update", **http.requires("user"), **http.answers(UserInfo))
@tracer.capture_method
def update_user_info(body: ProfileUpdateBody, me: http.Me) -> Response[str]:
    """Change the caller's profile; a new email needs a ``bind`` code sent to it."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    record = get_services().accounts.update_profile(me.user_id, me.app_name, changes)
    return http.ok(router, UserInfo.of_record(record, me.app_name))


@router.post("/api/auth/password/change", **http.requires("user"), **http.answers(Revoked))
@tracer.capture_method
def change_password(body: PasswordChangeBody, me: http.Me) -> Response[str]:
    """Change the password; every other session of the user ends."""
    revoked = get_services().accounts.change_password(
        me.user_id, me.session_id, body.old_password, body.new_password, body.confirm_password
    )
    logger.info("password changed", extra={"user_id": me.user_id, "revoked": revoked})
    return http.ok(router, Revoked(revoked=revoked))
