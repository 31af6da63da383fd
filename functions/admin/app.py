"""Admin function: users, role grants, role definitions, menus, departments and apps (API.md sections 4
and 5).

The authorizer checks each route's permission in the token's app (template.yaml,
``Metadata.RouteRequirements``). Which app and which user a request may act on is decided by the
admin-scope rule: every route calls one operation of ``AdminActions``, which asks it first.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import http
from shared.container import get_services
from shared.errors import PermissionDeniedError, ValidationError
from shared.observability import logger, metrics, tracer
from shared.schemas import (
    AdminUserCreateBody,
    AdminUserUpdateBody,
    AppBody,
    AppName,
    AssignMenusBody,
    AssignRoleBody,
    AssignRolesBody,
    DepartmentBody,
    Flag,
    MenuBody,
    RemoveRolesBody,
    RoleAuthBody,
    RoleBody,
)
from shared.services.admin import AdminActions
from shared.services.admin_scope import Caller
from shared.services.apps import app_view
from shared.services.role_admin import role_view

app = http.resolver(logger)


def admin_caller(me: http.Me) -> Caller:
    """The caller, narrowed to the grants they hold now: the admin-scope rule's input (a dependency)."""
    return get_services().admin.caller(me.context())


Admin = Annotated[Caller, Depends(admin_caller)]
AppQuery = Annotated[AppName | None, Query()]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
Filter = Annotated[str | None, Query(max_length=254)]


def _admin() -> AdminActions:
    return get_services().admin


# -- role grants -------------------------------------------------------------------------------------
@app.post("/api/roles/assign-role", **http.requires("perm:system:user:role"))
@tracer.capture_method
def assign_role(body: AssignRoleBody, me: Admin) -> Response[str]:
    """Give a user a role of the app (created when missing); the caller must hold its permissions."""
    grant = _admin().assign_role(me, body.user_id, body.app_name, body.role_name)
    logger.info("role assigned", extra={"user_id": body.user_id, "role": grant.role_id})
    return http.ok(app, {"status": True, "message": "角色分配成功", "role_id": grant.role_id})


@app.post("/api/roles/role-auth", **http.requires("user"))
@tracer.capture_method
def role_auth(body: RoleAuthBody, me: Admin) -> Response[str]:
    """Does the caller hold the role (in the token's app)? 403 when not."""
    if not _admin().has_role(me, body.app_name, body.role_name):
        raise PermissionDeniedError()
    return http.ok(app, {"status": True})


@app.post("/api/roles/remove-roles", **http.requires("perm:system:user:role"))
@tracer.capture_method
def remove_roles(body: RemoveRolesBody, me: Admin) -> Response[str]:
    """Take roles of the app away from a user (the roles themselves stay)."""
    codes = list(body.role_names or []) + ([body.role_name] if body.role_name else [])
    if not codes:
        raise ValidationError({"role_names": ["give role_names or role_name"]})
    removed = _admin().remove_roles(me, body.user_id, body.app_name, codes)
    logger.info("roles removed", extra={"user_id": body.user_id, "removed": removed})
    return http.ok(app, {"removed": removed})


@app.post("/api/users/assign-roles", **http.requires("perm:system:user:role"))
@tracer.capture_method
def assign_roles(body: AssignRolesBody, me: Admin) -> Response[str]:
    """Make a user's roles in one app exactly these (``role_ids``, or ``role_codes`` with ``app_name``)."""
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
def list_users(
    me: Admin,
    app_name: AppQuery = None,
    page: Page = 1,
    page_size: PageSize = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    username: Filter = None,
    email: Filter = None,
    phone: Filter = None,
    real_name: Filter = None,
    department_id: Filter = None,
    status: Filter = None,
    role_code: Filter = None,
) -> Response[str]:
    """The user directory, newest first (app0's admins see everyone; other apps' admins their members)."""
    filters = {
        "page": str(page),
        "cursor": cursor,
        "username": username,
        "email": email,
        "phone": phone,
        "real_name": real_name,
        "department_id": department_id,
        "status": status,
        "role_code": role_code,
    }
    query = {k: v for k, v in filters.items() if v}
    return http.ok(app, _admin().list_users(me, app_name, query, page_size))


