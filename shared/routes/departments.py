"""The organisation's departments (API.md section 4); they need the permission in app0."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.observability import tracer
from shared.routes.admin_caller import Admin, actions
from shared.schemas import DepartmentBody
from shared.views import Deleted, DepartmentList, DepartmentNode, DepartmentView

router = http.router()


@router.get("/api/departments", **http.requires("perm:system:dept:list"), **http.answers(DepartmentList))
@tracer.capture_method
def list_departments(me: Admin) -> Response[str]:
    """The organisation's departments."""
    return http.ok(router, DepartmentList(items=[DepartmentView.of(d) for d in actions().list_departments(me)]))


@router.get("/api/departments/tree", **http.requires("perm:system:dept:list"), **http.answers(list[DepartmentNode]))
@tracer.capture_method
def department_tree(me: Admin) -> Response[str]:
    """The departments as a tree."""
    return http.ok(router, DepartmentNode.tree(actions().list_departments(me)))


@router.post(
    "/api/departments/create",
    status_code=201,
    **http.requires("perm:system:dept:add"),
    **http.answers(DepartmentView, 201),
)
@tracer.capture_method
def create_department(body: DepartmentBody, me: Admin) -> Response[str]:
    """Create a department."""
    created = actions().create_department(me, body)
    return http.ok(router, DepartmentView.of(created), status=201)


@router.get("/api/departments/<dept_id>", **http.requires("perm:system:dept:query"), **http.answers(DepartmentView))
@tracer.capture_method
def get_department(dept_id: str, me: Admin) -> Response[str]:
    """A department."""
    return http.ok(router, DepartmentView.of(actions().get_department(me, dept_id)))


@router.put(
    "/api/departments/<dept_id>/update", **http.requires("perm:system:dept:edit"), **http.answers(DepartmentView)
)
@tracer.capture_method
def update_department(dept_id: str, body: DepartmentBody, me: Admin) -> Response[str]:
    """Change a department."""
    updated = actions().update_department(me, dept_id, body)
    return http.ok(router, DepartmentView.of(updated))


@router.delete("/api/departments/<dept_id>/delete", **http.requires("perm:system:dept:remove"), **http.answers(Deleted))
@tracer.capture_method
def delete_department(dept_id: str, me: Admin) -> Response[str]:
    """Delete a department (409 with sub-departments or users)."""
    actions().delete_department(me, dept_id)
    return http.ok(router, Deleted())
