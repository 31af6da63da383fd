"""Admin function: roles of users and apps (more admin routes follow: users, menus, departments).

Who may call each route is decided by the authorizer from template.yaml (``Metadata.RouteRequirements``
of this function); handlers parse, call one service and wrap the result.
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
from shared.services.apps import app_view
from shared.services.role_admin import role_view

app = APIGatewayRestResolver()
http.install_error_handlers(app, logger)


def _app_of(requested: str | None) -> str:
    """The app a role route is about: the body's ``app_name``, else the caller's token app."""
    return requested or http.caller(app)["app_name"]


@app.post("/api/roles/assign-role")
@tracer.capture_method
def assign_role() -> Response[str]:
    body = http.parse(app, AssignRoleBody)
    grant = get_services().roles.assign(body.user_id, _app_of(body.app_name), body.role_name)
    logger.info("role assigned", extra={"user_id": body.user_id, "role": grant.role_id})
    return http.ok(app, {"status": True, "message": "角色分配成功", "role_id": grant.role_id})


@app.post("/api/roles/role-auth")
@tracer.capture_method
def role_auth() -> Response[str]:
    me = http.caller(app)
    body = http.parse(app, RoleAuthBody)
    if not get_services().roles.has_role(me["user_id"], _app_of(body.app_name), body.role_name):
        raise PermissionDeniedError()
    return http.ok(app, {"status": True})


@app.post("/api/roles/remove-roles")
@tracer.capture_method
def remove_roles() -> Response[str]:
    body = http.parse(app, RemoveRolesBody)
    codes = list(body.role_names or []) + ([body.role_name] if body.role_name else [])
    if not codes:
        raise ValidationError({"role_names": ["give role_names or role_name"]})
    removed = get_services().roles.remove(body.user_id, _app_of(body.app_name), codes)
    logger.info("roles removed", extra={"user_id": body.user_id, "removed": removed})
    return http.ok(app, {"removed": removed})


@app.post("/api/users/assign-roles")
@tracer.capture_method
def assign_roles() -> Response[str]:
    body = http.parse(app, AssignRolesBody)
    if body.role_ids is not None:
        pairs = [role_id.partition(":") for role_id in body.role_ids]
        apps = {a for a, sep, _ in pairs if sep}
        if len(apps) > 1 or any(not sep for _, sep, _ in pairs):
            raise ValidationError({"role_ids": ["role ids of one app, as returned by the role routes"]})
        app_name = apps.pop() if apps else _app_of(body.app_name)
        codes = [code for _, _, code in pairs]
    elif body.role_codes is not None:
        app_name, codes = _app_of(body.app_name), list(body.role_codes)
    else:
        raise ValidationError({"role_ids": ["give role_ids, or role_codes with app_name"]})
    grants = get_services().roles.replace(body.user_id, app_name, codes)
    logger.info("roles replaced", extra={"user_id": body.user_id, "app_name": app_name, "count": len(grants)})
    roles = [{"role_id": g.role_id, "role_code": g.role_code, "role_name": g.role_name} for g in grants]
    return http.ok(app, {"user_id": body.user_id, "app_name": app_name, "roles": roles})


@app.get("/api/users")
@tracer.capture_method
def list_users() -> Response[str]:
    query = _query()
    listing = get_services().user_admin.list_users(_app_name(), query, _int(query, "page_size", 20))
    return http.ok(app, listing)


@app.post("/api/users/create")
@tracer.capture_method
def create_user() -> Response[str]:
    body = http.parse(app, AdminUserCreateBody)
    created = get_services().user_admin.create(_app_name(), body.model_dump(exclude_unset=True))
    logger.info("user created by admin", extra={"user_id": created["user_id"]})
    return http.ok(app, created, status=201)


@app.delete("/api/users/<user_id>/delete")
@tracer.capture_method
def delete_user(user_id: str) -> Response[str]:
    get_services().user_admin.delete(user_id)
    logger.info("user deleted by admin", extra={"user_id": user_id})
    return http.ok(app, {"deleted": True})


@app.get("/api/departments")
@tracer.capture_method
def list_departments() -> Response[str]:
    return http.ok(app, {"items": get_services().departments.list_departments()})


@app.get("/api/departments/tree")
@tracer.capture_method
def department_tree() -> Response[str]:
    return http.ok(app, get_services().departments.tree())


@app.post("/api/departments/create")
@tracer.capture_method
def create_department() -> Response[str]:
    body = http.parse(app, DepartmentBody)
    return http.ok(app, get_services().departments.create(body.model_dump(exclude_unset=True)).view(), status=201)


@app.get("/api/departments/<dept_id>")
@tracer.capture_method
def get_department(dept_id: str) -> Response[str]:
    return http.ok(app, get_services().departments.get(dept_id).view())


@app.put("/api/departments/<dept_id>/update")
@tracer.capture_method
def update_department(dept_id: str) -> Response[str]:
    body = http.parse(app, DepartmentBody)
    return http.ok(app, get_services().departments.update(dept_id, body.model_dump(exclude_unset=True)).view())


@app.delete("/api/departments/<dept_id>/delete")
@tracer.capture_method
def delete_department(dept_id: str) -> Response[str]:
    get_services().departments.delete(dept_id)
    return http.ok(app, {"deleted": True})


@app.get("/api/users/<user_id>")
@tracer.capture_method
def get_user(user_id: str) -> Response[str]:
    return http.ok(app, get_services().user_admin.view(user_id, http.caller(app)["app_name"]))


@app.put("/api/users/<user_id>/update")
@tracer.capture_method
def update_user(user_id: str) -> Response[str]:
    body = http.parse(app, AdminUserUpdateBody)
    fields = body.model_dump(exclude_unset=True)
    updated = get_services().user_admin.update(user_id, http.caller(app)["app_name"], fields)
    logger.info(
        "user updated by admin", extra={"user_id": user_id, "fields": sorted(k for k in fields if k != "password")}
    )
    return http.ok(app, updated)


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name) or default)
    except ValueError as exc:
        raise ValidationError({name: ["a whole number"]}) from exc


@app.get("/api/roles")
@tracer.capture_method
def list_roles() -> Response[str]:
    query = _query()
    app_name = query.get("app_name") or http.caller(app)["app_name"]
    listing = get_services().role_admin.list_roles(
        app_name, query, _int(query, "page", 1), _int(query, "page_size", 20)
    )
    return http.ok(app, listing)


@app.post("/api/roles/create")
@tracer.capture_method
def create_role() -> Response[str]:
    body = http.parse(app, RoleBody)
    fields = body.model_dump(exclude_unset=True)
    fields.setdefault("app_name", http.caller(app)["app_name"])
    role = get_services().role_admin.create(fields)
    logger.info("role created", extra={"role": role.role_id})
    return http.ok(app, role_view(role), status=201)


@app.get("/api/roles/<role_id>")
@tracer.capture_method
def get_role(role_id: str) -> Response[str]:
    return http.ok(app, role_view(get_services().role_admin.get(role_id)))


@app.put("/api/roles/<role_id>/update")
@tracer.capture_method
def update_role(role_id: str) -> Response[str]:
    body = http.parse(app, RoleBody)
    role = get_services().role_admin.update(role_id, body.model_dump(exclude_unset=True))
    logger.info("role updated", extra={"role": role.role_id})
    return http.ok(app, role_view(role))


@app.delete("/api/roles/<role_id>/delete")
@tracer.capture_method
def delete_role(role_id: str) -> Response[str]:
    force = (_query().get("force") or "").lower() in ("1", "true", "yes")
    holders = get_services().role_admin.delete(role_id, force)
    logger.info("role deleted", extra={"role": role_id, "holders": holders})
    return http.ok(app, {"deleted": True, "removed_from_users": holders})


@app.post("/api/roles/assign-menus")
@tracer.capture_method
def assign_menus() -> Response[str]:
    body = http.parse(app, AssignMenusBody)
    role = get_services().role_admin.assign_menus(body.role_id, list(body.menu_ids))
    return http.ok(app, role_view(role))


@app.get("/api/roles/<role_id>/menus")
@tracer.capture_method
def role_menus(role_id: str) -> Response[str]:
    role = get_services().role_admin.get(role_id)
    return http.ok(app, {"role_id": role.role_id, "menu_ids": role.menu_ids})


def _app_name(requested: str | None = None) -> str:
    return requested or _query().get("app_name") or http.caller(app)["app_name"]


@app.get("/api/menus")
@tracer.capture_method
def list_menus() -> Response[str]:
    return http.ok(app, {"items": get_services().menus.list_menus(_app_name())})


@app.get("/api/menus/tree")
@tracer.capture_method
def menu_tree() -> Response[str]:
    return http.ok(app, get_services().menus.tree(_app_name()))


@app.post("/api/menus/create")
@tracer.capture_method
def create_menu() -> Response[str]:
    body = http.parse(app, MenuBody)
    menu = get_services().menus.create(_app_name(body.app_name), body.model_dump(exclude_unset=True))
    return http.ok(app, menu.view(), status=201)


@app.get("/api/menus/<menu_id>")
@tracer.capture_method
def get_menu(menu_id: str) -> Response[str]:
    return http.ok(app, get_services().menus.get(_app_name(), menu_id).view())


@app.put("/api/menus/<menu_id>/update")
@tracer.capture_method
def update_menu(menu_id: str) -> Response[str]:
    body = http.parse(app, MenuBody)
    menu = get_services().menus.update(_app_name(body.app_name), menu_id, body.model_dump(exclude_unset=True))
    return http.ok(app, menu.view())


@app.delete("/api/menus/<menu_id>/delete")
@tracer.capture_method
def delete_menu(menu_id: str) -> Response[str]:
    get_services().menus.delete(_app_name(), menu_id)
    return http.ok(app, {"deleted": True})


@app.get("/api/roles/admin-data")
def admin_data() -> Response[str]:
    """Compatibility route (API.md section 5); the authorizer lets only role ``admin`` through."""
    return http.ok(app, "This is admin data")


@app.get("/api/apps")
@tracer.capture_method
def list_apps() -> Response[str]:
    return http.ok(app, {"items": [app_view(a) for a in get_services().apps.list()]})


@app.post("/api/apps/create")
@tracer.capture_method
def create_app() -> Response[str]:
    body = http.parse(app, AppBody)
    created = get_services().apps.create(body.model_dump(exclude_unset=True))
    logger.info("app created", extra={"app_name": created.app_name})
    return http.ok(app, app_view(created), status=201)


@app.put("/api/apps/<app_name>/update")
@tracer.capture_method
def update_app(app_name: str) -> Response[str]:
    body = http.parse(app, AppBody)
    fields = body.model_dump(exclude_unset=True, exclude={"app_name"})
    updated = get_services().apps.update(app_name, fields)
    return http.ok(app, app_view(updated))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http.with_cors(event, app.resolve(event, context), get_settings().cors_allowed_origins)
