"""Password accounts: sign-up, sign-in, profile and password changes.

Sign-in answers the same way, after the same bcrypt work, for an unknown identifier and a wrong password
(no user enumeration). A client never chooses its roles: a new user gets the app's default role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.clock import Clock, IdFactory, iso, new_id, system_clock
from shared.db import keys
from shared.db.codes import CodeUse, CodeUsedError
from shared.db.throttle import ThrottleRepository
from shared.db.users import ClaimTakenError, UserRepository
from shared.domain import Account, ClientInfo, RoleGrant, User, UserRecord
from shared.errors import (
    AppError,
    CaptchaInvalidError,
    CodeInvalidError,
    EmailTakenError,
    InvalidCredentialsError,
    NotFoundError,
    PasswordMismatchError,
    PhoneTakenError,
    RateLimitedError,
    UserDisabledError,
    UsernameTakenError,
    ValidationError,
)
from shared.identifiers import is_valid_username, normalize_email, normalize_phone, username_key
from shared.services.apps import AppDirectory
from shared.services.captcha import CaptchaService
from shared.services.codes import CodeService
from shared.services.passwords import PasswordHasher, PasswordPolicy
from shared.services.sessions import SessionService, TokenPair, authorization_of

NO_SUCH_USER = "-"  # generated ids are hex, so this partition never exists
PROFILE_FIELDS = ("nickname", "real_name", "email", "avatar", "gender", "birthday")


@dataclass
class RegisterCommand:
    username: str
    password: str
    confirm_password: str | None = None
    email: str | None = None
    phone: str | None = None
    nickname: str | None = None
    real_name: str | None = None
    referer_id: str | None = None
    app_name: str | None = None
    email_code: str | None = None
    sms_code: str | None = None


@dataclass
class SignedIn:
    """The result of a sign-in: tokens and the user as seen from the token's app."""

    tokens: TokenPair
    user_info: dict[str, Any]
    created: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        return {**self.tokens.as_data(), "user_info": self.user_info}


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int = 5
    lock_seconds: int = 900


def identifier_claims(identifier: str) -> tuple[list[str], str]:
    """The claim keys an identifier may match (username, email or phone) and its failure-counter key."""
    value = (identifier or "").strip()
    if not value or len(value) > 254:
        return [], ""
    if "@" in value:
        email = normalize_email(value)
        return ([keys.email_claim(email)], email) if email else ([], value.lower())
    claims: list[str] = []
    phone = normalize_phone(value)
    if phone:
        claims.append(keys.phone_claim(phone))
    claims.append(keys.username_claim(username_key(value)))
    return claims, phone or username_key(value)


def identifiers_of(cmd: RegisterCommand) -> tuple[str, str | None, str | None]:
    """The username, email and phone of a sign-up, normalised.

    Raises:
        ValidationError: naming each malformed one.
    """
    errors: dict[str, list[str]] = {}
    username = cmd.username.strip()
    if not is_valid_username(username):
        errors["username"] = ["2-64 letters, digits, _ . - or Chinese characters; not all digits"]
    email = normalize_email(cmd.email) if cmd.email else None
    if cmd.email and email is None:
        errors["email"] = ["invalid email"]
    phone = normalize_phone(cmd.phone) if cmd.phone else None
    if cmd.phone and phone is None:
        errors["phone"] = ["invalid phone number"]
    if errors:
        raise ValidationError(errors)
    return username, email, phone


def claim_error(claim: str) -> AppError:
    """Map a lost identifier claim to its API error."""
    if claim.startswith("EMAIL#"):
        return EmailTakenError()
    if claim.startswith("PHONE#"):
        return PhoneTakenError()
    return UsernameTakenError()


def profile_view(user: User) -> dict[str, Any]:
    """The public profile fields of a user (never the password hash)."""
    return {
        "user_id": user.user_id,
        "username": user.username,
        "nickname": user.nickname,
        "real_name": user.real_name,
        "email": user.email,
        "phone": user.phone,
        "avatar": user.avatar,
        "gender": user.gender,
        "birthday": user.birthday,
        "union_id": user.union_id,
        "referer_id": user.referer_id,
        "department_id": user.department_id,
        "status": user.status,
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at) if user.last_login_at else None,
    }


def user_info(record: UserRecord, app_name: str) -> dict[str, Any]:
    """``user_info`` of API.md section 2: roles and permissions of ``app_name`` only."""
    grants = record.grants_in(app_name)
    _, permissions = authorization_of(grants)
    return {
        **profile_view(record.user),
        "app_name": app_name,
        "roles": [
            {"role_id": g.role_id, "role_code": g.role_code, "role_name": g.role_name, "app_name": g.app_name}
            for g in sorted(grants, key=lambda g: g.role_code)
        ],
        "permissions": permissions,
        "accounts": [
            {
                "provider": a.provider,
                "type": a.account_type,
                "app_id": a.app_id,
                "open_id": a.open_id,
                "nickname": a.nickname,
                "avatar_url": a.avatar_url,
                "created_at": iso(a.created_at),
            }
            for a in record.accounts
        ],
    }


