"""The menus of an app (API.md section 4): what its console shows, opened by roles."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.observability import tracer
from shared.routes.admin_caller import Admin, AppQuery, actions
from shared.schemas import MenuBody
from shared.views import Deleted, MenuList, MenuNode, MenuView

router = http.router()


@router.get("/api/menus", **http.requires("perm:system:menu:list"), **http.answers(MenuList))
@tracer.capture_method
def list_menus(me: Admin, app_name: AppQuery = None) -> Response[str]:
    """The menus of an app."""
    return http.ok(router, MenuList(items=[MenuView.of(m) for m in actions().list_menus(me, app_name)]))


@router.get("/api/menus/tree", **http.requires("perm:system:menu:list"), **http.answers(list[MenuNode]))
@tracer.capture_method
def menu_tree(me: Admin, app_name: AppQuery = None) -> Response[str]:
    """The menus of an app as a tree."""
    return http.ok(router, MenuNode.tree(actions().list_menus(me, app_name)))


@router.post(
    "/api/menus/create", status_code=201, **http.requires("perm:system:menu:add"), **http.answers(MenuView, 201)
)
@tracer.capture_method
def create_menu(body: MenuBody, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Create a menu."""
    created = actions().create_menu(me, body.app_name or app_name, body)
    return http.ok(router, MenuView.of(created), status=201)


@router.get("/api/menus/<menu_id>", **http.requires("perm:system:menu:query"), **http.answers(MenuView))
@tracer.capture_method
def get_menu(menu_id: str, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """A menu."""
    return http.ok(router, MenuView.of(actions().get_menu(me, app_name, menu_id)))


@router.put("/api/menus/<menu_id>/update", **http.requires("perm:system:menu:edit"), **http.answers(MenuView))
@tracer.capture_method
def update_menu(menu_id: str, body: MenuBody, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Change a menu (cycles refused)."""
    return http.ok(router, MenuView.of(actions().update_menu(me, body.app_name or app_name, menu_id, body)))


@router.delete("/api/menus/<menu_id>/delete", **http.requires("perm:system:menu:remove"), **http.answers(Deleted))
@tracer.capture_method
def delete_menu(menu_id: str, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Delete a menu (409 with children)."""
    actions().delete_menu(me, app_name, menu_id)
    return http.ok(router, Deleted())
