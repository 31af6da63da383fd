"""Apps: the unit that isolates roles. ``app0`` exists from the start, even before it has an item.

Each app has settings (display name, default role, allowed callback origins, captcha and verification
switches, WeChat AppIDs) and its own roles; a grant in one app never counts in another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.config import Settings
from shared.db.apps import AppRepository, RoleDefsChangedError
from shared.domain import AppConfig, Role, RoleDefs, RoleGrant
from shared.errors import AppError, ConfigurationError, NotFoundError, ServiceUnavailableError, ValidationError
from shared.services.catalog import admin_permissions, builtin_role
from shared.urls import parse_origin, url_origin

if TYPE_CHECKING:
    from shared.schemas import AppBody


APP_NAME_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
ROLE_CODE_RE = re.compile(r"[A-Za-z0-9_\-.]{1,64}")
WECHAT_TYPES = ("web", "mp", "miniapp", "app")
ATTEMPTS = 3


class AppExistsError(AppError):
    code, status = "APP_EXISTS", 409
    message_zh, message_en = "应用已存在", "App already exists"


def check_role_code(code: str, field: str = "role_code") -> str:
    if not ROLE_CODE_RE.fullmatch(code or ""):
        raise ValidationError({field: ["1-64 letters, digits, _ - or ."]})
    return code


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]``, lower-cased, or a ValidationError (``shared.urls.parse_origin``)."""
    return parse_origin(origin, "allowed_callback_origins")


def client_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def client_secret_matches(app: AppConfig, presented: str | None) -> bool:
    """A confidential client's secret, compared in constant time."""
    if not app.client_secret_hash or not presented:
        return False
    return hmac.compare_digest(client_secret_hash(presented), app.client_secret_hash)


def origin_allowed(url: str, origins: list[str]) -> bool:
    """True when ``url``'s origin is one of ``origins`` (no open redirects; a URL with control characters,
    userinfo or a malformed host has no origin)."""
    origin = url_origin(url)
    return origin is not None and origin in origins


