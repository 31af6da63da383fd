"""Role definitions of an app: what each role grants, and the menus it opens (API.md section 4)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared import http
from shared.observability import logger, tracer
from shared.routes.admin_caller import Admin, AppQuery, Filter, PageNumber, PageSize, actions
from shared.schemas import AssignMenusBody, Flag, RoleBody
from shared.views import RoleDeleted, RoleMenus, RolePage, RoleView

router = http.router()


@router.get("/api/roles", **http.requires("perm:system:role:list"), **http.answers(RolePage))
@tracer.capture_method
def list_roles(
    me: Admin,
    app_name: AppQuery = None,
    page: PageNumber = 1,
    page_size: PageSize = 20,
    role_name: Filter = None,
    role_code: Filter = None,
    status: Filter = None,
) -> Response[str]:
    """The roles of an app (the token's, unless the super admin names another)."""
    filters = {k: v for k, v in {"role_name": role_name, "role_code": role_code, "status": status}.items() if v}
    return http.ok(router, RolePage.of(actions().list_roles(me, app_name, filters, page, page_size)))


@router.post(
    "/api/roles/create", status_code=201, **http.requires("perm:system:role:add"), **http.answers(RoleView, 201)
)
@tracer.capture_method
def create_role(body: RoleBody, me: Admin) -> Response[str]:
    """Create a role; the caller must hold every permission it lists."""
    role = actions().create_role(me, body)
    logger.info("role created", extra={"role": role.role_id})
    return http.ok(router, RoleView.of(role), status=201)


@router.get("/api/roles/<role_id>", **http.requires("perm:system:role:query"), **http.answers(RoleView))
@tracer.capture_method
def get_role(role_id: str, me: Admin) -> Response[str]:
    """A role (ids are ``<app>:<code>``)."""
    return http.ok(router, RoleView.of(actions().get_role(me, role_id)))


@router.put("/api/roles/<role_id>/update", **http.requires("perm:system:role:edit"), **http.answers(RoleView))
@tracer.capture_method
def update_role(role_id: str, body: RoleBody, me: Admin) -> Response[str]:
    """Change a role (one write, whatever the number of holders; they see it at their next request)."""
    role = actions().update_role(me, role_id, body)
    logger.info("role updated", extra={"role": role.role_id})
    return http.ok(router, RoleView.of(role))


@router.delete("/api/roles/<role_id>/delete", **http.requires("perm:system:role:remove"), **http.answers(RoleDeleted))
@tracer.capture_method
def delete_role(role_id: str, me: Admin, force: Annotated[Flag, Query()] = False) -> Response[str]:
    """Delete a role (409 ``ROLE_IN_USE`` while held, unless ``force``)."""
    held = actions().delete_role(me, role_id, bool(force))
    logger.info("role deleted", extra={"role": role_id, "held": held})
    return http.ok(router, RoleDeleted(was_in_use=held))


@router.post("/api/roles/assign-menus", **http.requires("perm:system:role:menu"), **http.answers(RoleView))
@tracer.capture_method
def assign_menus(body: AssignMenusBody, me: Admin) -> Response[str]:
    """Set the menus a role opens."""
    return http.ok(router, RoleView.of(actions().assign_menus(me, body.role_id, list(body.menu_ids))))


@router.get("/api/roles/<role_id>/menus", **http.requires("perm:system:role:menu"), **http.answers(RoleMenus))
@tracer.capture_method
def role_menus(role_id: str, me: Admin) -> Response[str]:
    """The menus a role opens."""
    role = actions().role_menus(me, role_id)
    return http.ok(router, RoleMenus(role_id=role.role_id, menu_ids=role.menu_ids))
