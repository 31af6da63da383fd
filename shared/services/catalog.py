"""Built-in permission codes and roles (API.md sections 2 and 4).

The super-admin role (``admin`` in ``app0``) holds every ``system:*`` permission; every app's default
role (``l0`` unless configured) holds none and only marks the user as signed up in that app.
"""

from __future__ import annotations

from shared.domain import Role

SYSTEM_PERMISSIONS: tuple[str, ...] = tuple(
    f"system:{resource}:{action}"
    for resource, actions in (
        ("user", ("list", "add", "query", "edit", "remove", "role")),
        ("role", ("list", "add", "query", "edit", "remove", "menu")),
        ("menu", ("list", "add", "query", "edit", "remove")),
        ("dept", ("list", "add", "query", "edit", "remove")),
        ("app", ("manage",)),
    )
    for action in actions
)

SUPER_ADMIN_APP = "app0"
SUPER_ADMIN_ROLE = "admin"
ROLE_NAMES = {"admin": "管理员", "l0": "普通用户"}


def admin_permissions(permissions: list[str] | tuple[str, ...]) -> list[str]:
    """The ``system:*`` permissions among ``permissions``: what makes a role an admin role."""
    return sorted(p for p in permissions if p.startswith("system:"))


def role_id(app_name: str, role_code: str) -> str:
    """Role ids are ``<app>:<code>``: stable, and a role is found from its id with one GetItem."""
    return f"{app_name}:{role_code}"


def builtin_role(app_name: str, role_code: str) -> Role:
    """The role to create when a built-in or default role is first needed."""
    permissions = list(SYSTEM_PERMISSIONS) if (app_name, role_code) == (SUPER_ADMIN_APP, SUPER_ADMIN_ROLE) else []
    return Role(
        role_id=role_id(app_name, role_code),
        app_name=app_name,
        role_code=role_code,
        role_name=ROLE_NAMES.get(role_code, role_code),
        permissions=permissions,
    )
