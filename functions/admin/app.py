"""Admin function: users, role grants, role definitions, menus, departments and apps (API.md sections 4
and 5).

The authorizer checks each route's permission in the token's app (template.yaml,
``Metadata.RouteRequirements``). Which app and which user a request may act on is decided by the
admin-scope rule: every route calls one operation of ``AdminActions``, which asks it first.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.config import get_settings
from shared.container import get_services
from shared.errors import PermissionDeniedError, ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import (
    AdminUserCreateBody,
    AdminUserUpdateBody,
    AppBody,
    AssignMenusBody,
    AssignRoleBody,
    AssignRolesBody,
    DepartmentBody,
    MenuBody,
    RemoveRolesBody,
    RoleAuthBody,
    RoleBody,
)
from shared.services.admin import AdminActions
from shared.services.admin_scope import Caller
from shared.services.apps import app_view
from shared.services.role_admin import role_view

app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)


def _admin() -> AdminActions:
    return get_services().admin


def _me() -> Caller:
    """The caller, narrowed to the grants they hold now (the admin-scope rule's input)."""
    return _admin().caller(http.caller(app))


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name) or default)
    except ValueError as exc:
        raise ValidationError({name: ["a whole number"]}) from exc


# -- role grants -------------------------------------------------------------------------------------
@app.post("/api/roles/assign-role", **http.requires("perm:system:user:role"))
@tracer.capture_method
def assign_role() -> Response[str]:
    body = http.parse(app, AssignRoleBody)
    grant = _admin().assign_role(_me(), body.user_id, body.app_name, body.role_name)
    logger.info("role assigned", extra={"user_id": body.user_id, "role": grant.role_id})
    return http.ok(app, {"status": True, "message": "角色分配成功", "role_id": grant.role_id})


@app.post("/api/roles/role-auth", **http.requires("user"))
@tracer.capture_method
def role_auth() -> Response[str]:
    body = http.parse(app, RoleAuthBody)
    if not _admin().has_role(_me(), body.app_name, body.role_name):
        raise PermissionDeniedError()
    return http.ok(app, {"status": True})


@app.post("/api/roles/remove-roles", **http.requires("perm:system:user:role"))
@tracer.capture_method
def remove_roles() -> Response[str]:
    body = http.parse(app, RemoveRolesBody)
    codes = list(body.role_names or []) + ([body.role_name] if body.role_name else [])
    if not codes:
        raise ValidationError({"role_names": ["give role_names or role_name"]})
    removed = _admin().remove_roles(_me(), body.user_id, body.app_name, codes)
    logger.info("roles removed", extra={"user_id": body.user_id, "removed": removed})
    return http.ok(app, {"removed": removed})


@app.post("/api/users/assign-roles", **http.requires("perm:system:user:role"))
@tracer.capture_method
def assign_roles() -> Response[str]:
    body = http.parse(app, AssignRolesBody)
    app_name: str | None
    if body.role_ids is not None:
        pairs = [role_id.partition(":") for role_id in body.role_ids]
        apps = {a for a, sep, _ in pairs if sep}
        if len(apps) > 1 or any(not sep for _, sep, _ in pairs):
            raise ValidationError({"role_ids": ["role ids of one app, as returned by the role routes"]})
        app_name = apps.pop() if apps else body.app_name
        codes = [code for _, _, code in pairs]
    elif body.role_codes is not None:
        app_name, codes = body.app_name, list(body.role_codes)
    else:
        raise ValidationError({"role_ids": ["give role_ids, or role_codes with app_name"]})
    me = _me()
    grants = _admin().replace_roles(me, body.user_id, app_name, codes)
    app_name = app_name or me.app_name
    logger.info("roles replaced", extra={"user_id": body.user_id, "app_name": app_name, "count": len(grants)})
    roles = [{"role_id": g.role_id, "role_code": g.role_code, "role_name": g.role_name} for g in grants]
    return http.ok(app, {"user_id": body.user_id, "app_name": app_name, "roles": roles})


@app.get("/api/roles/admin-data", **http.requires("role:admin"))
def admin_data() -> Response[str]:
    """Compatibility route (API.md section 5); the authorizer lets only role ``admin`` of the token's app
    through, and the answer names no app's data."""
    return http.ok(app, "This is admin data")


