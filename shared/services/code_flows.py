"""Sign-in and account changes proven by a verification code (API.md sections 4 and 6).

Phone sign-in registers the phone if it is new (``created``), recording ``referer_id`` as the inviter;
a phone change needs a code sent to the new phone; a password reset by email or phone code revokes
every session of the user. A code that proves a phone or email an account holds unproven hands the
account to the code's bearer, stripped of what was not proven (API.md section 7).
"""

from __future__ import annotations

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db import keys
from shared.db.codes import CodeUse, CodeUsedError
from shared.db.users import ClaimTakenError, StaleRecordError, UserRepository, roles_of
from shared.domain import Account, ClientInfo, RoleGrant, Session, User, UserRecord
from shared.errors import (
    CodeInvalidError,
    NotFoundError,
    PhoneTakenError,
    ServiceUnavailableError,
    UserDisabledError,
    ValidationError,
)
from shared.services.accounts import AccountService, SignedIn
from shared.services.apps import AppDirectory
from shared.services.codes import CodeService, target_of
from shared.services.sessions import SessionService


def masked(phone: str) -> str:
    """``138****8000`` for a mainland number: a default nickname that does not publish the number."""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else digits


class CodeFlows:
    def __init__(
        self,
        accounts: AccountService,
        apps: AppDirectory,
        sessions: SessionService,
        users: UserRepository,
        codes: CodeService,
        clock: Clock = system_clock,
        ids: IdFactory = new_id,
    ) -> None:
        self.accounts = accounts
        self.apps = apps
        self.sessions = sessions
        self.users = users
        self.codes = codes
        self.clock = clock
        self.ids = ids

    def phone_login(
        self,
        phone: str,
        sms_code: str,
        app_name: str | None,
        client: ClientInfo,
        referer_id: str | None = None,
        mode: str = "any",
    ) -> SignedIn:
        """Sign in with a phone and a ``login`` code, registering the phone if it is new.

        Three round trips at most: one BatchGetItem (the phone's owner, the code, the app, its role
        definitions), the user item (known phones), and one transaction that consumes the code together
        with the new session (or the new user). ``mode`` serves the old clients: ``register`` refuses a known
        phone (409), ``login`` an unknown one (400 ``CODE_INVALID``).

        Raises:
            CodeInvalidError, CodeExpiredError: the code does not prove the phone.
            PhoneTakenError: ``mode="register"`` and the phone is registered.
            UserDisabledError: the user is disabled.
        """
        app = self.apps.resolve(app_name)
        target = target_of("sms", phone)
        for _ in range(2):
            lookup = self.users.phone_lookup(target, "login", app)
            use = self.codes.check(target, "login", sms_code, lookup.code)
            if lookup.user_id:
                if mode == "register":
                    raise PhoneTakenError()
                return self._login(lookup.user_id, app, client, use)
            if mode == "login":
                raise CodeInvalidError()  # the old clients expect a code-style error for unknown phones
            _, grant = self.apps.default_grant_from(app, self.apps.settings_of(app), lookup.defs)
            try:
                return self._create(target, app, grant, client, referer_id, use)
            except PhoneTakenError:
                continue  # someone registered this phone a moment ago: sign in instead
        raise PhoneTakenError()

    def center_sign_in(
        self, channel: str, raw_target: str, code: str, app_name: str
    ) -> tuple[UserRecord, list[CodeUse]]:
        """The user a ``login`` code proves, for the sign-in center's page (which opens no app session:
        the code is used in the write that opens the center session, the uses returned).

        A phone that is new registers (its code used in that transaction, as phone sign-in does); an
        email must be an account's. An identifier the account held unproven hands it over first
        (API.md section 7).

        Raises:
            ValidationError: not a phone number / email.
            CodeInvalidError, CodeExpiredError: the code does not prove the target.
            NotFoundError: no account has this email (the code proved it: telling is no enumeration).
            UserDisabledError: the user is disabled.
        """
        app = self.apps.resolve(app_name)
        target = target_of(channel, raw_target)
        for _ in range(2):
            if channel == "sms":
                lookup = self.users.phone_lookup(target, "login", app)
                use, owner = self.codes.check(target, "login", code, lookup.code), lookup.user_id
            else:
                use = self.codes.checked("email", target, "login", code)
                owner = self.users.login_lookup([keys.email_claim(target)], app).user_id
            if owner is not None:
                record = self._owner(owner, app, "phone" if channel == "sms" else "email")
                if record.user.status != "active":
                    raise UserDisabledError()
                return record, [use]
            if channel != "sms":
                raise NotFoundError()
            _, grant = self.apps.default_grant_from(app, self.apps.settings_of(app), lookup.defs)
            try:
                return self._new_phone_user(target, grant, use), []
            except PhoneTakenError:
                continue  # registered a moment ago: sign that user in instead
        raise PhoneTakenError()

    def _new_phone_user(
        self,
        phone: str,
        grant: RoleGrant,
        use: CodeUse,
        session: Session | None = None,
        referer_id: str | None = None,
        ip: str | None = None,
        user_id: str | None = None,
    ) -> UserRecord:
        """Write a user registered by a phone code (with its first session, when there is one; the
        sign-in center opens its own instead).

        Raises:
            PhoneTakenError: the phone was registered meanwhile; CodeInvalidError: the code was used.
        """
        now = self.clock()
        user = User(
            user_id=user_id or self.ids(),
            nickname=masked(phone),
            phone=phone,
            phone_verified=True,
            referer_id=referer_id,
            created_at=now,
            last_login_at=now,
        )
        account = Account(provider="phone", open_id=phone, created_at=now)
        audit = {"action": "phone_register", "at": now, "id": self.ids(), "ip": ip}
        try:
            self.users.create(user, [keys.phone_claim(phone)], [account], [grant], session, audit, [use])
        except ClaimTakenError as exc:
            raise PhoneTakenError() from exc
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc
        return UserRecord(user=user, accounts=[account], grants=[grant], roles=roles_of([grant]))

    def _owner(self, user_id: str, app: str, proven: str) -> UserRecord:
        """The owner of the identifier a code proved (``phone`` or ``email``). When the account holds it
        unproven (registered without a code), the code's bearer proves it now: first the account loses
        everything the registrant brought unproven (password, sessions, unproven email, WeChat
        identities), so it is never reachable by two people (API.md section 7)."""
        record = self.accounts.get(user_id, app)
        if not (record.user.phone_verified if proven == "phone" else record.user.email_verified):
            self.sessions.free(self.users.take_over(record, proven))
            record = self.accounts.get(user_id, app)
        return record

    def _login(self, user_id: str, app: str, client: ClientInfo, use: CodeUse) -> SignedIn:
        """Sign in the phone's owner (taken over first when the phone was unproven: :meth:`_owner`)."""
        record = self._owner(user_id, app, "phone")

        def active(current: UserRecord) -> None:
            if current.user.status != "active":
                raise UserDisabledError()

        return self.accounts.sign_in(record, app, client, "phone_login", active, consume=use)

    def _create(
        self, phone: str, app: str, grant: RoleGrant, client: ClientInfo, referer_id: str | None, use: CodeUse
    ) -> SignedIn:
        if referer_id is not None and self.users.load(str(referer_id), apps=[]) is None:
            raise ValidationError({"referer_id": ["no such user"]})
        gate = self.accounts.gate
        if gate is not None and gate.covers_new(app, [grant]):  # enrols a second factor before any session
            record = self._new_phone_user(phone, grant, use, None, referer_id, client.ip)
            gate.challenge(record, app, client, "phone_login", None, [], [])
        user_id = self.ids()
        tokens = self.sessions.new(user_id, app, [grant], client)
        record = self._new_phone_user(phone, grant, use, tokens.session, referer_id, client.ip, user_id)
        return SignedIn(tokens, record, app, created=True)

    def change_phone(
        self,
        user_id: str,
        app_name: str,
        new_phone: str,
        sms_code: str,
        code_types: tuple[str, ...] = ("change_phone",),
    ) -> UserRecord:
        """Move the user to a new phone proven by a code sent to it.

        Raises:
            CodeInvalidError: no accepted code proves the new phone.
            PhoneTakenError: another user has that phone.
        """
        use = None
        for code_type in code_types:
            try:
                use = self.codes.checked("sms", new_phone, code_type, sms_code)
                break
            except CodeInvalidError:
                if code_type == code_types[-1]:
                    raise
        assert use is not None  # noqa: S101 - the loop either set it or raised
        for _ in range(3):
            record = self.accounts.item(user_id)
            if use.target == record.user.phone and record.user.phone_verified:
                self.codes.consume(use)
                break
            try:  # the code is used in the same transaction: a failure leaves it for a retry
                self.users.change_phone(record, use.target, self.clock(), verified=True, consume=[use])
                break
            except ClaimTakenError as exc:
                raise PhoneTakenError() from exc
            except CodeUsedError as exc:
                raise CodeInvalidError() from exc
            except StaleRecordError:
                continue
        else:
            raise ServiceUnavailableError()  # the user item kept changing: nothing was written
        return self.accounts.get(user_id, app_name)

    def reset_password(self, channel: str, target: str, code: str, new_password: str, confirm: str | None) -> int:
        """Set a new password proven by a ``reset_password`` code; revokes every session. The code is
        used in the password's own write, so a failure leaves it for a retry.

        Raises:
            CodeInvalidError: wrong code, or no user with that email/phone (the same answer, so the
                route does not reveal who is registered).
        """
        self.accounts.check_new_password(new_password, confirm, "new_password")
        use = self.codes.checked(channel, target, "reset_password", code)
        claim = keys.phone_claim(use.target) if channel == "sms" else keys.email_claim(use.target)
        user_id = self.users.find_user_id([claim])
        if user_id is None:
            self.codes.consume(use)
            raise CodeInvalidError()
        record = self.accounts.item(user_id)
        proven = "phone" if channel == "sms" else "email"
        held_unproven = not (record.user.phone_verified if proven == "phone" else record.user.email_verified)
        try:
            if held_unproven:  # the bearer of the code takes the account: nothing unproven stays on it
                password_hash = self.accounts.hasher.hash(new_password)
                return self.sessions.free(self.users.take_over(record, proven, password_hash, [use]))
            return self.accounts.set_password(user_id, new_password, consume=[use])
        except CodeUsedError as exc:
            raise CodeInvalidError() from exc

    def invitees(self, user_id: str) -> list[User]:
        """The users who signed up with ``user_id`` as their referer."""
        if self.users.load(user_id, apps=[]) is None:
            raise NotFoundError()
        return list(self.users.invitees(user_id))
