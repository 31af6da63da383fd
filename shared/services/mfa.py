"""TOTP second factors with recovery codes (API.md section 12): set-up, confirmation, the second step of
a sign-in, new recovery codes, turning it off, and an admin's reset.

The secret is sealed at rest (``shared.services.secret_box``: KMS in AWS). A code is checked against the
user as read by its lockout reservation, so wrong TOTP and recovery codes count toward the same lockout
as wrong passwords, and the write that accepts it is conditional: a TOTP step is accepted once (RFC 6238
section 5.2) and a recovery code is spent once, however many requests race with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db.apps import read_role_defs
from shared.db.center_sessions import CenterSession
from shared.db.mfa import FactorUse, MfaRepository, TicketUse
from shared.db.users import StaleRecordError, record_of
from shared.domain import ClientInfo, RoleGrant, UserRecord
from shared.errors import (
    CodeInvalidError,
    MfaAlreadyEnabledError,
    MfaCodeInvalidError,
    MfaNotEnabledError,
    MfaSetupRequiredError,
    MfaTokenInvalidError,
    NotFoundError,
    ServiceUnavailableError,
    UserDisabledError,
)
from shared.services import totp
from shared.services.accounts import AccountService, SignedIn
from shared.services.center_sessions import CenterSessions
from shared.services.mfa_gate import account_label, token_hash
from shared.services.secret_box import SealedValueError, SecretBox

SETUP_SECONDS = 600  # a secret set up must be confirmed within this


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str


@dataclass
class Pending:
    """A waiting sign-in about to be finished: its data, the ticket to consume, the user as read, what
    accepting the code writes (for a given read of the user), the methods it used, new recovery codes."""

    data: dict[str, Any]
    ticket: TicketUse
    record: UserRecord
    factor: Callable[[UserRecord], FactorUse]
    amr: list[str]
    codes: list[str] | None = None


def _active(record: UserRecord) -> None:
    if record.user.status != "active":
        raise UserDisabledError()


@dataclass
class SecondStep:
    """A sign-in finished by its second factor; ``recovery_codes`` when it enrolled TOTP."""

    signed_in: SignedIn
    recovery_codes: list[str] | None = None
    amr: list[str] | None = None


class SecondFactors:
    def __init__(
        self,
        accounts: AccountService,
        center_sessions: CenterSessions,
        repo: MfaRepository,
        box: Callable[[], SecretBox],
        issuer: str,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.accounts = accounts
        self.center_sessions = center_sessions
        self.repo = repo
        self._box = box
        self.issuer = issuer
        self.clock = clock
        self.ids = ids

    @property
    def box(self) -> SecretBox:
        return self._box()

    # -- the user's own second factor -------------------------------------------------------------------
    def setup(self, user_id: str) -> TotpSetup:
        """A new secret to scan; it is on only once a code from it is confirmed.

        Raises:
            MfaAlreadyEnabledError: TOTP is on (turn it off first).
        """
        record = self._current(user_id)
        if record.mfa.enabled:
            raise MfaAlreadyEnabledError()
        secret = totp.new_secret()
        if not self.repo.set_pending(record, self.box.seal(secret.encode(), user_id), self.clock()):
            raise MfaAlreadyEnabledError()
        return TotpSetup(secret, totp.otpauth_uri(secret, account_label(record), self.issuer))

    def pending(self, user_id: str) -> TotpSetup | None:
        """The secret set up and not confirmed yet (shown again until it is), if any."""
        record = self._current(user_id)
        mfa = record.mfa
        if mfa.enabled or mfa.totp_pending is None or (mfa.totp_pending_at or 0) + SETUP_SECONDS < self.clock():
            return None
        secret = self._open(mfa.totp_pending, user_id)
        return TotpSetup(secret, totp.otpauth_uri(secret, account_label(record), self.issuer))

    def confirm(self, user_id: str, code: str, client: ClientInfo) -> list[str]:
        """Turn TOTP on with a code from the secret set up; the ten recovery codes, shown once.

            Raises:
                CodeInvalidError,
        MfaAlreadyEnabledError, MfaSetupRequiredError, MfaCodeInvalidError.
        """
        record = self._current(user_id)
        mfa, now = record.mfa, self.clock()
        if mfa.enabled:
            raise MfaAlreadyEnabledError()
        if mfa.totp_pending is None or (mfa.totp_pending_at or 0) + SETUP_SECONDS < now:
            raise MfaSetupRequiredError()
        step = totp.matching_step(self._open(mfa.totp_pending, user_id), code, now)
        if step is None:
            raise MfaCodeInvalidError()
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_hash(c) for c in codes]
        if not self.repo.enable(record, step, hashes, self.accounts.audit_event("mfa_enabled", now, client)):
            raise MfaSetupRequiredError()
        return codes

    def new_recovery_codes(self, user_id: str, code: str, client: ClientInfo) -> list[str]:
        """Replace the recovery codes, proven by a current TOTP or recovery code.

        Raises:
            MfaNotEnabledError, MfaCodeInvalidError, RateLimitedError (the lockout).
        """
        use = self._prove(user_id, code)
        codes = totp.new_recovery_codes()
        audit = self.accounts.audit_event("mfa_recovery_codes", self.clock(), client)
        if not self.repo.replace_codes(use, [totp.recovery_hash(c) for c in codes], audit):
            raise MfaCodeInvalidError()
        return codes

    def disable(self, user_id: str, code: str, client: ClientInfo) -> None:
        """Turn TOTP off, proven by a current TOTP or recovery code.

        Raises:
            MfaNotEnabledError, MfaCodeInvalidError, RateLimitedError (the lockout).
        """
        use = self._prove(user_id, code)
        if not self.repo.disable(use, self.accounts.audit_event("mfa_disabled", self.clock(), client)):
            raise MfaCodeInvalidError()

    def reset(self, user_id: str, admin_id: str, client: ClientInfo) -> bool:
        """An admin turns a user's second factor off (their device is lost); False when it was off.
        The admin scope is checked by the caller (``AdminActions.reset_mfa``)."""
        for _ in range(3):
            record = self._current(user_id)
            if not record.mfa.enabled and record.mfa.totp_pending is None:
                return False
            audit = {**self.accounts.audit_event("mfa_reset", self.clock(), client), "detail": {"by": admin_id}}
            if self.repo.reset(record, audit):
                return True
        raise ServiceUnavailableError()

    # -- the second step of a sign-in -------------------------------------------------------------------
    def waiting(self, mfa_token: str, center: bool) -> dict[str, Any] | None:
        """The waiting sign-in ``mfa_token`` names (None: unknown, used, expired, or of the other kind: an
        API sign-in's token is no center sign-in's)."""
        data = self.repo.ticket(token_hash(mfa_token), self.clock()) if mfa_token else None
        return data if data is not None and bool(data.get("center")) == center else None

    def enroll(self, mfa_token: str) -> TotpSetup:
        """A secret for a waiting sign-in whose user must set up TOTP (the app's ``require_mfa``); the same
        one each time it is asked for.

        Raises:
            MfaTokenInvalidError; MfaAlreadyEnabledError: the sign-in asks for a code, not enrolment.
        """
        hashed, now = token_hash(mfa_token), self.clock()
        data = self.repo.ticket(hashed, now)
        if data is None:
            raise MfaTokenInvalidError()
        if not data.get("enroll"):
            raise MfaAlreadyEnabledError()
        user_id, label = str(data["user_id"]), str(data.get("label") or "")
        if data.get("secret"):  # shown again (a page reloaded): the same secret the app may have scanned
            secret = self._open(str(data["secret"]), user_id)
            return TotpSetup(secret, totp.otpauth_uri(secret, label, self.issuer))
        secret = totp.new_secret()
        data["secret"] = self.box.seal(secret.encode(), user_id)
        if not self.repo.update_ticket(hashed, data, now):
            raise MfaTokenInvalidError()
        return TotpSetup(secret, totp.otpauth_uri(secret, label, self.issuer))

    def verify(self, mfa_token: str, code: str, client: ClientInfo) -> SecondStep:
        """Finish a waiting sign-in with a TOTP or recovery code (or, enrolling, a code of the new
        secret): the session it was waiting for, with the waiting sign-in consumed in its transaction.

        Raises:
            MfaTokenInvalidError (a center sign-in's token too); MfaCodeInvalidError; MfaSetupRequiredError
            (enrolling, no secret yet); RateLimitedError: the account's lockout; UserDisabledError.
        """
        pending = self._pending(mfa_token, code, center=False)
        data = pending.data
        signed_in = self.accounts.sign_in(
            pending.record,
            str(data["app_name"]),
            ClientInfo(ip=client.ip or data.get("ip"), user_agent=client.user_agent or data.get("user_agent")),
            str(data.get("action") or "login"),
            _active,
            clear_failures=True,
            consume=pending.ticket,
            extra_grants=[RoleGrant(**g) for g in data.get("grants") or []],
            scope=[str(s) for s in data.get("scope") or []],
            mfa_due=False,
            factor=pending.factor,
        )
        return SecondStep(signed_in, pending.codes, pending.amr)

    def center_verify(self, mfa_token: str, code: str) -> tuple[str, CenterSession, list[str] | None]:
        """Finish a sign-in at the center: its center session (cookie value and itself, ``amr`` with the
        second factor) and, when it enrolled, the recovery codes to show once.

        Raises:
            as :meth:`verify` (an API sign-in's token is refused here).
        """
        pending = self._pending(mfa_token, code, center=True)
        record = pending.record
        _active(record)
        try:
            cookie, session = self.center_sessions.open(
                record.user.user_id,
                record.rev,
                pending.amr,
                clear_failures=True,
                consume=[pending.ticket],
                changes=[pending.factor(record)],
            )
        except CodeInvalidError as exc:  # the waiting sign-in was finished meanwhile
            raise MfaTokenInvalidError() from exc
        except StaleRecordError as exc:  # the step was accepted (or the code spent) meanwhile
            raise MfaCodeInvalidError() from exc
        return cookie, session, pending.codes

    def _pending(self, mfa_token: str, code: str, center: bool) -> Pending:
        """The waiting sign-in ``mfa_token`` names, its user as read by one lockout attempt, and what
        accepting ``code`` writes (checked again against each fresh read of the user)."""
        hashed, now = token_hash(mfa_token), self.clock()
        data = self.repo.ticket(hashed, now)
        if data is None or bool(data.get("center")) != center:
            raise MfaTokenInvalidError()
        user_id, app_name = str(data["user_id"]), str(data["app_name"])
        record = self._reserve(user_id, app_name)
        amr = list(dict.fromkeys([*data.get("amr", []), "otp", "mfa"]))
        if not data.get("enroll"):
            opened: dict[str, str] = {}
            return Pending(data, TicketUse(hashed, now), record, lambda r: self._check_code(r, code, now, opened), amr)
        sealed = data.get("secret")
        if not sealed:
            raise MfaSetupRequiredError()
        step = totp.matching_step(self._open(str(sealed), user_id), code, now)
        if step is None:
            raise MfaCodeInvalidError()
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_hash(c) for c in codes]

        def enrol(current: UserRecord) -> FactorUse:
            return FactorUse(current, step=step, enrol=str(sealed), codes=hashes)

        return Pending(data, TicketUse(hashed, now), record, enrol, amr, codes)

    # -- checks ------------------------------------------------------------------------------------------
    def _reserve(self, user_id: str, app_name: str) -> UserRecord:
        """The user as read by one attempt reserved on their lockout counter, with the app's grants."""
        item = self.accounts.reserve_attempt(user_id)
        if item is None:
            raise MfaTokenInvalidError()
        defs = read_role_defs([app_name], user_id)[app_name]
        return self.accounts.users.resolve(item, defs)

    def _prove(self, user_id: str, code: str) -> FactorUse:
        """A current code of the signed-in user, checked like a sign-in's (one lockout attempt)."""
        record = self._reserve_self(user_id)
        if not record.mfa.enabled:
            raise MfaNotEnabledError()
        return self._check_code(record, code, self.clock(), {})

    def _reserve_self(self, user_id: str) -> UserRecord:
        item = self.accounts.reserve_attempt(user_id)
        if item is None:
            raise NotFoundError()
        return record_of(item)

    def _current(self, user_id: str) -> UserRecord:
        record = self.accounts.users.current(user_id)
        if record is None:
            raise NotFoundError()
        return record

    def _check_code(self, record: UserRecord, code: str, now: float, opened: dict[str, str]) -> FactorUse:
        """What accepting ``code`` writes: a TOTP step later than the last accepted, or an unspent
        recovery code.

        Raises:
            MfaCodeInvalidError: neither (wrong, replayed or spent); MfaNotEnabledError: TOTP is off.
        """
        mfa = record.mfa
        if mfa.totp_secret is None:
            raise MfaNotEnabledError()
        code = (code or "").strip()
        if totp.is_totp_shaped(code):
            sealed = mfa.totp_secret
            if sealed not in opened:
                opened[sealed] = self._open(sealed, record.user.user_id)
            step = totp.matching_step(opened[sealed], code, now)
            if step is None or step <= mfa.totp_step:
                raise MfaCodeInvalidError()
            return FactorUse(record, step=step)
        spent = totp.matching_recovery(code, mfa.recovery_codes)
        if spent is None:
            raise MfaCodeInvalidError()
        return FactorUse(record, spent=spent)

    def _open(self, sealed: str, user_id: str) -> str:
        try:
            return self.box.open(sealed, user_id).decode()
        except SealedValueError as exc:  # another key or another user's secret: no code can match
            raise MfaSetupRequiredError() from exc
