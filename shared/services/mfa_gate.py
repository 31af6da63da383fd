"""The second-factor step of a sign-in: who needs one, and the waiting sign-in that ``mfa_token`` names.

Every sign-in method (password, phone code, WeChat) ends in ``AccountService.sign_in``, which asks
:meth:`MfaGate.challenge` before it opens a session. A user with TOTP on, or one the app's
``require_mfa`` covers (``admins``: holders of any ``system:*`` permission in the app; ``all``), gets no
tokens: :class:`MfaRequired` carries an ``mfa_token`` (256 random bits, stored as its SHA-256, 5 minutes,
single use) and the methods that can finish the sign-in (``enroll`` when the user must first set up TOTP).
The first step's code, if any, is consumed with the waiting sign-in; its lockout attempt is not cleared
until the second step succeeds, so passwords and codes share one counter.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, NoReturn

from shared.clock import Clock, system_clock
from shared.db.codes import CodeUsedError, Consumable
from shared.db.mfa import MfaRepository
from shared.db.users import UserItemChange
from shared.domain import ClientInfo, RoleGrant, User, UserRecord
from shared.errors import CodeInvalidError, MfaRequired
from shared.services.apps import AppDirectory

TICKET_SECONDS = 300
AMR = {"login": "pwd", "phone_login": "sms", "wechat_login": "wechat"}  # first factors, RFC 8176 names


def token_hash(mfa_token: str) -> str:
    return hashlib.sha256(mfa_token.encode()).hexdigest()


def is_admin(record: UserRecord, app_name: str, extra: Sequence[RoleGrant] = ()) -> bool:
    """Holds any ``system:*`` permission in ``app_name`` (the grants it signs in with included)."""
    grants = [*record.grants_in(app_name), *(g for g in extra if g.app_name == app_name)]
    return any(p.startswith("system:") for g in grants for p in g.permissions)


def account_label(record: UserRecord) -> str:
    """How an authenticator app lists the account."""
    user = record.user
    return user.username or user.email or user.phone or user.user_id


class MfaGate:
    def __init__(self, apps: AppDirectory, repo: MfaRepository, clock: Clock = system_clock) -> None:
        self.apps = apps
        self.repo = repo
        self.clock = clock

    def methods(self, record: UserRecord, app_name: str, extra: Sequence[RoleGrant] = ()) -> list[str]:
        """How this user finishes a sign-in to ``app_name``: empty when no second factor is due."""
        if record.mfa.enabled:
            return ["totp"] + (["recovery_code"] if record.mfa.recovery_codes else [])
        rule = self.rule(app_name)
        if rule == "all" or (rule == "admins" and is_admin(record, app_name, extra)):
            return ["enroll"]
        return []

    def rule(self, app_name: str) -> str:
        """The app's ``require_mfa`` (its settings come from the container's cache: no round trip)."""
        settings = self.apps.settings_of(app_name)
        return settings.require_mfa if settings is not None else "none"

    def covers_new(self, app_name: str, grants: Sequence[RoleGrant]) -> bool:
        """A user about to be created with ``grants`` must enrol before getting tokens (``require_mfa``):
        the sign-up then writes the user without a session and :meth:`challenge` holds the sign-in."""
        return bool(self.methods(UserRecord(user=User(user_id=""), grants=list(grants)), app_name))

    def challenge(
        self,
        record: UserRecord,
        app_name: str,
        client: ClientInfo,
        action: str,
        consume: Consumable | None,
        extra: Sequence[RoleGrant],
        scope: Sequence[str],
        changes: Sequence[UserItemChange] = (),
    ) -> None:
        """Return when no second factor is due; else keep the sign-in waiting and raise (``changes``: what
        the first step writes on the user item, such as a password rehashed, written with the waiting
        sign-in).

        Raises:
            MfaRequired: with the new ``mfa_token``.
            CodeInvalidError: ``consume`` names a code used meanwhile.
        """
        methods = self.methods(record, app_name, extra)
        if not methods:
            return
        data = {
            "action": action,
            "amr": [AMR.get(action, action)],
            "ip": client.ip,
            "user_agent": client.user_agent,
            "grants": [asdict(g) for g in extra],
            "scope": list(scope),
        }
        self.hold(record, app_name, methods, [consume] if consume else [], data, changes)

    def hold(
        self,
        record: UserRecord,
        app_name: str,
        methods: list[str],
        consume: Sequence[Consumable],
        data: dict[str, Any],
        changes: Sequence[UserItemChange] = (),
    ) -> NoReturn:
        """Keep a sign-in waiting for ``methods`` (``data``: what finishing it needs; ``center``: it opens
        a center session, not an app session), the first step's code consumed with it.

        Raises:
            MfaRequired: always, with the new ``mfa_token``; CodeInvalidError: the code was used meanwhile;
            StaleRecordError: a change's condition failed (the user changed meanwhile: read again).
        """
        mfa_token = secrets.token_urlsafe(32)
        ticket = {
            **data,
            "user_id": record.user.user_id,
            "app_name": app_name,
            "enroll": methods == ["enroll"],
            "label": account_label(record),
        }
        try:
            self.repo.put_ticket(
                token_hash(mfa_token), ticket, self.clock() + TICKET_SECONDS, consume, record.user.user_id, changes
            )
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc
        raise MfaRequired(mfa_token, methods)