class AppDirectory:
    """App settings, role definitions, default roles and the admin operations on apps."""

    def __init__(
        self, apps: AppRepository, settings: Settings, clock: Clock = system_clock, ids: IdFactory = new_id
    ) -> None:
        self.apps = apps
        self.settings = settings
        self.clock = clock
        self.ids = ids

    def resolve(self, app_name: str | None) -> str:
        name = (app_name or self.settings.default_app).strip()
        if not APP_NAME_RE.fullmatch(name):
            raise ValidationError({"app_name": ["invalid app name"]})
        return name

    def _builtin(self, app_name: str) -> AppConfig:
        return AppConfig(app_name=app_name, display_name=app_name, default_role=self.settings.default_role)

    def get(self, app_name: str, fresh: bool = False) -> AppConfig:
        """The app's settings (from the container's cache unless ``fresh``: ``AppRepository.get_app``).

        Raises:
            NotFoundError: no such app (``app0`` always exists).
        """
        app = self.apps.get_app(app_name, fresh=fresh)
        if app is None:
            if app_name != self.settings.default_app:
                raise NotFoundError()
            app = self._builtin(app_name)
        return app

    def settings_of(self, app_name: str) -> AppConfig | None:
        """The app's settings from the container's cache; None for an app without an item."""
        return self.apps.get_app(app_name)

    def default_grant(self, app_name: str) -> tuple[AppConfig, RoleGrant]:
        """The app's settings and the grant every new user of it receives (role created if missing).

        Raises:
            ValidationError: the app does not exist.
        """
        app, defs = self.apps.get_app_and_defs(app_name)  # settings cached; any copy of the definitions
        return self.default_grant_from(app_name, app, defs)

    def default_grant_from(self, app_name: str, app: AppConfig | None, defs: RoleDefs) -> tuple[AppConfig, RoleGrant]:
        """:meth:`default_grant` from an app item and role definitions already read (reads more only when
        the default role does not exist yet).

        Raises:
            ValidationError: the app does not exist.
            ConfigurationError: the default role holds ``system:*`` permissions (signing up never makes
                anyone an admin; the admin API refuses this, so only data written by other means can).
        """
        if app is None:
            if app_name != self.settings.default_app:
                raise ValidationError({"app_name": ["unknown app"]})
            app = self._builtin(app_name)
        code = app.default_role or self.settings.default_role
        if code not in defs.defs:
            defs = self.ensure_role(app_name, code, with_permissions=False)
        grant = defs.grants({code: defs.defs[code].epoch})[0]
        if admin_permissions(list(defs.defs[code].permissions)):
            raise ConfigurationError(f"the default role {app_name}:{code} holds system:* permissions")
        return app, grant

    def default_role_of(self, app_name: str) -> str:
        """The code of the role every new user of the app receives."""
        return self.get(app_name).default_role or self.settings.default_role

    def grant_of(self, app_name: str, role_code: str) -> RoleGrant:
        """A grant of a role, creating the role when missing (assign-role, bootstrap, dev shortcuts)."""
        defs = self.ensure_role(app_name, role_code)
        return defs.grants({role_code: defs.defs[role_code].epoch})[0]

    def role(self, app_name: str, role_code: str) -> Role | None:
        """A role's record (menus, status, permissions), or None."""
        return self.apps.get_role(app_name, role_code)

    def defs_of(self, app_name: str) -> RoleDefs:
        return self.apps.get_defs([app_name])[app_name]

    def ensure_role(self, app_name: str, role_code: str, with_permissions: bool = True) -> RoleDefs:
        """The app's role definitions, with ``role_code`` in them: a missing role is created (the
        built-in one: no permissions, or every ``system:*`` for ``app0``'s ``admin`` when
        ``with_permissions``); a role recorded before definitions existed gets its definition."""
        for _ in range(ATTEMPTS):
            defs = self.defs_of(app_name)
            if role_code in defs.defs:
                return defs
            role = self.apps.get_role(app_name, role_code)
            try:
                if role is None:
                    role = builtin_role(app_name, role_code)
                    if not with_permissions:
                        role.permissions = []
                    role.epoch = self.ids()[:8]
                    self.apps.write_role(role, defs, self.clock())
                else:
                    fixed = replace(role, epoch=role.epoch or self.ids()[:8])
                    self.apps.write_role(fixed, defs, self.clock(), expected=role)
            except RoleDefsChangedError:
                continue  # created meanwhile (a concurrent first sign-up): read again
        defs = self.defs_of(app_name)
        if role_code not in defs.defs:
            raise ServiceUnavailableError()
        return defs

    # -- admin ---------------------------------------------------------------------------------------
    def list(self) -> list[AppConfig]:
        apps = {a.app_name: a for a in self.apps.list_apps()}
        apps.setdefault(self.settings.default_app, self._builtin(self.settings.default_app))
        return [apps[name] for name in sorted(apps)]

    def create(self, command: AppBody) -> AppConfig:
        """Create an app.

        Raises:
            AppExistsError: the name is taken (``app0`` always is).
            ValidationError: bad fields.
        """
        fields = command.changes()
        name = self.resolve(str(fields.get("app_name") or ""))
        app = self._apply(self._builtin(name), fields)
        if name == self.settings.default_app or not self.apps.create_app(app, self.clock()):
            raise AppExistsError()
        return app

    def update(self, app_name: str, change: AppBody) -> AppConfig:
        """Change an app's settings (``app0`` gets its item on its first update).

        Raises:
            NotFoundError: no such app.
        """
        app = self._apply(self.get(self.resolve(app_name), fresh=True), change.changes())
        if not self.apps.update_app(app):
            if app_name != self.settings.default_app:
                raise NotFoundError()
            self.apps.create_app(app, self.clock())
            self.apps.update_app(app)
        return app

    def _apply(self, app: AppConfig, fields: dict[str, Any]) -> AppConfig:
        changes: dict[str, Any] = {}
        if "display_name" in fields:
            changes["display_name"] = fields["display_name"]
        if fields.get("default_role"):
            code = check_role_code(str(fields["default_role"]), "default_role")
            role = self.apps.get_role(app.app_name, code) or builtin_role(app.app_name, code)
            if admin_permissions(list(role.permissions)):
                raise ValidationError({"default_role": ["a role with system:* permissions cannot be the default"]})
            changes["default_role"] = code
        if "allowed_callback_origins" in fields:
            origins = fields["allowed_callback_origins"] or []
            changes["allowed_callback_origins"] = sorted({normalize_origin(str(o)) for o in origins})
        for flag in ("require_captcha", "require_email_verification", "require_phone_verification"):
            if flag in fields and fields[flag] is not None:
                changes[flag] = bool(fields[flag])
        if fields.get("require_mfa"):
            changes["require_mfa"] = str(fields["require_mfa"])
        if "wechat" in fields:
            wechat = fields["wechat"] or {}
            unknown = set(wechat) - {f"{t}_app_id" for t in WECHAT_TYPES}
            if unknown:
                raise ValidationError({"wechat": [f"unknown keys: {sorted(unknown)} (secrets go to SSM)"]})
            changes["wechat"] = {k: str(v) for k, v in wechat.items() if v}
        for uris in ("redirect_uris", "post_logout_redirect_uris"):
            if uris in fields:
                changes[uris] = list(dict.fromkeys(str(u) for u in fields[uris] or []))
        if "backchannel_logout_uri" in fields:
            changes["backchannel_logout_uri"] = fields["backchannel_logout_uri"] or None
        if fields.get("client_type"):
            changes["client_type"] = str(fields["client_type"])
        return self._client_secret(replace(app, **changes), bool(fields.get("rotate_client_secret")))

    @staticmethod
    def _client_secret(app: AppConfig, rotate: bool) -> AppConfig:
        """A confidential client gets a secret when it has none (or on ``rotate``), answered once and stored
        as its SHA-256 (256 random bits need no slow hash); a public client keeps none.

        Raises:
            ValidationError: ``rotate`` for a public client.
        """
        if app.client_type != "confidential":
            if rotate:
                raise ValidationError({"rotate_client_secret": ["a public client has no secret"]})
            return replace(app, client_secret_hash=None)
        if app.client_secret_hash and not rotate:
            return app
        secret = secrets.token_urlsafe(32)
        return replace(app, client_secret_hash=client_secret_hash(secret), issued_client_secret=secret)
