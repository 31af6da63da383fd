"""Role grants of users, per app: assign (creating the role if missing), remove, replace, check.

A grant is written on the user item (``roles``) with its membership link, in one transaction; no
session is written, because sessions carry no rights: the authorizer reads the user item and the app's
role definitions with every request. So a change reaches every session of the user at once (within
the authorizer's cache time), however many there are, including sessions being opened right now (a
sign-in writes its session only if the user item is unchanged since it read it). Only holders of
``perm:system:user:role`` reach these operations (the admin-scope rule decides first).
"""

from __future__ import annotations

from shared.clock import Clock, system_clock
from shared.db.users import StaleRecordError, UserRepository
from shared.domain import RoleGrant, UserRecord
from shared.errors import NotFoundError, ServiceUnavailableError
from shared.services.apps import AppDirectory, check_role_code

ATTEMPTS = 3


class RoleService:
    def __init__(self, users: UserRepository, apps: AppDirectory, clock: Clock = system_clock) -> None:
        self.users = users
        self.apps = apps
        self.clock = clock

    def _user(self, user_id: str, app_name: str) -> UserRecord:
        record = self.users.load(user_id, apps=[app_name])
        if record is None:
            raise NotFoundError()
        return record

    def assign(self, user_id: str, app_name: str, role_code: str) -> RoleGrant:
        """Give ``user_id`` the role (created in the app if missing); idempotent.

        Raises:
            NotFoundError: no such user or app.
        """
        app = self.apps.resolve(app_name)
        self.apps.get(app)
        grant = self.apps.grant_of(app, check_role_code(role_code, "role_name"))
        self.change(user_id, app, add=[grant], remove=[])
        return grant

    def remove(self, user_id: str, app_name: str, role_codes: list[str]) -> int:
        """Take roles away (the roles themselves stay); returns how many the user had."""
        app = self.apps.resolve(app_name)
        held = set(self._user(user_id, app).roles.get(app, {}))
        gone = [code for code in dict.fromkeys(role_codes) if code in held]
        if gone:
            self.change(user_id, app, add=[], remove=gone)
        return len(gone)

    def replace(self, user_id: str, app_name: str, role_codes: list[str]) -> list[RoleGrant]:
        """Make the user's roles in the app exactly ``role_codes`` (each must exist)."""
        app = self.apps.resolve(app_name)
        wanted = list(dict.fromkeys(check_role_code(c, "role_codes") for c in role_codes))
        defs = self.apps.defs_of(app)
        missing = [code for code in wanted if code not in defs.defs]
        if missing:
            raise NotFoundError(f"role {missing[0]}")
        grants = defs.grants({code: defs.defs[code].epoch for code in wanted})
        self.change(user_id, app, add=grants, remove=None)
        return grants

    def has_role(self, user_id: str, app_name: str, role_code: str) -> bool:
        app = self.apps.resolve(app_name)
        return any(g.role_code == role_code for g in self._user(user_id, app).grants_in(app))

    def change(self, user_id: str, app_name: str, add: list[RoleGrant], remove: list[str] | None) -> None:
        """Add grants and remove role codes (``None``: every role of the app not in ``add``), on the
        user item as it is now (read again should another change land first).

        Raises:
            NotFoundError: no such user.
            ServiceUnavailableError: the user kept changing underneath.
        """
        for _ in range(ATTEMPTS):
            record = self._user(user_id, app_name)
            held = record.roles.get(app_name, {})
            adding = {g.role_code for g in add}
            gone = [c for c in held if c not in adding] if remove is None else [c for c in remove if c in held]
            fresh = [g for g in add if held.get(g.role_code) != g.epoch]
            if not fresh and not gone:
                return
            try:
                self.users.change_grants(record, fresh, [(app_name, c) for c in gone], self.clock())
                return
            except StaleRecordError:
                continue
        raise ServiceUnavailableError()
