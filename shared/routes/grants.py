"""Who holds which role: assign, remove, replace, check (API.md sections 4 and 5)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.errors import PermissionDeniedError
from shared.observability import logger, tracer
from shared.routes.admin_caller import Admin, actions
from shared.schemas import AssignRoleBody, AssignRolesBody, RemoveRolesBody, RoleAuthBody
from shared.views import RoleAssigned, RoleHeld, RoleRef, RoleSet, RolesRemoved

router = http.router()


@router.post("/api/roles/assign-role", **http.requires("perm:system:user:role"), **http.answers(RoleAssigned))
@tracer.capture_method
def assign_role(body: AssignRoleBody, me: Admin) -> Response[str]:
    """Give a user a role of the app (created when missing); the caller must hold its permissions."""
    grant = actions().assign_role(me, body.user_id, body.app_name, body.role_name)
    logger.info("role assigned", extra={"user_id": body.user_id, "role": grant.role_id})
    return http.ok(router, RoleAssigned(message="角色分配成功", role_id=grant.role_id))


@router.post("/api/roles/role-auth", **http.requires("user"), **http.answers(RoleHeld))
@tracer.capture_method
def role_auth(body: RoleAuthBody, me: Admin) -> Response[str]:
    """Does the caller hold the role (in the token's app)? 403 when not."""
    if not actions().has_role(me, body.app_name, body.role_name):
        raise PermissionDeniedError()
    return http.ok(router, RoleHeld())


@router.post("/api/roles/remove-roles", **http.requires("perm:system:user:role"), **http.answers(RolesRemoved))
@tracer.capture_method
def remove_roles(body: RemoveRolesBody, me: Admin) -> Response[str]:
    """Take roles of the app away from a user (the roles themselves stay)."""
    removed = actions().remove_roles(me, body.user_id, body.app_name, body.codes())
    logger.info("roles removed", extra={"user_id": body.user_id, "removed": removed})
    return http.ok(router, RolesRemoved(removed=removed))


@router.post("/api/users/assign-roles", **http.requires("perm:system:user:role"), **http.answers(RoleSet))
@tracer.capture_method
def assign_roles(body: AssignRolesBody, me: Admin) -> Response[str]:
    """Make a user's roles in one app exactly these (``role_ids``, or ``role_codes`` with ``app_name``)."""
    app_name, codes = body.target()
    grants = actions().replace_roles(me, body.user_id, app_name, codes)
    app_name = app_name or me.app_name
    logger.info("roles replaced", extra={"user_id": body.user_id, "app_name": app_name, "count": len(grants)})
    return http.ok(router, RoleSet(user_id=body.user_id, app_name=app_name, roles=[RoleRef.of(g) for g in grants]))


@router.get("/api/roles/admin-data", **http.requires("role:admin"), **http.answers(str))
def admin_data() -> Response[str]:
    """Compatibility route (API.md section 5); the authorizer lets only role ``admin`` of the token's app
    through, and the answer names no app's data."""
    return http.ok(router, "This is admin data")
