"""Apps: their settings, default role and allowed origins (API.md section 4); WeChat secrets are
write-only."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.observability import logger, tracer
from shared.routes.admin_caller import Admin, actions
from shared.schemas import AppBody
from shared.views import AppList, AppView

router = http.router()


@router.get("/api/apps", **http.requires("perm:system:app:manage"), **http.answers(AppList))
@tracer.capture_method
def list_apps(me: Admin) -> Response[str]:
    """The apps (the super admin sees every one; an app's admins theirs)."""
    return http.ok(router, AppList(items=[AppView.of(a) for a in actions().list_apps(me)]))


@router.post(
    "/api/apps/create", status_code=201, **http.requires("perm:system:app:manage"), **http.answers(AppView, 201)
)
@tracer.capture_method
def create_app(body: AppBody, me: Admin) -> Response[str]:
    """Create an app (super admin)."""
    created = actions().create_app(me, body)
    logger.info("app created", extra={"app_name": created.app_name})
    return http.ok(router, AppView.of(created), status=201)


@router.put("/api/apps/<app_name>/update", **http.requires("perm:system:app:manage"), **http.answers(AppView))
@tracer.capture_method
def update_app(app_name: str, body: AppBody, me: Admin) -> Response[str]:
    """Change an app's settings (its default role never holds a ``system:*`` permission)."""
    return http.ok(router, AppView.of(actions().update_app(me, app_name, body)))