@app.post("/api/users/create", status_code=201, **http.requires("perm:system:user:add"))
@tracer.capture_method
def create_user(body: AdminUserCreateBody, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Create a user (in app0's organisation) with the app's default role; a password is optional."""
    created = _admin().create_user(me, app_name, body.model_dump(exclude_unset=True))
    logger.info("user created by admin", extra={"user_id": created["user_id"]})
    return http.ok(app, created, status=201)


@app.get("/api/users/<user_id>", **http.requires("perm:system:user:query"))
@tracer.capture_method
def get_user(user_id: str, me: Admin) -> Response[str]:
    """A user with roles and accounts."""
    return http.ok(app, _admin().view_user(me, user_id))


@app.put("/api/users/<user_id>/update", **http.requires("perm:system:user:edit"))
@tracer.capture_method
def update_user(user_id: str, body: AdminUserUpdateBody, me: Admin) -> Response[str]:
    """Change a user; identifiers, password and status are app0's (a password set ends the sessions)."""
    fields = body.model_dump(exclude_unset=True)
    updated = _admin().update_user(me, user_id, fields)
    logger.info(
        "user updated by admin", extra={"user_id": user_id, "fields": sorted(k for k in fields if k != "password")}
    )
    return http.ok(app, updated)


@app.delete("/api/users/<user_id>/delete", **http.requires("perm:system:user:remove"))
@tracer.capture_method
def delete_user(user_id: str, me: Admin) -> Response[str]:
    """Remove a user with its role links, identifier claims and sessions."""
    _admin().delete_user(me, user_id)
    logger.info("user deleted by admin", extra={"user_id": user_id})
    return http.ok(app, {"deleted": True})


# -- departments -------------------------------------------------------------------------------------
@app.get("/api/departments", **http.requires("perm:system:dept:list"))
@tracer.capture_method
def list_departments(me: Admin) -> Response[str]:
    """The organisation's departments."""
    return http.ok(app, {"items": _admin().list_departments(me)})


@app.get("/api/departments/tree", **http.requires("perm:system:dept:list"))
@tracer.capture_method
def department_tree(me: Admin) -> Response[str]:
    """The departments as a tree."""
    return http.ok(app, _admin().department_tree(me))


@app.post("/api/departments/create", status_code=201, **http.requires("perm:system:dept:add"))
@tracer.capture_method
def create_department(body: DepartmentBody, me: Admin) -> Response[str]:
    """Create a department."""
    return http.ok(app, _admin().create_department(me, body.model_dump(exclude_unset=True)), status=201)


@app.get("/api/departments/<dept_id>", **http.requires("perm:system:dept:query"))
@tracer.capture_method
def get_department(dept_id: str, me: Admin) -> Response[str]:
    """A department."""
    return http.ok(app, _admin().get_department(me, dept_id))


@app.put("/api/departments/<dept_id>/update", **http.requires("perm:system:dept:edit"))
@tracer.capture_method
def update_department(dept_id: str, body: DepartmentBody, me: Admin) -> Response[str]:
    """Change a department."""
    return http.ok(app, _admin().update_department(me, dept_id, body.model_dump(exclude_unset=True)))


@app.delete("/api/departments/<dept_id>/delete", **http.requires("perm:system:dept:remove"))
@tracer.capture_method
def delete_department(dept_id: str, me: Admin) -> Response[str]:
    """Delete a department (409 with sub-departments or users)."""
    _admin().delete_department(me, dept_id)
    return http.ok(app, {"deleted": True})


# -- role definitions --------------------------------------------------------------------------------
@app.get("/api/roles", **http.requires("perm:system:role:list"))
@tracer.capture_method
def list_roles(
    me: Admin,
    app_name: AppQuery = None,
    page: Page = 1,
    page_size: PageSize = 20,
    role_name: Filter = None,
    role_code: Filter = None,
    status: Filter = None,
) -> Response[str]:
    """The roles of an app (the token's, unless the super admin names another)."""
    filters = {k: v for k, v in {"role_name": role_name, "role_code": role_code, "status": status}.items() if v}
    return http.ok(app, _admin().list_roles(me, app_name, filters, page, page_size))


@app.post("/api/roles/create", status_code=201, **http.requires("perm:system:role:add"))
@tracer.capture_method
def create_role(body: RoleBody, me: Admin) -> Response[str]:
    """Create a role; the caller must hold every permission it lists."""
    role = _admin().create_role(me, body.model_dump(exclude_unset=True))
    logger.info("role created", extra={"role": role.role_id})
    return http.ok(app, role_view(role), status=201)


@app.get("/api/roles/<role_id>", **http.requires("perm:system:role:query"))
@tracer.capture_method
def get_role(role_id: str, me: Admin) -> Response[str]:
    """A role (ids are ``<app>:<code>``)."""
    return http.ok(app, role_view(_admin().get_role(me, role_id)))


@app.put("/api/roles/<role_id>/update", **http.requires("perm:system:role:edit"))
@tracer.capture_method
def update_role(role_id: str, body: RoleBody, me: Admin) -> Response[str]:
    """Change a role (one write, whatever the number of holders; they see it at their next request)."""
    role = _admin().update_role(me, role_id, body.model_dump(exclude_unset=True))
    logger.info("role updated", extra={"role": role.role_id})
    return http.ok(app, role_view(role))


@app.delete("/api/roles/<role_id>/delete", **http.requires("perm:system:role:remove"))
@tracer.capture_method
def delete_role(role_id: str, me: Admin, force: Annotated[Flag, Query()] = False) -> Response[str]:
    """Delete a role (409 ``ROLE_IN_USE`` while held, unless ``force``)."""
    held = _admin().delete_role(me, role_id, bool(force))
    logger.info("role deleted", extra={"role": role_id, "held": held})
    return http.ok(app, {"deleted": True, "was_in_use": held})


@app.post("/api/roles/assign-menus", **http.requires("perm:system:role:menu"))
@tracer.capture_method
def assign_menus(body: AssignMenusBody, me: Admin) -> Response[str]:
    """Set the menus a role opens."""
    return http.ok(app, role_view(_admin().assign_menus(me, body.role_id, list(body.menu_ids))))


@app.get("/api/roles/<role_id>/menus", **http.requires("perm:system:role:menu"))
@tracer.capture_method
def role_menus(role_id: str, me: Admin) -> Response[str]:
    """The menus a role opens."""
    role = _admin().role_menus(me, role_id)
    return http.ok(app, {"role_id": role.role_id, "menu_ids": role.menu_ids})


# -- menus -------------------------------------------------------------------------------------------
@app.get("/api/menus", **http.requires("perm:system:menu:list"))
@tracer.capture_method
def list_menus(me: Admin, app_name: AppQuery = None) -> Response[str]:
    """The menus of an app."""
    return http.ok(app, {"items": _admin().list_menus(me, app_name)})


@app.get("/api/menus/tree", **http.requires("perm:system:menu:list"))
@tracer.capture_method
def menu_tree(me: Admin, app_name: AppQuery = None) -> Response[str]:
    """The menus of an app as a tree."""
    return http.ok(app, _admin().menu_tree(me, app_name))


@app.post("/api/menus/create", status_code=201, **http.requires("perm:system:menu:add"))
@tracer.capture_method
def create_menu(body: MenuBody, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Create a menu."""
    target = body.app_name or app_name
    return http.ok(app, _admin().create_menu(me, target, body.model_dump(exclude_unset=True)), status=201)


@app.get("/api/menus/<menu_id>", **http.requires("perm:system:menu:query"))
@tracer.capture_method
def get_menu(menu_id: str, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """A menu."""
    return http.ok(app, _admin().get_menu(me, app_name, menu_id))


@app.put("/api/menus/<menu_id>/update", **http.requires("perm:system:menu:edit"))
@tracer.capture_method
def update_menu(menu_id: str, body: MenuBody, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Change a menu (cycles refused)."""
    target = body.app_name or app_name
    return http.ok(app, _admin().update_menu(me, target, menu_id, body.model_dump(exclude_unset=True)))


@app.delete("/api/menus/<menu_id>/delete", **http.requires("perm:system:menu:remove"))
@tracer.capture_method
def delete_menu(menu_id: str, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Delete a menu (409 with children)."""
    _admin().delete_menu(me, app_name, menu_id)
    return http.ok(app, {"deleted": True})


# -- apps --------------------------------------------------------------------------------------------
@app.get("/api/apps", **http.requires("perm:system:app:manage"))
@tracer.capture_method
def list_apps(me: Admin) -> Response[str]:
    """The apps (the super admin sees every one; an app's admins theirs)."""
    return http.ok(app, {"items": [app_view(a) for a in _admin().list_apps(me)]})


@app.post("/api/apps/create", status_code=201, **http.requires("perm:system:app:manage"))
@tracer.capture_method
def create_app(body: AppBody, me: Admin) -> Response[str]:
    """Create an app (super admin)."""
    created = _admin().create_app(me, body.model_dump(exclude_unset=True))
    logger.info("app created", extra={"app_name": created.app_name})
    return http.ok(app, app_view(created), status=201)


@app.put("/api/apps/<app_name>/update", **http.requires("perm:system:app:manage"))
@tracer.capture_method
def update_app(app_name: str, body: AppBody, me: Admin) -> Response[str]:
    """Change an app's settings (its default role never holds a ``system:*`` permission)."""
    fields = body.model_dump(exclude_unset=True, exclude={"app_name"})
    return http.ok(app, app_view(_admin().update_app(me, app_name, fields)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.serve(app, event, context)