# -- users -------------------------------------------------------------------------------------------
@app.get("/api/users", **http.requires("perm:system:user:list"))
@tracer.capture_method
def list_users() -> Response[str]:
    query = _query()
    listing = _admin().list_users(_me(), query.get("app_name"), query, _int(query, "page_size", 20))
    return http.ok(app, listing)


@app.post("/api/users/create", **http.requires("perm:system:user:add"))
@tracer.capture_method
def create_user() -> Response[str]:
    body = http.parse(app, AdminUserCreateBody)
    created = _admin().create_user(_me(), _query().get("app_name"), body.model_dump(exclude_unset=True))
    logger.info("user created by admin", extra={"user_id": created["user_id"]})
    return http.ok(app, created, status=201)


@app.get("/api/users/<user_id>", **http.requires("perm:system:user:query"))
@tracer.capture_method
def get_user(user_id: str) -> Response[str]:
    return http.ok(app, _admin().view_user(_me(), user_id))


@app.put("/api/users/<user_id>/update", **http.requires("perm:system:user:edit"))
@tracer.capture_method
def update_user(user_id: str) -> Response[str]:
    body = http.parse(app, AdminUserUpdateBody)
    fields = body.model_dump(exclude_unset=True)
    updated = _admin().update_user(_me(), user_id, fields)
    logger.info(
        "user updated by admin", extra={"user_id": user_id, "fields": sorted(k for k in fields if k != "password")}
    )
    return http.ok(app, updated)


@app.delete("/api/users/<user_id>/delete", **http.requires("perm:system:user:remove"))
@tracer.capture_method
def delete_user(user_id: str) -> Response[str]:
    _admin().delete_user(_me(), user_id)
    logger.info("user deleted by admin", extra={"user_id": user_id})
    return http.ok(app, {"deleted": True})


# -- departments -------------------------------------------------------------------------------------
@app.get("/api/departments", **http.requires("perm:system:dept:list"))
@tracer.capture_method
def list_departments() -> Response[str]:
    return http.ok(app, {"items": _admin().list_departments(_me())})


@app.get("/api/departments/tree", **http.requires("perm:system:dept:list"))
@tracer.capture_method
def department_tree() -> Response[str]:
    return http.ok(app, _admin().department_tree(_me()))


@app.post("/api/departments/create", **http.requires("perm:system:dept:add"))
@tracer.capture_method
def create_department() -> Response[str]:
    body = http.parse(app, DepartmentBody)
    return http.ok(app, _admin().create_department(_me(), body.model_dump(exclude_unset=True)), status=201)


@app.get("/api/departments/<dept_id>", **http.requires("perm:system:dept:query"))
@tracer.capture_method
def get_department(dept_id: str) -> Response[str]:
    return http.ok(app, _admin().get_department(_me(), dept_id))


@app.put("/api/departments/<dept_id>/update", **http.requires("perm:system:dept:edit"))
@tracer.capture_method
def update_department(dept_id: str) -> Response[str]:
    body = http.parse(app, DepartmentBody)
    return http.ok(app, _admin().update_department(_me(), dept_id, body.model_dump(exclude_unset=True)))


@app.delete("/api/departments/<dept_id>/delete", **http.requires("perm:system:dept:remove"))
@tracer.capture_method
def delete_department(dept_id: str) -> Response[str]:
    _admin().delete_department(_me(), dept_id)
    return http.ok(app, {"deleted": True})


# -- role definitions --------------------------------------------------------------------------------
@app.get("/api/roles", **http.requires("perm:system:role:list"))
@tracer.capture_method
def list_roles() -> Response[str]:
    query = _query()
    listing = _admin().list_roles(
        _me(), query.get("app_name"), query, _int(query, "page", 1), _int(query, "page_size", 20)
    )
    return http.ok(app, listing)


@app.post("/api/roles/create", **http.requires("perm:system:role:add"))
@tracer.capture_method
def create_role() -> Response[str]:
    body = http.parse(app, RoleBody)
    role = _admin().create_role(_me(), body.model_dump(exclude_unset=True))
    logger.info("role created", extra={"role": role.role_id})
    return http.ok(app, role_view(role), status=201)


@app.get("/api/roles/<role_id>", **http.requires("perm:system:role:query"))
@tracer.capture_method
def get_role(role_id: str) -> Response[str]:
    return http.ok(app, role_view(_admin().get_role(_me(), role_id)))


