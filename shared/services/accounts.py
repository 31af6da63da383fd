"""Password accounts: sign-up, sign-in, profile and password changes.

Sign-in answers the same way, after the same bcrypt work, for an unknown identifier and a wrong password
(no user enumeration). A client never chooses its roles: a new user gets the app's default role.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db import keys
from shared.db.codes import CodeUse, CodeUsedError, Consumable
from shared.db.lockout import Locked, LockoutRepository
from shared.db.models import UserItem
from shared.db.table import conflict_backoff
from shared.db.throttle import ThrottleRepository
from shared.db.users import (
    ClaimTakenError,
    PasswordRehash,
    StaleRecordError,
    UserItemChange,
    UserRepository,
    login_time_due,
    roles_of,
)
from shared.domain import Account, ClientInfo, RoleGrant, Session, User, UserRecord
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
    ServiceUnavailableError,
    UserDisabledError,
    UsernameTakenError,
    ValidationError,
)
from shared.identifiers import is_valid_username, normalize_email, normalize_phone, username_key
from shared.services.apps import AppDirectory
from shared.services.captcha import CaptchaService
from shared.services.codes import CodeService
from shared.services.mfa_gate import MfaGate
from shared.services.passwords import PasswordHasher, PasswordPolicy
from shared.services.sessions import SessionService, TokenPair

ATTEMPTS = 3
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
    """The result of a sign-in: the tokens, and the user item as it is after the sign-in (its grants
    resolved for ``app_name``, the token's app)."""

    tokens: TokenPair
    record: UserRecord
    app_name: str
    created: bool = False

    @property
    def user_id(self) -> str:
        return self.record.user.user_id


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
    username, email, phone = normalized_identifiers(cmd.username, cmd.email, cmd.phone, errors)
    if errors:
        raise ValidationError(errors)
    return username or "", email, phone


def normalized_identifiers(
    username: str | None, email: str | None, phone: str | None, errors: dict[str, list[str]]
) -> tuple[str | None, str | None, str | None]:
    """A username (stripped), email and phone normalised; each malformed one (given, not valid) is added
    to ``errors`` (sign-up, an admin's new user, an imported row)."""
    name = username.strip() if username is not None else None
    if name is not None and not is_valid_username(name):
        errors["username"] = ["2-64 letters, digits, _ . - or Chinese characters; not all digits"]
    normal_email = normalize_email(email) if email else None
    if email and normal_email is None:
        errors["email"] = ["invalid email"]
    normal_phone = normalize_phone(phone) if phone else None
    if phone and normal_phone is None:
        errors["phone"] = ["invalid phone number"]
    return name, normal_email, normal_phone


def claim_error(claim: str) -> AppError:
    """Map a lost identifier claim to its API error."""
    if claim.startswith("EMAIL#"):
        return EmailTakenError()
    if claim.startswith("PHONE#"):
        return PhoneTakenError()
    return UsernameTakenError()


class PasswordCheck:
    """A sign-in's password check, run on every read of the user (a retry re-reads it): the password is
    the user's (each stored hash verified once) and the user is active; and, when the hash verified is
    an imported legacy one or bcrypt at another cost, its replacement (bcrypt at the configured cost,
    made once) to write with the sign-in, only while the hash is still that one."""

    def __init__(self, hasher: PasswordHasher, password: str) -> None:
        self.hasher = hasher
        self.password = password
        self.verified: set[str | None] = set()
        self.rehashed: dict[str, str | None] = {}

    def __call__(self, current: UserRecord) -> None:
        stored = current.user.password_hash
        if stored not in self.verified:
            if not self.hasher.verify(self.password, stored):
                raise InvalidCredentialsError()
            self.verified.add(stored)
        if current.user.status != "active":
            raise UserDisabledError()

    def rehash(self, current: UserRecord) -> PasswordRehash | None:
        stored = current.user.password_hash
        if stored is None or stored not in self.verified:
            return None
        if stored not in self.rehashed:
            self.rehashed[stored] = self.hasher.upgrade(self.password, stored)
        new = self.rehashed[stored]
        return PasswordRehash(stored, new) if new is not None else None


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
        lockout: LockoutRepository | None = None,
        max_sessions: int = 100,
        gate: MfaGate | None = None,
    ) -> None:
        self.gate = gate
        self.codes = codes
        self.lockout = lockout or LockoutRepository()
        self.max_sessions = max_sessions
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
    def create_user(self, cmd: RegisterCommand, with_password: bool = True, vouched: bool = False) -> User:
        """An admin creates a user: the same checks and claims as a sign-up, no session opened.
        ``vouched``: the admin has the permission in app0, so the email and phone count as proven.

        Raises:
            ValidationError, UsernameTakenError, EmailTakenError, PhoneTakenError.
        """
        app_name = self.apps.resolve(cmd.app_name)
        username, email, phone = identifiers_of(cmd)
        if with_password:
            self.policy.check(cmd.password, "password")
        self._check_referer(cmd.referer_id)
        _, grant = self.apps.default_grant(app_name)
        now = self.clock()
        user, claims = self._new_user(cmd, username, email, phone, now, with_password)
        user.last_login_at = None
        user.email_verified, user.phone_verified = bool(email and vouched), bool(phone and vouched)
        accounts = [Account(provider="password", open_id=user.user_id, created_at=now)] if with_password else []
        try:
            self.users.create(
                user, claims, accounts, [grant], None, self.audit_event("admin_create", now, ClientInfo())
            )
        except ClaimTakenError as exc:
            raise claim_error(exc.claim) from exc
        return user

    def register(
        self, cmd: RegisterCommand, client: ClientInfo, extra_grants: list[RoleGrant] | None = None
    ) -> SignedIn:
        """Create a password user with the app's default role and open its first session.

        An email or phone given with the code the app asks for is proven; without one it is recorded
        unproven (API.md section 7), and whoever later proves it by code takes it over safely.

        Raises:
            ValidationError, PasswordMismatchError: bad input (an unknown ``referer_id`` too).
            UsernameTakenError, EmailTakenError, PhoneTakenError: an identifier is registered.
            MfaRequired: the app requires a second factor of everyone: the user is created, and enrols
                before the first session.
        """
        extra = extra_grants or []
        app_name = self.apps.resolve(cmd.app_name)
        gate = self.gate
        # (the rule first: it is cached, the default role's grant is a read)
        if (
            gate is not None
            and gate.rule(app_name) != "none"
            and gate.covers_new(app_name, [self.apps.default_grant(app_name)[1], *extra])
        ):
            _, record, _ = self._sign_up(cmd, client, extra, with_session=False)
            gate.challenge(record, app_name, client, "register", None, [], [])
        app_name, record, tokens = self._sign_up(cmd, client, extra, with_session=True)
        assert tokens is not None  # noqa: S101 - with_session
        return SignedIn(tokens, record, app_name, created=True)

    def sign_up(self, cmd: RegisterCommand, client: ClientInfo) -> UserRecord:
        """:meth:`register` without an app session: the sign-in center's page, which opens its own.

        Raises:
            as :meth:`register`.
        """
        return self._sign_up(cmd, client, [], with_session=False)[1]

    def _sign_up(
        self, cmd: RegisterCommand, client: ClientInfo, extra_grants: list[RoleGrant], with_session: bool
    ) -> tuple[str, UserRecord, TokenPair | None]:
        app_name = self.apps.resolve(cmd.app_name)
        username, email, phone = identifiers_of(cmd)
        self.policy.check(cmd.password, "password")
        if cmd.confirm_password is not None and cmd.confirm_password != cmd.password:
            raise PasswordMismatchError()
        self._check_referer(cmd.referer_id)
        app, grant = self.apps.default_grant(app_name)
        uses: list[CodeUse] = []  # used in the sign-up's transaction: a failure leaves them for a retry
        if app.require_email_verification and email:
            uses.append(self._require_code("email", email, cmd.email_code, "email_code"))
        if app.require_phone_verification and phone:
            uses.append(self._require_code("sms", phone, cmd.sms_code, "sms_code"))
        email_proven = any(use.target == email for use in uses)
        phone_proven = any(use.target == phone for use in uses)
        grants = [grant, *extra_grants]
        now = self.clock()
        user, claims = self._new_user(cmd, username, email, phone, now, with_password=True)
        user.email_verified, user.phone_verified = email_proven, phone_proven
        account = Account(provider="password", open_id=user.user_id, created_at=now)
        tokens = self.sessions.new(user.user_id, app_name, grants, client) if with_session else None
        session = tokens.session if tokens is not None else None
        try:
            self.users.create(user, claims, [account], grants, session, self.audit_event("register", now, client), uses)
        except ClaimTakenError as exc:
            raise claim_error(exc.claim) from exc
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc
        record = UserRecord(user=user, accounts=[account], grants=grants, roles=roles_of(grants))
        return app_name, record, tokens

    def _check_referer(self, referer_id: str | None) -> None:
        """Raises: ValidationError: ``referer_id`` names nobody (API.md section 7)."""
        if referer_id is not None and self.users.load(str(referer_id), apps=[]) is None:
            raise ValidationError({"referer_id": ["no such user"]})

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
        """Sign in with username, email or phone and a password, in three round trips: the identifier's
        claims with the app's settings and role definitions; one attempt reserved on the account's
        lockout counter (which also reads the user item); the session's transaction.

        Raises:
            as :meth:`authenticate`.
        """
        app, record, check = self.authenticate(identifier, password, app_name, captcha_key, captcha_code)
        return self.sign_in(record, app, client, "login", check, clear_failures=True, rehash=check.rehash)

    def verify_password(
        self,
        identifier: str,
        password: str,
        app_name: str | None,
        captcha_key: str | None = None,
        captcha_code: str | None = None,
    ) -> tuple[UserRecord, UserItemChange | None]:
        """The user a password names, with the same limits, lockout and answers as :meth:`login`, for a
        sign-in that opens no app session yet (the sign-in center's, which clears the reserved attempts
        in the write that opens its own session), and the password's rehash to write with it, if due.

        Raises:
            as :meth:`authenticate`.
        """
        _, record, check = self.authenticate(identifier, password, app_name, captcha_key, captcha_code)
        check(record)
        return record, check.rehash(record)

    def authenticate(
        self,
        identifier: str,
        password: str,
        app_name: str | None,
        captcha_key: str | None = None,
        captcha_code: str | None = None,
    ) -> tuple[str, UserRecord, PasswordCheck]:
        """The app, the user ``identifier`` names (one attempt reserved on its lockout counter) and the
        check that the password is theirs and they are active (run on every read of the user).

        Raises:
            RateLimitedError: too many attempts for this account (whichever identifier named it) or, for a
                name that matches no account, for this name lately; even with the right password.
            CaptchaInvalidError: the app requires a captcha and this one is missing or wrong.
            InvalidCredentialsError: unknown identifier or wrong password (same answer, same work).
            UserDisabledError: the password was right but the user is disabled.
        """
        app = self.apps.resolve(app_name)
        claims, name_key = identifier_claims(identifier)
        lookup = self.users.login_lookup(claims, app)
        settings = self.apps.settings_of(app)
        if settings is not None and settings.require_captcha:
            if self.captchas is None:
                raise CaptchaInvalidError()
            self.captchas.check(captcha_key, captcha_code)
        now = self.clock()
        item = None
        try:
            if lookup.user_id is not None:
                item = self.lockout.reserve_account(
                    lookup.user_id, self.limits.max_failures, self.limits.lock_seconds, now
                )
            if item is None and name_key:  # an empty name is no one's: counting it would make one hot key
                self.lockout.reserve_name(name_key, self.limits.max_failures, self.limits.lock_seconds, now)
        except Locked as exc:
            raise RateLimitedError(exc.retry_after) from exc
        if item is None:
            # Unknown names pay the same reservation and the same bcrypt work as a wrong password.
            self.hasher.verify(password, None)
            raise InvalidCredentialsError()
        return app, self.users.resolve(item, lookup.defs), PasswordCheck(self.hasher, password)

    def reserve_attempt(self, user_id: str) -> UserItem | None:
        """One sign-in attempt reserved on the user's lockout counter (a second factor's code counts like
        a password); the user item after it, None when there is no such user.

        Raises:
            RateLimitedError: the account is locked.
        """
        try:
            return self.lockout.reserve_account(
                user_id, self.limits.max_failures, self.limits.lock_seconds, self.clock()
            )
        except Locked as exc:
            raise RateLimitedError(exc.retry_after) from exc

    def sign_in(
        self,
        record: UserRecord,
        app_name: str,
        client: ClientInfo,
        action: str,
        check: Callable[[UserRecord], None],
        *,
        clear_failures: bool = False,
        consume: Consumable | None = None,
        extra_grants: list[RoleGrant] | None = None,
        scope: list[str] | None = None,
        mfa_due: bool = True,
        factor: Callable[[UserRecord], UserItemChange] | None = None,
        rehash: Callable[[UserRecord], UserItemChange | None] | None = None,
    ) -> SignedIn:
        """Open a session for the user read in ``record`` once ``check`` accepts it (every sign-in
        method ends here; ``extra_grants`` are given with it, when not held yet). Should the user
        change meanwhile (rights, password, status, sessions, second factor), the session is not
        written: the user is read again and checked again.

        A first factor (``mfa_due``) of a user who needs a second one opens no session: the sign-in
        waits for it (``shared.services.mfa_gate``). ``factor`` is the second step: it checks its code
        against the user as read and says what to write with the session (the step, the code spent).
        ``rehash``: a password hash to replace with this sign-in's write (``PasswordCheck.rehash``).

        Raises:
            whatever ``check`` or ``factor`` raise; MfaRequired: a second factor is due;
            CodeInvalidError: ``consume`` names a code used meanwhile;
            ServiceUnavailableError: the user kept changing underneath.
        """
        grants, roles = extra_grants or [], scope or []
        for attempt in range(ATTEMPTS):
            check(record)
            change = factor(record) if factor is not None else None
            rehashed = rehash(record) if rehash is not None else None
            changes = [c for c in (change, rehashed) if c is not None]
            try:
                if mfa_due and change is None and self.gate is not None:  # raises MfaRequired when due
                    self.gate.challenge(record, app_name, client, action, consume, grants, roles, changes)
                return self._open_session(
                    record, app_name, client, action, clear_failures, consume, grants, roles, changes
                )
            except StaleRecordError:
                conflict_backoff(attempt)
                fresh = self.users.load(record.user.user_id, apps=[app_name])
                if fresh is None:
                    raise InvalidCredentialsError() from None
                record = fresh
        raise ServiceUnavailableError()

    def open_session(
        self, record: UserRecord, app_name: str, client: ClientInfo, action: str, scope: list[str] | None = None
    ) -> SignedIn:
        """Open a session for an authenticated user whose state needs no further check (``scope``: the
        OpenID scopes a sign-in center client was granted, kept on the session for userinfo)."""
        return self.sign_in(record, app_name, client, action, lambda _: None, scope=scope, mfa_due=False)

    def _open_session(
        self,
        record: UserRecord,
        app_name: str,
        client: ClientInfo,
        action: str,
        clear_failures: bool,
        consume: Consumable | None,
        extra: list[RoleGrant],
        scope: list[str],
        changes: list[UserItemChange],
    ) -> SignedIn:
        new_grants = [g for g in extra if record.roles.get(g.app_name, {}).get(g.role_code) != g.epoch]
        if not record.grants_in(app_name) and not any(g.app_name == app_name for g in new_grants):
            # First sign-in to this app: the app's default role, like a sign-up would give.
            _, grant = self.apps.default_grant(app_name)
            new_grants.append(grant)
        grants = record.grants_in(app_name) + [g for g in new_grants if g.app_name == app_name]
        tokens = self.sessions.new(record.user.user_id, app_name, grants, client, rev=record.rev, scope=scope)
        now = tokens.session.created_at
        try:
            self.users.open_session(
                record,
                tokens.session,
                self.max_sessions,
                self.audit_event(action, now, client),
                clear_failures=clear_failures,
                consume=consume,
                new_grants=new_grants,
                changes=changes,
            )
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc
        record.grants = [g for g in record.grants if g.app_name != app_name] + grants
        for grant in new_grants:
            record.roles.setdefault(grant.app_name, {})[grant.role_code] = grant.epoch
        if login_time_due(record.user.last_login_at, now):
            record.user.last_login_at = now
        return SignedIn(tokens, record, app_name)

    # -- profile -------------------------------------------------------------------------------
    def get(self, user_id: str, app_name: str | None = None) -> UserRecord:
        """The user with grants resolved in ``app_name`` (or in every app when None).

        Raises:
            NotFoundError: no such user.
        """
        record = self.users.load(user_id, apps=None if app_name is None else [app_name])
        if record is None:
            raise NotFoundError()
        return record

    def item(self, user_id: str) -> UserRecord:
        """The user item alone (grants unresolved): for writes that need only its counters.

        Raises:
            NotFoundError: no such user.
        """
        record = self.users.load(user_id, apps=[])
        if record is None:
            raise NotFoundError()
        return record

    def sessions_of(self, user_id: str) -> list[Session]:
        """The user's live sessions, oldest first (their ids are listed on the user item)."""
        record = self.item(user_id)
        return self.sessions.list_sessions(sorted(record.sessions, key=record.sessions.__getitem__), record.rev)

    def update_profile(
        self,
        user_id: str,
        app_name: str,
        changes: dict[str, Any],
        allowed: tuple[str, ...] = PROFILE_FIELDS,
        vouched: bool = False,
    ) -> UserRecord:
        """Change profile fields; a new email moves the email claim atomically. A user changing their
        own email proves it with a ``bind`` code sent to the new address (``email_code``); an admin of
        app0 vouches for it (``vouched``).

        Raises:
            EmailTakenError: the email belongs to another user.
            ValidationError: a bad or unproven new email.
        """
        record = self.get(user_id, app_name)
        updates = {k: v for k, v in changes.items() if k in allowed}
        swaps: list[tuple[str | None, str | None]] = []
        uses: list[CodeUse] = []
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
                if new is not None and not vouched:
                    uses.append(self._require_bind_code(new, changes.get("email_code")))
                updates["email_verified"] = new is not None
                swaps.append((keys.email_claim(old) if old else None, keys.email_claim(new) if new else None))
        if updates:
            try:
                self.users.update_profile(user_id, updates, swaps, consume=uses, before=record.user)
            except ClaimTakenError as exc:
                raise claim_error(exc.claim) from exc
            except CodeUsedError as exc:
                raise CodeInvalidError() from exc
            for name, value in updates.items():
                setattr(record.user, name, value)
        return record

    def _require_bind_code(self, email: str, code: Any) -> CodeUse:
        """Check the ``bind`` code (used by the profile's transaction).

        Raises: ValidationError (no code), CodeInvalidError/CodeExpiredError (a wrong one)."""
        if not code:
            raise ValidationError({"email_code": ["a code sent to the new email (code_type bind) is required"]})
        if self.codes is None:
            raise ValidationError({"email_code": ["verification codes are not available"]})
        return self.codes.checked("email", email, "bind", str(code))

    def change_password(self, user_id: str, session_id: str | None, old: str, new: str, confirm: str | None) -> int:
        """Replace the password and end every other session (including any being opened right now; every
        session when ``session_id`` is None: the sign-in center's account page); returns how many were
        listed.

        Raises:
            InvalidCredentialsError: ``old`` is wrong.
        """
        self.policy.check(new, "new_password")
        if confirm is not None and confirm != new:
            raise PasswordMismatchError()
        new_hash: str | None = None
        for _ in range(ATTEMPTS):
            record = self.item(user_id)
            if not self.hasher.verify(old, record.user.password_hash):
                raise InvalidCredentialsError()
            new_hash = new_hash or self.hasher.hash(new)
            try:
                ended = self.users.revoke_sessions(record, password_hash=new_hash, keep=session_id)
            except StaleRecordError:
                continue
            self.sessions.free(ended)
            return len(ended)
        raise ServiceUnavailableError()

    def check_new_password(self, password: str, confirm: str | None, field: str) -> None:
        """Raises: ValidationError (the policy), PasswordMismatchError (``confirm`` differs)."""
        self.policy.check(password, field)
        if confirm is not None and confirm != password:
            raise PasswordMismatchError()

    def set_password(self, user_id: str, password: str, consume: Sequence[CodeUse] = ()) -> int:
        """Set a password (a reset by code, whose code is used in the same write, or an admin): every
        session of the user ends. Returns how many were listed.

        Raises:
            CodeUsedError: a code of ``consume`` was used meanwhile (nothing was written).
        """
        return self.revoke_all(user_id, password_hash=self.hasher.hash(password), consume=consume)

    def revoke_all(self, user_id: str, password_hash: str | None = None, consume: Sequence[CodeUse] = ()) -> int:
        """End every session of the user (logout of all, password reset or set by an admin), at once:
        one write bumps the user's sessions epoch. Returns how many sessions were listed."""
        record = self.item(user_id)
        ended = self.users.revoke_sessions(record, password_hash=password_hash, consume=consume)
        self.sessions.free(ended)
        return len(ended)

    def _require_code(self, channel: str, target: str, code: str | None, field: str) -> CodeUse:
        """The app verifies this identifier at sign-up: a ``register`` code must prove it (checked here,
        used by the sign-up's transaction)."""
        if not code:
            raise ValidationError({field: ["this app requires a verification code"]})
        if self.codes is None:
            raise ValidationError({field: ["verification codes are not available"]})
        return self.codes.checked(channel, target, "register", code)

    def set_status(self, user_id: str, status: str) -> int:
        """Enable or disable a user; disabling ends every session at once. Returns sessions ended.

        Raises:
            NotFoundError: no such user.
            ValidationError: unknown status.
        """
        if status not in ("active", "disabled"):
            raise ValidationError({"status": ["active or disabled"]})
        record = self.item(user_id)
        if status == "active":
            self.users.set_status(record, status)
            return 0
        ended = self.users.revoke_sessions(record, status=status)
        self.sessions.free(ended)
        return len(ended)

    def audit_event(self, action: str, now: float, client: ClientInfo) -> dict[str, Any]:
        """An audit event to write with a change (in the user's partition, kept ``audit_retention_days``)."""
        return {"action": action, "at": now, "id": self.ids(), "ip": client.ip, "ttl": int(now + self.audit_seconds)}
