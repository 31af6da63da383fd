"""The organisation's users, as admins see them (API.md section 4)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared import http
from shared.observability import logger, tracer
from shared.routes.admin_caller import Admin, AppQuery, Filter, PageNumber, PageSize, actions
from shared.schemas import AdminUserCreateBody, AdminUserUpdateBody, ImportBody
from shared.views import AdminUser, Deleted, ExportPage, ImportAnswer, ImportRowResult, MfaReset, ProfilePage

router = http.router()


@router.get("/api/users", **http.requires("perm:system:user:list"), **http.answers(ProfilePage))
@tracer.capture_method
def list_users(
    me: Admin,
    app_name: AppQuery = None,
    page: PageNumber = 1,
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
    return http.ok(router, ProfilePage.of(actions().list_users(me, app_name, query, page_size)))


@router.post(
    "/api/users/create", status_code=201, **http.requires("perm:system:user:add"), **http.answers(AdminUser, 201)
)
@tracer.capture_method
def create_user(body: AdminUserCreateBody, me: Admin, app_name: AppQuery = None) -> Response[str]:
    """Create a user (in app0's organisation) with the app's default role; a password is optional."""
    record = actions().create_user(me, app_name, body)
    logger.info("user created by admin", extra={"user_id": record.user.user_id})
    return http.ok(router, AdminUser.of_record(record, app_name or me.app_name), status=201)


@router.get("/api/users/<user_id>", **http.requires("perm:system:user:query"), **http.answers(AdminUser))
@tracer.capture_method
def get_user(user_id: str, me: Admin) -> Response[str]:
    """A user with roles and accounts."""
    return http.ok(router, AdminUser.of_record(actions().view_user(me, user_id), me.app_name))


@router.put("/api/users/<user_id>/update", **http.requires("perm:system:user:edit"), **http.answers(AdminUser))
@tracer.capture_method
def update_user(user_id: str, body: AdminUserUpdateBody, me: Admin) -> Response[str]:
    """Change a user; identifiers, password and status are app0's (a password set ends the sessions)."""
    record = actions().update_user(me, user_id, body)
    logger.info(
        "user updated by admin", extra={"user_id": user_id, "fields": sorted(body.model_fields_set - {"password"})}
    )
    return http.ok(router, AdminUser.of_record(record, me.app_name))


@router.post("/api/users/import", **http.requires("perm:system:user:add"), **http.answers(ImportAnswer))
@tracer.capture_method
def import_users(body: ImportBody, me: Admin) -> Response[str]:
    """Import up to 1,000 people of the replaced systems, with their password hashes (super admin only):
    a result per row (``created``, ``merged``, ``unchanged``, ``conflict``, ``invalid``); re-sending a row
    changes nothing."""
    results = actions().import_users(me, body)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    logger.info("users imported", extra={"by": me.user_id, "counts": counts, "dry_run": bool(body.dry_run)})
    items = [ImportRowResult(**r.as_data()) for r in results]
    return http.ok(router, ImportAnswer(results=items, counts=counts, dry_run=bool(body.dry_run)))


@router.get("/api/users/export", **http.requires("perm:system:user:list"), **http.answers(ExportPage))
@tracer.capture_method
def export_users(
    me: Admin,
    client: http.Client,
    page_size: Annotated[int, Query(ge=1, le=500)] = 200,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response[str]:
    """Every user as import rows, with the password hash (super admin only): follow ``next_cursor``."""
    rows, next_cursor = actions().export_users(me, page_size, cursor, client)
    logger.info("users exported", extra={"by": me.user_id, "rows": len(rows)})
    return http.ok(router, ExportPage(items=rows, next_cursor=next_cursor), no_store=True)


@router.post("/api/users/<user_id>/mfa/reset", **http.requires("perm:system:user:edit"), **http.answers(MfaReset))
@tracer.capture_method
def reset_mfa(user_id: str, me: Admin, client: http.Client) -> Response[str]:
    """Turn a user's second factor off (their device is lost): managed from app0, like identifiers."""
    was_on = actions().reset_mfa(me, user_id, client)
    logger.info("second factor reset by admin", extra={"user_id": user_id, "was_on": was_on})
    return http.ok(router, MfaReset(reset=was_on))


@router.delete("/api/users/<user_id>/delete", **http.requires("perm:system:user:remove"), **http.answers(Deleted))
@tracer.capture_method
def delete_user(user_id: str, me: Admin) -> Response[str]:
    """Remove a user with its role links, identifier claims and sessions."""
    actions().delete_user(me, user_id)
    logger.info("user deleted by admin", extra={"user_id": user_id})
    return http.ok(router, Deleted())