@app.put("/api/roles/<role_id>/update", **http.requires("perm:system:role:edit"))
@tracer.capture_method
def update_role(role_id: str) -> Response[str]:
    body = http.parse(app, RoleBody)
    role = _admin().update_role(_me(), role_id, body.model_dump(exclude_unset=True))
    logger.info("role updated", extra={"role": role.role_id})
    return http.ok(app, role_view(role))


@app.delete("/api/roles/<role_id>/delete", **http.requires("perm:system:role:remove"))
@tracer.capture_method
def delete_role(role_id: str) -> Response[str]:
    force = (_query().get("force") or "").lower() in ("1", "true", "yes")
    held = _admin().delete_role(_me(), role_id, force)
    logger.info("role deleted", extra={"role": role_id, "held": held})
    return http.ok(app, {"deleted": True, "was_in_use": held})


@app.post("/api/roles/assign-menus", **http.requires("perm:system:role:menu"))
@tracer.capture_method
def assign_menus() -> Response[str]:
    body = http.parse(app, AssignMenusBody)
    return http.ok(app, role_view(_admin().assign_menus(_me(), body.role_id, list(body.menu_ids))))


@app.get("/api/roles/<role_id>/menus", **http.requires("perm:system:role:menu"))
@tracer.capture_method
def role_menus(role_id: str) -> Response[str]:
    role = _admin().role_menus(_me(), role_id)
    return http.ok(app, {"role_id": role.role_id, "menu_ids": role.menu_ids})


# -- menus -------------------------------------------------------------------------------------------
@app.get("/api/menus", **http.requires("perm:system:menu:list"))
@tracer.capture_method
def list_menus() -> Response[str]:
    return http.ok(app, {"items": _admin().list_menus(_me(), _query().get("app_name"))})


@app.get("/api/menus/tree", **http.requires("perm:system:menu:list"))
@tracer.capture_method
def menu_tree() -> Response[str]:
    return http.ok(app, _admin().menu_tree(_me(), _query().get("app_name")))


@app.post("/api/menus/create", **http.requires("perm:system:menu:add"))
@tracer.capture_method
def create_menu() -> Response[str]:
    body = http.parse(app, MenuBody)
    app_name = body.app_name or _query().get("app_name")
    return http.ok(app, _admin().create_menu(_me(), app_name, body.model_dump(exclude_unset=True)), status=201)


@app.get("/api/menus/<menu_id>", **http.requires("perm:system:menu:query"))
@tracer.capture_method
def get_menu(menu_id: str) -> Response[str]:
    return http.ok(app, _admin().get_menu(_me(), _query().get("app_name"), menu_id))


@app.put("/api/menus/<menu_id>/update", **http.requires("perm:system:menu:edit"))
@tracer.capture_method
def update_menu(menu_id: str) -> Response[str]:
    body = http.parse(app, MenuBody)
    app_name = body.app_name or _query().get("app_name")
    return http.ok(app, _admin().update_menu(_me(), app_name, menu_id, body.model_dump(exclude_unset=True)))


@app.delete("/api/menus/<menu_id>/delete", **http.requires("perm:system:menu:remove"))
@tracer.capture_method
def delete_menu(menu_id: str) -> Response[str]:
    _admin().delete_menu(_me(), _query().get("app_name"), menu_id)
    return http.ok(app, {"deleted": True})


# -- apps --------------------------------------------------------------------------------------------
@app.get("/api/apps", **http.requires("perm:system:app:manage"))
@tracer.capture_method
def list_apps() -> Response[str]:
    return http.ok(app, {"items": [app_view(a) for a in _admin().list_apps(_me())]})


@app.post("/api/apps/create", **http.requires("perm:system:app:manage"))
@tracer.capture_method
def create_app() -> Response[str]:
    body = http.parse(app, AppBody)
    created = _admin().create_app(_me(), body.model_dump(exclude_unset=True))
    logger.info("app created", extra={"app_name": created.app_name})
    return http.ok(app, app_view(created), status=201)


@app.put("/api/apps/<app_name>/update", **http.requires("perm:system:app:manage"))
@tracer.capture_method
def update_app(app_name: str) -> Response[str]:
    body = http.parse(app, AppBody)
    fields = body.model_dump(exclude_unset=True, exclude={"app_name"})
    return http.ok(app, app_view(_admin().update_app(_me(), app_name, fields)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.with_cors(event, app.resolve(event, context), get_settings().cors_allowed_origins)
