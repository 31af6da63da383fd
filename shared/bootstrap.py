"""One-time setup: the super admin of ``app0`` (local ``ADMIN_USERNAME``/``ADMIN_PASSWORD``, or the
``scripts/create_admin.py`` after a deploy)."""

from __future__ import annotations

from shared.container import Services
from shared.db import keys
from shared.domain import ClientInfo
from shared.errors import UsernameTakenError
from shared.identifiers import username_key
from shared.services.accounts import RegisterCommand
from shared.services.catalog import SUPER_ADMIN_APP, SUPER_ADMIN_ROLE


def ensure_super_admin(services: Services, username: str, password: str) -> bool:
    """Create ``username`` with the super-admin role unless the name is taken; True when created."""
    if services.users.find_user_id([keys.username_claim(username_key(username))]):
        return False
    admin = services.apps.grant_of(SUPER_ADMIN_APP, SUPER_ADMIN_ROLE)
    command = RegisterCommand(username=username, password=password, app_name=SUPER_ADMIN_APP)
    try:
        services.accounts.register(command, ClientInfo(user_agent="bootstrap"), extra_grants=[admin])
    except UsernameTakenError:
        return False
    return True
