"""Role grants of users, per app: assign (creating the role if missing), remove, replace, check.

Every change also rewrites the user's sessions in that app (their authorization snapshot), in the same
transaction, so revocation reaches the authorizer within its cache time. Only holders of
``perm:system:user:role`` reach these operations (the route map says so); a client never picks its own.
"""

from __future__ import annotations

from shared.clock import Clock, system_clock
from shared.db.grants import GrantRepository, SessionGrants, StaleSessionsError
from shared.db.sessions import SessionRepository
from shared.db.users import UserRepository
from shared.domain import RoleGrant, UserRecord
from shared.errors import NotFoundError, ServiceUnavailableError
from shared.services.apps import AppDirectory, check_role_code
from shared.services.sessions import authorization_of

ATTEMPTS = 3


class RoleService:
    def __init__(
        self,
        users: UserRepository,
        sessions: SessionRepository,
        grants: GrantRepository,
        apps: AppDirectory,
        clock: Clock = system_clock,
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.grants = grants
        self.apps = apps
        self.clock = clock

    def _user(self, user_id: str) -> UserRecord:
        record = self.users.load(user_id)
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
        held = {g.role_code for g in self._user(user_id).grants_in(app)}
        gone = [code for code in dict.fromkeys(role_codes) if code in held]
        if gone:
            self.change(user_id, app, add=[], remove=gone)
        return len(gone)

    def replace(self, user_id: str, app_name: str, role_codes: list[str]) -> list[RoleGrant]:
        """Make the user's roles in the app exactly ``role_codes`` (each must exist)."""
        app = self.apps.resolve(app_name)
        wanted = list(dict.fromkeys(check_role_code(c, "role_codes") for c in role_codes))
        grants = []
        for code in wanted:
            role = self.apps.apps.get_role(app, code)
            if role is None:
                raise NotFoundError(f"role {code}")
            grants.append(RoleGrant(app, role.role_code, role.role_id, role.role_name, list(role.permissions)))
        held = {g.role_code for g in self._user(user_id).grants_in(app)}
        self.change(user_id, app, add=grants, remove=[c for c in held if c not in wanted])
        return grants

    def has_role(self, user_id: str, app_name: str, role_code: str) -> bool:
        app = self.apps.resolve(app_name)
        return any(g.role_code == role_code for g in self._user(user_id).grants_in(app))

    def change(self, user_id: str, app_name: str, add: list[RoleGrant], remove: list[str]) -> None:
        """Write grant changes and the user's sessions in ``app_name`` together.

        Raises:
            NotFoundError: no such user.
            ServiceUnavailableError: sessions kept changing underneath (after a few attempts).
        """
        for _ in range(ATTEMPTS):
            record = self._user(user_id)
            after = {g.role_code: g for g in record.grants_in(app_name) if g.role_code not in remove}
            after.update({g.role_code: g for g in add})
            roles, permissions = authorization_of(list(after.values()))
            sessions = [
                SessionGrants(s.session_id, roles, permissions)
                for s in self.sessions.list_for_user(user_id)
                if s.app_name == app_name
            ]
            try:
                self.grants.change(user_id, add, [(app_name, c) for c in remove], sessions, self.clock())
                return
            except StaleSessionsError:
                continue
        raise ServiceUnavailableError()