class AccountService:
    def __init__(
        self,
        users: UserRepository,
        apps: AppDirectory,
        sessions: SessionService,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        *,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
        audit_retention_days: int = 180,
        throttle: ThrottleRepository | None = None,
        captchas: CaptchaService | None = None,
        limits: LoginLimits | None = None,
        codes: CodeService | None = None,
    ) -> None:
        self.codes = codes
        self.audit_seconds = audit_retention_days * 24 * 3600
        self.throttle = throttle
        self.captchas = captchas
        self.limits = limits or LoginLimits()
        self.users = users
        self.apps = apps
        self.sessions = sessions
        self.hasher = hasher
        self.policy = policy
        self.clock = clock
        self.ids = ids

    # -- sign-up -------------------------------------------------------------------------------
    def create_user(self, cmd: RegisterCommand, with_password: bool = True) -> User:
        """An admin creates a user: the same checks and claims as a sign-up, no session opened.

        Raises:
            ValidationError, UsernameTakenError, EmailTakenError, PhoneTakenError.
        """
        app_name = self.apps.resolve(cmd.app_name)
        username, email, phone = identifiers_of(cmd)
        if with_password:
            self.policy.check(cmd.password, "password")
        _, grant = self.apps.default_grant(app_name)
        now = self.clock()
        user, claims = self._new_user(cmd, username, email, phone, now, with_password)
        user.last_login_at = None
        accounts = [Account(provider="password", open_id=user.user_id, created_at=now)] if with_password else []
        try:
            self.users.create(user, claims, accounts, [grant], None, self._audit("admin_create", now, ClientInfo()))
        except ClaimTakenError as exc:
            raise claim_error(exc.claim) from exc
        return user

    def register(
        self, cmd: RegisterCommand, client: ClientInfo, extra_grants: list[RoleGrant] | None = None
    ) -> SignedIn:
        """Create a password user with the app's default role and open its first session.

        Raises:
            ValidationError, PasswordMismatchError: bad input.
            UsernameTakenError, EmailTakenError, PhoneTakenError: an identifier is registered.
        """
        app_name = self.apps.resolve(cmd.app_name)
        username, email, phone = identifiers_of(cmd)
        self.policy.check(cmd.password, "password")
        if cmd.confirm_password is not None and cmd.confirm_password != cmd.password:
            raise PasswordMismatchError()

        app, grant = self.apps.default_grant(app_name)
        if app.require_email_verification and email:
            self._require_code("email", email, cmd.email_code, "email_code")
        if app.require_phone_verification and phone:
            self._require_code("sms", phone, cmd.sms_code, "sms_code")
        grants = [grant, *(extra_grants or [])]
        now = self.clock()
        user, claims = self._new_user(cmd, username, email, phone, now, with_password=True)
        account = Account(provider="password", open_id=user.user_id, created_at=now)
        tokens = self.sessions.new(user.user_id, app_name, grants, client)
        try:
            self.users.create(user, claims, [account], grants, tokens.session, self._audit("register", now, client))
        except ClaimTakenError as exc:
            raise claim_error(exc.claim) from exc
        record = UserRecord(user=user, accounts=[account], grants=grants)
        return SignedIn(tokens, user_info(record, app_name), created=True)

    def _new_user(
        self, cmd: RegisterCommand, username: str, email: str | None, phone: str | None, now: float, with_password: bool
    ) -> tuple[User, list[str]]:
        """A new password user and the identifier claims that keep it unique."""
        user = User(
            user_id=self.ids(),
            username=username,
            nickname=(cmd.nickname or username)[:64],
            real_name=cmd.real_name,
            email=email,
            phone=phone,
            referer_id=cmd.referer_id,
            password_hash=self.hasher.hash(cmd.password) if with_password else None,
            created_at=now,
            last_login_at=now,
        )
        claims = [keys.username_claim(username_key(username))]
        claims += [keys.email_claim(email)] if email else []
        claims += [keys.phone_claim(phone)] if phone else []
        return user, claims

    # -- sign-in -------------------------------------------------------------------------------
    def login(
        self,
        identifier: str,
        password: str,
        app_name: str | None,
        client: ClientInfo,
        captcha_key: str | None = None,
        captcha_code: str | None = None,
    ) -> SignedIn:
        """Sign in with username, email or phone and a password.

        Raises:
            RateLimitedError: too many failures for this identifier lately (even with the right password).
            CaptchaInvalidError: the app requires a captcha and this one is missing or wrong.
            InvalidCredentialsError: unknown identifier or wrong password (same answer, same work).
            UserDisabledError: the password was right but the user is disabled.
        """
        app = self.apps.resolve(app_name)
        claims, failures_key = identifier_claims(identifier)
        lookup = self.users.login_lookup(claims, failures_key or NO_SUCH_USER, app)
        now = self.clock()
        if lookup.failures >= self.limits.max_failures and lookup.failures_since is not None:
            retry_after = int(lookup.failures_since + self.limits.lock_seconds - now)
            if retry_after > 0:
                raise RateLimitedError(retry_after)
        if lookup.app is not None and lookup.app.require_captcha:
            if self.captchas is None:
                raise CaptchaInvalidError()
            self.captchas.check(captcha_key, captcha_code)
        # Unknown identifiers still pay the user Query (of an id that cannot exist) and the bcrypt work,
        # so the two cases do the same work and give the same answer.
        record = self.users.load(lookup.user_id or NO_SUCH_USER)
        stored = record.user.password_hash if record else None
        if not self.hasher.verify(password, stored) or record is None:
            if self.throttle is not None and failures_key:
                self.throttle.record_failure(failures_key, now, self.limits.lock_seconds)
            raise InvalidCredentialsError()
        if record.user.status != "active":
            raise UserDisabledError()
        if not record.grants_in(app):
            # First sign-in to this app: the app's default role, like a sign-up would give.
            _, grant = self.apps.default_grant(app)
            self.users.add_grant(record.user.user_id, grant, now)
            record.grants.append(grant)
        clear = failures_key if lookup.failures else None
        return self.open_session(record, app, client, "login", clear_failures=clear)

    def open_session(
        self,
        record: UserRecord,
        app_name: str,
        client: ClientInfo,
        action: str,
        clear_failures: str | None = None,
        consume: CodeUse | None = None,
    ) -> SignedIn:
        """Open a session for an authenticated user (also used by other sign-in methods).

        Raises:
            CodeInvalidError: ``consume`` names a code that was used meanwhile (no session was opened).
        """
        tokens = self.sessions.new(record.user.user_id, app_name, record.grants, client)
        now = tokens.session.created_at
        try:
            self.users.open_session(tokens.session, self._audit(action, now, client), clear_failures, consume)
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc
        record.user.last_login_at = now
        return SignedIn(tokens, user_info(record, app_name))

    # -- profile -------------------------------------------------------------------------------
    def get(self, user_id: str) -> UserRecord:
        record = self.users.load(user_id)
        if record is None:
            raise NotFoundError()
        return record

    def info(self, user_id: str, app_name: str) -> dict[str, Any]:
        return user_info(self.get(user_id), app_name)

    def update_profile(
        self, user_id: str, app_name: str, changes: dict[str, Any], allowed: tuple[str, ...] = PROFILE_FIELDS
    ) -> dict[str, Any]:
        """Change profile fields; a new email moves the email claim atomically.

        Raises:
            EmailTakenError: the email belongs to another user.
        """
        record = self.get(user_id)
        updates = {k: v for k, v in changes.items() if k in allowed}
        swaps: list[tuple[str | None, str | None]] = []
        if "email" in updates:
            if updates["email"] in (None, ""):
                updates["email"] = None
            else:
                email = normalize_email(str(updates["email"]))
                if email is None:
                    raise ValidationError({"email": ["invalid email"]})
                updates["email"] = email
            old = record.user.email
            new = updates["email"]
            if new == old:
                updates.pop("email")
            else:
                swaps.append((keys.email_claim(old) if old else None, keys.email_claim(new) if new else None))
        if updates:
            try:
                self.users.update_profile(user_id, updates, swaps)
            except ClaimTakenError as exc:
                raise claim_error(exc.claim) from exc
            for name, value in updates.items():
                setattr(record.user, name, value)
        return user_info(record, app_name)

    def change_password(self, user_id: str, session_id: str, old: str, new: str, confirm: str | None) -> int:
        """Replace the password and revoke every other session; returns how many were revoked.

        Raises:
            InvalidCredentialsError: ``old`` is wrong.
        """
        record = self.get(user_id)
        self.policy.check(new, "new_password")
        if confirm is not None and confirm != new:
            raise PasswordMismatchError()
        if not self.hasher.verify(old, record.user.password_hash):
            raise InvalidCredentialsError()
        others = self.sessions.other_session_ids(user_id, keep=session_id)
        self.users.set_password(user_id, self.hasher.hash(new), others)
        if len(others) > 99:
            self.sessions.delete_ids(others[99:])
        return len(others)

    def _require_code(self, channel: str, target: str, code: str | None, field: str) -> None:
        """The app verifies this identifier at sign-up: a ``register`` code must prove it."""
        if not code:
            raise ValidationError({field: ["this app requires a verification code"]})
        if self.codes is None:
            raise ValidationError({field: ["verification codes are not available"]})
        self.codes.verify(channel, target, "register", code)

    def set_status(self, user_id: str, status: str) -> int:
        """Enable or disable a user; disabling revokes every session. Returns sessions revoked.

        Raises:
            NotFoundError: no such user.
            ValidationError: unknown status.
        """
        if status not in ("active", "disabled"):
            raise ValidationError({"status": ["active or disabled"]})
        self.get(user_id)
        revoke = self.sessions.other_session_ids(user_id, keep=None) if status == "disabled" else []
        self.users.set_status(user_id, status, revoke)
        if len(revoke) > 99:
            self.sessions.delete_ids(revoke[99:])
        return len(revoke)

    def _audit(self, action: str, now: float, client: ClientInfo) -> dict[str, Any]:
        return {"action": action, "at": now, "id": self.ids(), "ip": client.ip, "ttl": int(now + self.audit_seconds)}
