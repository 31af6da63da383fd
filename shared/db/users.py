"""User partition access: profile, identifier claims, accounts and role grants.

Access patterns (docs/data-model.md): find a user by username/email/phone (GetItem on a claim), load a
user with accounts and grants (one Query on ``USER#<id>``), create a user with its claims and first
session (one transaction), swap an identifier claim (one transaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from shared.clock import Clock, system_clock
from shared.db import keys
from shared.db.apps import complete_defs, read_role_defs
from shared.db.codes import CodeRecord, CodeUse, Consumable, delete_codes, raise_if_code_used, to_record
from shared.db.models import (
    PROFILE_ATTRIBUTES,
    VERIFIED_FLAGS,
    AccountItem,
    AuditItem,
    BaseItem,
    ClaimItem,
    CodeItem,
    FilterEntryItem,
    RoleDefsItem,
    SessionItem,
    UserItem,
    UserRoleItem,
)
from shared.db.pages import Part, key_value, merge, one_page
from shared.db.sessions import session_item
from shared.db.table import Table, failed_indexes, is_conflict
from shared.domain import Account, MfaState, RoleDefs, RoleGrant, Session, User, UserRecord
from shared.errors import ServiceUnavailableError
from shared.identifiers import username_key

USER_FIELDS = PROFILE_ATTRIBUTES
FLAGS = VERIFIED_FLAGS


FILTERED = (("department", "department_id"), ("status", "status"))  # admin filters kept as FILTER# entries


def filter_entries(user: User) -> set[str]:
    """The ``FILTER#`` partitions listing ``user`` (``FilterEntryItem``): their inviter's, their
    department's, and the disabled users' (the lists that hold few users; ``active`` is most of the
    directory)."""
    entries = set()
    if user.referer_id:
        entries.add(keys.filter_pk("inviter", user.referer_id))
    if user.department_id:
        entries.add(keys.filter_pk("department", user.department_id))
    if user.status == "disabled":
        entries.add(keys.filter_pk("status", "disabled"))
    return entries


def filtered_as_read(user: User) -> Condition:
    """The user item still has the department and status ``user`` was read with (its entries are right)."""
    condition = UserItem.pk.exists()
    for _, attribute in FILTERED:
        value = getattr(user, attribute)
        attr = getattr(UserItem, attribute)
        condition = condition & (attr == value if value else attr.does_not_exist())
    return condition


def move_entries(tx: Any, before: User, after: User) -> None:
    """Delete and put the ``FILTER#`` entries that change from ``before`` to ``after``, inside ``tx``
    (deletes first in call order; see ``shared.db.codes.delete_codes`` on positions)."""
    sk = keys.directory_gsi2sk(before.created_at, before.user_id)
    old, new = filter_entries(before), filter_entries(after)
    for pk in sorted(old - new):
        tx.delete(FilterEntryItem(pk=pk, sk=sk))
    for pk in sorted(new - old):
        tx.save(FilterEntryItem(pk=pk, sk=sk, user_id=before.user_id))


LAST_LOGIN_EVERY = 3600  # seconds: ``last_login_at`` is written at most this often (it is in the directory)


def login_time_due(last_login_at: float | None, now: float) -> bool:
    """Whether a sign-in at ``now`` records itself in ``last_login_at``."""
    return last_login_at is None or now - last_login_at >= LAST_LOGIN_EVERY


TRANSACTION_ITEMS = 100  # DynamoDB's limit of items in one TransactWriteItems


@dataclass
class NewUser:
    """What ``create`` writes for one new user (``create_many``: for many)."""

    user: User
    claims: list[str]
    accounts: list[Account]
    grants: list[RoleGrant]
    audit: dict[str, Any] | None = None
    external_ids: Sequence[str] = ()
    session: Session | None = None

    def item_count(self) -> int:
        return (
            len(self.claims)
            + 1
            + len(filter_entries(self.user))
            + len(self.grants)
            + (self.session is not None)
            + (self.audit is not None)
        )


class ClaimTakenError(Exception):
    """An identifier claim already exists; ``claim`` is the claim key that lost."""

    def __init__(self, claim: str) -> None:
        super().__init__(claim)
        self.claim = claim


def to_user(item: UserItem) -> User:
    user = User(user_id=item.user_id, **{name: getattr(item, name) for name in USER_FIELDS})
    user.email_verified, user.phone_verified = bool(item.email_verified), bool(item.phone_verified)
    return user


def account_json(account: Account) -> dict[str, Any]:
    return {
        "provider": account.provider,
        "type": account.account_type,
        "app_id": account.app_id,
        "open_id": account.open_id,
        "nickname": account.nickname,
        "avatar_url": account.avatar_url,
        "created_at": account.created_at,
    }


def account_from_json(data: dict[str, Any]) -> Account:
    return Account(
        provider=str(data["provider"]),
        open_id=str(data["open_id"]),
        account_type=data.get("type"),
        app_id=data.get("app_id"),
        nickname=data.get("nickname"),
        avatar_url=data.get("avatar_url"),
        created_at=float(data.get("created_at") or 0),
    )


def roles_of(grants: list[RoleGrant]) -> dict[str, dict[str, str]]:
    """The user item's ``roles`` map of ``grants``."""
    roles: dict[str, dict[str, str]] = {}
    for grant in grants:
        roles.setdefault(grant.app_name, {})[grant.role_code] = grant.epoch
    return roles


def record_of(item: UserItem, defs: dict[str, RoleDefs] | None = None) -> UserRecord:
    """The user item as a record; grants resolved for the apps whose role definitions are given."""
    roles = {str(app): {str(c): str(e) for c, e in (held or {}).items()} for app, held in (item.roles or {}).items()}
    grants = [g for app, d in (defs or {}).items() for g in d.grants(roles.get(app, {}))]
    return UserRecord(
        user=to_user(item),
        accounts=[account_from_json(a) for a in (item.accounts or [])],
        grants=grants,
        roles=roles,
        sessions=_session_map(item),
        has_session_map=item.sessions is not None,
        rev=int(item.rev or 0),
        ver=int(item.ver or 0),
        login_fails=int(item.login_fails or 0),
        login_window=float(item.login_window) if item.login_window is not None else None,
        mfa=mfa_of(item),
    )


def mfa_of(item: UserItem) -> MfaState:
    return MfaState(
        totp_secret=item.totp_secret,
        totp_pending=item.totp_pending,
        totp_pending_at=float(item.totp_pending_at) if item.totp_pending_at is not None else None,
        totp_step=int(item.totp_step or 0),
        recovery_codes=[str(h) for h in (item.recovery_codes or [])],
        version=int(item.mfa_ver or 0),
    )


def _session_map(item: UserItem) -> dict[str, float]:
    raw: dict[str, Any] = item.sessions.as_dict() if item.sessions else {}
    return {str(sid): float(created) for sid, created in raw.items()}


class UserItemChange(Protocol):
    """More to write on the user item with a sign-in (a second factor accepted), on its own condition."""

    @property
    def bumps_version(self) -> bool: ...

    def actions(self) -> list[Action]: ...

    def condition(self) -> Condition: ...


@dataclass(frozen=True)
class PasswordRehash:
    """A password hash verified at a sign-in and replaced there (an imported legacy hash, or bcrypt at
    another cost): written with the sign-in, only if the hash is still the one verified."""

    old: str
    new: str
    bumps_version: bool = False

    def actions(self) -> list[Action]:
        return [UserItem.password_hash.set(self.new)]

    def condition(self) -> Condition:
        same: Condition = UserItem.password_hash == self.old
        return same


class StaleRecordError(ServiceUnavailableError):
    """The user item changed (its ``ver``) since it was read; nothing was written: read again. Callers
    retry a few times; one that escapes is a 503 (the item kept changing), never a 500."""


@contextmanager
def stale_when_cancelled() -> Iterator[None]:
    """A transaction cancelled by a condition or a conflict becomes :class:`StaleRecordError`."""
    try:
        yield
    except TransactWriteError as exc:
        if failed_indexes(exc) or is_conflict(exc):
            raise StaleRecordError() from exc
        raise


def is_version(attribute: Any, value: int) -> Condition:
    """``attribute = value``, where a missing attribute counts as 0 (items written before it existed)."""
    same: Condition = attribute == value
    return (same | attribute.does_not_exist()) if value == 0 else same


def to_account(item: AccountItem) -> Account:
    return Account(
        provider=item.provider,
        open_id=item.open_id,
        account_type=item.account_type,
        app_id=item.app_id,
        nickname=item.nickname,
        avatar_url=item.avatar_url,
        created_at=item.created_at,
    )


@dataclass(frozen=True)
class LoginLookup:
    """What a sign-in reads first, in one BatchGetItem (the app's settings come from its cache)."""

    user_id: str | None
    defs: RoleDefs


@dataclass(frozen=True)
class PhoneLookup:
    user_id: str | None
    code: CodeRecord | None
    defs: RoleDefs


class UserRepository:
    def __init__(self, table: Table, clock: Clock = system_clock, retries: int = 3) -> None:
        self.table = table
        self.clock = clock
        self.retries = retries

    # -- reads -----------------------------------------------------------------------------------------
    def find_user_id(self, claim_keys: list[str]) -> str | None:
        """The user owning the first of ``claim_keys`` that exists (one GetItem or BatchGetItem)."""
        if len(claim_keys) == 1:
            try:
                return ClaimItem.get(claim_keys[0], keys.CLAIM).user_id
            except DoesNotExist:
                return None
        found = {c.pk: c.user_id for c in ClaimItem.batch_get([(k, keys.CLAIM) for k in claim_keys])}
        return next((found[k] for k in claim_keys if k in found), None)

    def phone_lookup(self, phone: str, code_type: str, app_name: str) -> PhoneLookup:
        """A phone sign-in's first read, in one BatchGetItem: the phone's owner, the code sent to it and
        (the phone's copy of) the app's role definitions."""
        wanted = [
            (keys.phone_claim(phone), keys.CLAIM),
            (keys.code_pk(code_type, phone), keys.CODE),
            keys.role_defs_copy(app_name, phone),
        ]
        found = PhoneLookup(None, None, RoleDefs(app_name))
        defs: dict[str, RoleDefsItem] = {}
        for item in BaseItem.batch_get(wanted):
            if isinstance(item, ClaimItem):
                found = replace(found, user_id=item.user_id)
            elif isinstance(item, CodeItem):
                found = replace(found, code=to_record(item))
            elif isinstance(item, RoleDefsItem):
                defs[app_name] = item
        return replace(found, defs=complete_defs([app_name], defs)[app_name])

    def identity_owners(self, account_claim: str, union_claim: str | None) -> tuple[str | None, str | None]:
        """Who owns a login identity, and who owns its UnionID (one BatchGetItem)."""
        wanted = [(account_claim, keys.CLAIM)] + ([(union_claim, keys.CLAIM)] if union_claim else [])
        owners = {item.pk: item.user_id for item in ClaimItem.batch_get(wanted)}
        return owners.get(account_claim), owners.get(union_claim) if union_claim else None

    def login_lookup(self, claim_keys: list[str], app_name: str) -> LoginLookup:
        """The identifier's owner and (the identifier's copy of) the app's role definitions (one round
        trip)."""
        reader = claim_keys[0] if claim_keys else None
        wanted = [(k, keys.CLAIM) for k in claim_keys] + [keys.role_defs_copy(app_name, reader)]
        claims: dict[str, str] = {}
        defs: dict[str, RoleDefsItem] = {}
        for item in BaseItem.batch_get(wanted):
            if isinstance(item, ClaimItem):
                claims[item.pk] = item.user_id
            elif isinstance(item, RoleDefsItem):
                defs[app_name] = item
        user_id = next((claims[k] for k in claim_keys if k in claims), None)
        return LoginLookup(user_id, complete_defs([app_name], defs)[app_name])

    def load(self, user_id: str, apps: Sequence[str] | None = None) -> UserRecord | None:
        """The user item with its grants resolved.

        ``apps`` given: the item and those apps' role definitions in one BatchGetItem (grants of other
        apps stay unresolved in ``record.roles``). Otherwise every app the user holds a role in is
        resolved (a GetItem, then a BatchGetItem of their definitions).
        """
        if apps is not None:
            wanted = [(keys.user_pk(user_id), keys.PROFILE)] + [keys.role_defs_copy(a, user_id) for a in apps]
            user: UserItem | None = None
            found: dict[str, RoleDefsItem] = {}
            for item in BaseItem.batch_get(wanted):
                if isinstance(item, UserItem):
                    user = item
                elif isinstance(item, RoleDefsItem):
                    found[item.app_name] = item
            if user is None:
                return None
            return record_of(user, complete_defs(apps, found))
        try:
            user = UserItem.get(keys.user_pk(user_id), keys.PROFILE, consistent_read=True)
        except DoesNotExist:
            return None
        held = sorted(user.roles or {})
        return record_of(user, read_role_defs(held, user_id))

    def current(self, user_id: str) -> UserRecord | None:
        """The user item as it is now (a strongly consistent GetItem), grants unresolved: for a change
        that follows another at once (a second factor confirmed right after its set-up)."""
        try:
            return record_of(UserItem.get(keys.user_pk(user_id), keys.PROFILE, consistent_read=True))
        except DoesNotExist:
            return None

    def resolve(self, item: UserItem, defs: RoleDefs) -> UserRecord:
        """A user item read by the sign-in's attempt reservation, with the sign-in app's grants."""
        return record_of(item, {defs.app_name: defs})

    def profiles(self, user_ids: list[str]) -> list[User]:
        """Profiles of several users (BatchGetItem)."""
        wanted = [(keys.user_pk(uid), keys.PROFILE) for uid in dict.fromkeys(user_ids)]
        return [to_user(item) for item in UserItem.batch_get(wanted) if isinstance(item, UserItem)]

    # -- creation --------------------------------------------------------------------------------------
    def create(
        self,
        user: User,
        claims: list[str],
        accounts: list[Account],
        grants: list[RoleGrant],
        session: Session | None,
        audit: dict[str, Any] | None = None,
        consume: Sequence[CodeUse] = (),
        external_ids: Sequence[str] = (),
    ) -> None:
        """Write a new user, its claims, grants and first session atomically (and consume the
        verification codes that proved its identifiers; ``external_ids``: an imported person's ids in
        the systems it came from).

        Raises:
            ClaimTakenError: one of ``claims`` exists already (nothing was written).
            CodeUsedError: the code was used meanwhile (nothing was written).
        """
        new = NewUser(user, claims, accounts, grants, audit, external_ids, session)
        for attempt in range(self.retries):
            try:
                with self.table.transaction() as tx:
                    delete_codes(tx, consume)
                    # Claims first: their positions map cancellation reasons back to identifiers.
                    self._stage(tx, new)
                return
            except TransactWriteError as exc:
                raise_if_code_used(exc, consume)
                offset = len(consume)
                failed = failed_indexes(exc)
                lost = [i - offset for i in failed if offset <= i < offset + len(claims)]
                if lost:
                    raise ClaimTakenError(claims[lost[0]]) from exc
                if not is_conflict(exc) or attempt == self.retries - 1:
                    raise

    def create_many(self, users: Sequence[NewUser]) -> list[Exception | None]:
        """Write many new users (an import), several to a transaction (at most ``TRANSACTION_ITEMS``
        items); each answer in order: None (written) or what ``create`` raised for it. A transaction
        that fails is retried user by user, so one taken identifier costs only its own row."""
        answers: list[Exception | None] = [None] * len(users)
        group: list[int] = []
        size = 0
        for index in [*range(len(users)), None]:
            items = users[index].item_count() if index is not None else 0
            if group and (index is None or size + items > TRANSACTION_ITEMS):
                try:
                    with self.table.transaction() as tx:
                        for member in group:
                            self._stage(tx, users[member])
                except TransactWriteError:
                    for member in group:
                        answers[member] = self._create_alone(users[member])
                group, size = [], 0
            if index is not None:
                group.append(index)
                size += items
        return answers

    def _create_alone(self, new: NewUser) -> Exception | None:
        try:
            self.create(new.user, new.claims, new.accounts, new.grants, None, new.audit, (), new.external_ids)
        except (ClaimTakenError, TransactWriteError) as exc:
            return exc
        return None

    def _stage(self, tx: Any, new: NewUser) -> None:
        """A new user's writes, claims first (see ``create``)."""
        user = new.user
        item = self._user_item(user)
        item.roles = roles_of(new.grants)
        item.accounts = [account_json(a) for a in new.accounts]
        item.sessions = {new.session.session_id: int(new.session.created_at)} if new.session is not None else {}
        item.rev, item.ver = 0, 0
        if new.external_ids:
            item.external_ids = list(new.external_ids)
        claim_all(tx, new.claims, user.user_id)
        tx.save(item, condition=UserItem.pk.does_not_exist())
        entry_sk = keys.directory_gsi2sk(user.created_at, user.user_id)
        for entry in sorted(filter_entries(user)):
            tx.save(FilterEntryItem(pk=entry, sk=entry_sk, user_id=user.user_id))
        for grant in new.grants:
            tx.save(grant_item(user.user_id, grant, user.created_at))
        if new.session is not None:
            tx.save(session_item(new.session))
        if new.audit is not None:
            tx.save(self._audit_item(user.user_id, new.audit))

    def load_many(self, user_ids: Sequence[str], apps: Sequence[str]) -> dict[str, UserRecord]:
        """Several users with the grants of ``apps`` resolved (strongly consistent BatchGetItems), by id:
        ``load(user_id, apps)`` for many at once."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        wanted = [(keys.user_pk(u), keys.PROFILE) for u in ids] + [keys.role_defs_copy(a, ids[0]) for a in apps]
        users: list[UserItem] = []
        found: dict[str, RoleDefsItem] = {}
        for item in BaseItem.batch_get(wanted, consistent_read=True):
            if isinstance(item, UserItem):
                users.append(item)
            elif isinstance(item, RoleDefsItem):
                found[item.app_name] = item
        defs = complete_defs(apps, found)
        return {item.user_id: record_of(item, defs) for item in users}

    # -- sign-in ---------------------------------------------------------------------------------------
    def open_session(
        self,
        record: UserRecord,
        session: Session,
        max_sessions: int,
        audit: dict[str, Any] | None = None,
        clear_failures: bool = False,
        consume: Consumable | None = None,
        new_grants: list[RoleGrant] | None = None,
        changes: Sequence[UserItemChange] = (),
    ) -> list[str]:
        """Write a new session for the user as read in ``record``, in one transaction: the session (a
        conditional put), the user item (its session list with the oldest sessions past ``max_sessions``
        ended, ``new_grants`` added, the attempt counter cleared when ``clear_failures``, and
        ``last_login_at`` when it is older than ``LAST_LOGIN_EVERY``, so most sign-ins leave the
        directory index alone), the audit event, the verification code (or waiting sign-in) consumed, and
        what else the sign-in writes on the user item (``changes``: a second factor accepted, a password
        rehashed), each on its own condition. Returns the session ids it ended.

        The user item is written only if its ``ver`` is still ``record.ver``: a change of rights or
        credentials made meanwhile (which all bump it) makes the caller read again, so no session is
        ever opened from a stale read. Concurrent sign-ins do not bump it: each adds its own entry.

        Raises:
            StaleRecordError: the user item changed since it was read (nothing was written).
            CodeUsedError: the code was used meanwhile (nothing was written).
        """
        listed = sorted((t, sid) for sid, t in record.sessions.items() if sid != session.session_id)
        ended = [sid for _, sid in listed[: max(0, len(listed) + 1 - max_sessions)]]
        created = int(session.created_at)
        # Nested writes: concurrent sign-ins of one user add their own entries without a conflict.
        actions: list[Action] = []
        if login_time_due(record.user.last_login_at, created):
            actions.append(UserItem.last_login_at.set(created))
        if record.has_session_map:
            actions.append(UserItem.sessions[session.session_id].set(created))
            actions += [UserItem.sessions[sid].remove() for sid in ended]
        else:
            actions.append(UserItem.sessions.set({session.session_id: created}))
        if clear_failures:
            actions += [UserItem.login_fails.remove(), UserItem.login_window.remove()]
        grants = new_grants or []
        if grants:
            roles = {app: dict(held) for app, held in record.roles.items()}
            for grant in grants:
                roles.setdefault(grant.app_name, {})[grant.role_code] = grant.epoch
            actions.append(UserItem.roles.set(roles))
        if grants or any(change.bumps_version for change in changes):
            actions.append(UserItem.ver.set(record.ver + 1))
        condition = UserItem.pk.exists() & is_version(UserItem.ver, record.ver)
        for change in changes:
            actions += change.actions()
            condition = condition & change.condition()
        uses = [consume] if consume is not None else []
        if not record.has_session_map:
            condition = condition & UserItem.sessions.does_not_exist()
        user_id = record.user.user_id
        try:
            with self.table.transaction() as tx:
                delete_codes(tx, uses)
                for sid in ended:
                    tx.delete(SessionItem(pk=keys.session_pk(sid), sk=keys.SESSION))
                tx.save(session_item(session), condition=SessionItem.pk.does_not_exist())
                for grant in grants:
                    tx.save(grant_item(user_id, grant, session.created_at))
                if audit is not None:  # in the user's own partition; in the transaction: login stays 3 trips
                    tx.save(self._audit_item(user_id, audit))
                tx.update(UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE), actions=actions, condition=condition)
        except TransactWriteError as exc:
            raise_if_code_used(exc, uses)
            if failed_indexes(exc) or is_conflict(exc):
                raise StaleRecordError() from exc
            raise
        return ended

    # -- changes of rights -----------------------------------------------------------------------------
    def change_grants(
        self, record: UserRecord, add: list[RoleGrant], remove: list[tuple[str, str]], now: float
    ) -> dict[str, dict[str, str]]:
        """Add and remove ``(app_name, role_code)`` grants: the user item's ``roles`` and the membership
        links, in one transaction, only if the user item is still as read. Sessions need no write: the
        authorizer reads ``roles`` with every request. Returns the new ``roles``.

        Raises:
            StaleRecordError: the user item changed since it was read (nothing was written).
        """
        roles = {app: dict(held) for app, held in record.roles.items()}
        gone: list[tuple[str, str, str]] = []
        for app_name, code in remove:
            epoch = roles.get(app_name, {}).pop(code, None)
            if epoch is not None:
                gone.append((app_name, code, epoch))
        for grant in add:
            roles.setdefault(grant.app_name, {})[grant.role_code] = grant.epoch
        roles = {app: held for app, held in roles.items() if held}
        user_id = record.user.user_id
        with stale_when_cancelled(), self.table.transaction() as tx:
            for app_name, code, _ in gone:
                tx.delete(UserRoleItem(pk=keys.user_pk(user_id), sk=keys.user_role_sk(app_name, code)))
            for grant in add:
                tx.save(grant_item(user_id, grant, now))
            tx.update(
                UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                actions=[UserItem.roles.set(roles), UserItem.ver.set(record.ver + 1)],
                condition=UserItem.pk.exists() & is_version(UserItem.ver, record.ver),
            )
        return roles

    def revoke_sessions(
        self,
        record: UserRecord,
        *,
        password_hash: str | None = None,
        status: str | None = None,
        keep: str | None = None,
        extra: list[Action] | None = None,
        consume: Sequence[CodeUse] = (),
    ) -> list[str]:
        """End every session of the user (but ``keep``), with a credential change in the same write (and
        the code that proved it consumed: a failure leaves the code usable for a retry).

        One UpdateItem (or, with ``keep``, a transaction with that session) bumps the user's ``rev``:
        every session opened under the old one, including those being opened right now, stops being
        valid at once for the authorizer, refresh and verify-token; no session can be missed, whatever
        their number. Returns the ids of the sessions to delete (clean-up: ``SessionService.free``).

        Raises:
            StaleRecordError: with ``keep``, the user item changed since it was read.
            CodeUsedError: a code of ``consume`` was used meanwhile (nothing was written).
        """
        user_id = record.user.user_id
        actions: list[Action] = [UserItem.updated_at.set(int(self.clock()))]
        if password_hash is not None:
            actions.append(UserItem.password_hash.set(password_hash))
        if status is not None:
            actions.append(UserItem.status.set(status))
        actions += extra or []
        item = UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE)
        ended = [sid for sid in record.sessions if sid != keep]
        kept = {keep: int(record.sessions.get(keep, self.clock()))} if keep is not None else {}
        if keep is None:
            # ADD, not SET: whatever happened since the read, the counters move on.
            actions += [UserItem.rev.add(1), UserItem.ver.add(1), UserItem.sessions.set({})]
            moving = status is not None and status != record.user.status
            if not consume and not moving:
                item.update(actions=actions, condition=UserItem.pk.exists())
                return ended
            try:
                with self.table.transaction() as tx:
                    delete_codes(tx, consume)
                    if moving and status is not None:
                        move_entries(tx, record.user, replace(record.user, status=status))
                    condition = filtered_as_read(record.user) if moving else UserItem.pk.exists()
                    tx.update(item, actions=actions, condition=condition)
            except TransactWriteError as exc:
                raise_if_code_used(exc, consume)
                if moving and (failed_indexes(exc) or is_conflict(exc)):
                    raise StaleRecordError() from exc
                raise
            return ended
        rev = record.rev + 1
        with stale_when_cancelled(), self.table.transaction() as tx:
            tx.update(
                SessionItem(pk=keys.session_pk(keep), sk=keys.SESSION),
                actions=[SessionItem.rev.set(rev)],
                condition=SessionItem.pk.exists(),
            )
            tx.update(
                item,
                actions=[
                    *actions,
                    UserItem.rev.set(rev),
                    UserItem.ver.set(record.ver + 1),
                    UserItem.sessions.set(kept),
                ],
                condition=UserItem.pk.exists() & is_version(UserItem.ver, record.ver),
            )
        return ended

    def take_over(
        self,
        record: UserRecord,
        proven: str,
        password_hash: str | None = None,
        consume: Sequence[CodeUse] = (),
    ) -> list[str]:
        """Hand the account to whoever just proved its ``proven`` identifier (``phone`` or ``email``),
        which the account held unproven: in one transaction the identifier becomes proven and the
        account loses its password (or gets ``password_hash``, the one the prover chose), its sessions
        (``rev``), the other identifier when unproven, and its WeChat identities (their claims
        released), so whoever registered it with someone else's identifier cannot reach it any more;
        the codes of ``consume`` are used in the same transaction. Returns the ids of the sessions it
        ended (for the caller to free).

        Raises:
            StaleRecordError: the user item changed since it was read.
            CodeUsedError: a code of ``consume`` was used meanwhile (nothing was written).
        """
        user = record.user
        actions: list[Action] = [
            UserItem.password_hash.remove() if password_hash is None else UserItem.password_hash.set(password_hash),
            UserItem.rev.set(record.rev + 1),
            UserItem.ver.set(record.ver + 1),
            UserItem.sessions.set({}),
            UserItem.updated_at.set(int(self.clock())),
            (UserItem.phone_verified if proven == "phone" else UserItem.email_verified).set(True),
        ]
        released: list[str] = []
        dropped = {"wechat", "password"}
        if proven != "email" and user.email and not user.email_verified:
            actions.append(UserItem.email.remove())
            released.append(keys.email_claim(user.email))
        if proven != "phone" and user.phone and not user.phone_verified:
            actions.append(UserItem.phone.remove())
            released.append(keys.phone_claim(user.phone))
            dropped.add("phone")
        for account in record.accounts:
            if account.provider == "wechat":
                released.append(keys.account_claim("wechat", account.app_id or "-", account.open_id))
        if user.union_id:
            actions.append(UserItem.union_id.remove())
            released.append(keys.union_claim(user.union_id))
        kept = [account_json(a) for a in record.accounts if a.provider not in dropped]
        actions.append(UserItem.accounts.set(kept))
        try:
            with stale_when_cancelled(), self.table.transaction() as tx:
                delete_codes(tx, consume)
                for claim in released:
                    tx.delete(ClaimItem(pk=claim, sk=keys.CLAIM), condition=ClaimItem.user_id == user.user_id)
                tx.update(
                    UserItem(pk=keys.user_pk(user.user_id), sk=keys.PROFILE),
                    actions=actions,
                    condition=UserItem.pk.exists() & is_version(UserItem.ver, record.ver),
                )
        except StaleRecordError as exc:
            if isinstance(exc.__cause__, TransactWriteError):
                raise_if_code_used(exc.__cause__, consume)
            raise
        return list(record.sessions)

    def set_status(self, record: UserRecord, status: str) -> None:
        """Set the status without ending sessions (enabling; disabling goes through revoke_sessions),
        with the user's ``FILTER#status`` entry.

        Raises:
            StaleRecordError: the status or department changed since ``record`` was read.
        """
        user = record.user
        actions: list[Action] = [UserItem.status.set(status), UserItem.updated_at.set(int(self.clock()))]
        with stale_when_cancelled(), self.table.transaction() as tx:
            move_entries(tx, user, replace(user, status=status))
            item = UserItem(pk=keys.user_pk(user.user_id), sk=keys.PROFILE)
            tx.update(item, actions=actions, condition=filtered_as_read(user))

    # -- profile and identifiers -----------------------------------------------------------------------
    def absorb(
        self,
        record: UserRecord,
        claims: list[str],
        accounts: list[Account],
        grants: list[RoleGrant],
        fields: dict[str, Any],
        external_ids: list[str],
        audit: dict[str, Any],
    ) -> None:
        """Join what an imported row adds to the user it names (its identifiers' claims, login identities,
        roles, the ``fields`` the user lacks, its external id), in one transaction, only if the user is
        still as read.

        Raises:
            ClaimTakenError: a claim was taken meanwhile; StaleRecordError: the user changed (nothing written).
        """
        user_id = record.user.user_id
        roles = {app: dict(held) for app, held in record.roles.items()}
        for grant in grants:
            roles.setdefault(grant.app_name, {})[grant.role_code] = grant.epoch
        actions: list[Action] = [
            UserItem.accounts.set([account_json(a) for a in [*record.accounts, *accounts]]),
            UserItem.roles.set(roles),
            UserItem.ver.set(record.ver + 1),
        ]
        if external_ids:
            actions.append(UserItem.external_ids.set((UserItem.external_ids | []).append(external_ids)))
        actions += [getattr(UserItem, name).set(value) for name, value in fields.items()]
        try:
            with self.table.transaction() as tx:
                claim_and_update(tx, claims, user_id, actions, record.ver)
                for grant in grants:
                    tx.save(grant_item(user_id, grant, float(audit["at"])))
                tx.save(self._audit_item(user_id, audit))
        except TransactWriteError as exc:
            lost = [i for i in failed_indexes(exc) if i < len(claims)]
            if lost:
                raise ClaimTakenError(claims[lost[0]]) from exc
            raise StaleRecordError() from exc

    def record_event(self, user_id: str, audit: dict[str, Any]) -> None:
        """An audit event alone (an admin's export, say) in the user's history."""
        self._audit_item(user_id, audit).save()

    def claim_owners(self, claim_keys: list[str]) -> dict[str, str]:
        """``{claim: user_id}`` of the claims that exist (BatchGetItem, strongly consistent)."""
        wanted = [(k, keys.CLAIM) for k in dict.fromkeys(claim_keys)]
        found = ClaimItem.batch_get(wanted, consistent_read=True) if wanted else []
        return {item.pk: item.user_id for item in found}

    def link_account(self, user_id: str, account: Account, union_id: str | None, now: float) -> None:
        """Add a login identity to a user (its claim keeps it unique); also claim the UnionID when the
        user has none yet.

        Raises:
            ClaimTakenError: the identity (or the UnionID) belongs to someone else now.
        """
        claim = keys.account_claim(account.provider, account.app_id or "-", account.open_id)
        claims = [claim] + ([keys.union_claim(union_id)] if union_id else [])
        for _ in range(self.retries):
            record = self.load(user_id, apps=[])
            if record is None:
                raise ClaimTakenError(claim)
            accounts = [account_json(a) for a in record.accounts] + [account_json(account)]
            actions: list[Action] = [
                UserItem.updated_at.set(int(now)),
                UserItem.accounts.set(accounts),
                UserItem.ver.set(record.ver + 1),
            ]
            if union_id:
                actions.append(UserItem.union_id.set(union_id))
            try:
                with self.table.transaction() as tx:
                    claim_and_update(tx, claims, user_id, actions, record.ver)
                return
            except TransactWriteError as exc:
                failed = failed_indexes(exc)
                lost = [i for i in failed if i < len(claims)]
                if lost:
                    raise ClaimTakenError(claims[lost[0]]) from exc
                if not failed and not is_conflict(exc):
                    raise
        raise StaleRecordError()

    def update_profile(
        self,
        user_id: str,
        changes: dict[str, Any],
        claim_swaps: list[tuple[str | None, str | None]] | None = None,
        consume: Sequence[CodeUse] = (),
        before: User | None = None,
    ) -> None:
        """Set profile fields; each ``(old_claim, new_claim)`` moves (or drops, when ``new_claim`` is
        None) an identifier claim in the same transaction, which also uses the codes of ``consume`` and,
        when the department changes, moves the user's ``FILTER#`` entry (``before``: the user as read;
        the write then needs the department still as read).

        Raises:
            ClaimTakenError: a new claim belongs to someone else.
            CodeUsedError: a code of ``consume`` was used meanwhile (nothing was written).
            StaleRecordError: the department changed since ``before`` was read.
        """
        swaps = claim_swaps or []
        moving = before is not None and "department_id" in changes and changes["department_id"] != before.department_id
        new_claims = [new for _, new in swaps if new]
        actions = []
        for name, value in changes.items():
            attr = getattr(UserItem, name)
            actions.append(attr.remove() if value is None else attr.set(value))
        actions.append(UserItem.updated_at.set(int(self.clock())))
        try:
            with self.table.transaction() as tx:
                delete_codes(tx, consume)
                for new_claim in new_claims:
                    tx.save(
                        ClaimItem(pk=new_claim, sk=keys.CLAIM, user_id=user_id),
                        condition=ClaimItem.pk.does_not_exist(),
                    )
                for old_claim, _ in swaps:
                    if old_claim:
                        tx.delete(ClaimItem(pk=old_claim, sk=keys.CLAIM), condition=ClaimItem.user_id == user_id)
                moved = 0
                if moving and before is not None:
                    after = replace(before, department_id=changes["department_id"])
                    move_entries(tx, before, after)
                    moved = len(filter_entries(before) - filter_entries(after))
                tx.update(
                    UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                    actions=actions,
                    condition=filtered_as_read(before) if moving and before is not None else UserItem.pk.exists(),
                )
        except TransactWriteError as exc:
            # PynamoDB sends deletes before puts, so the new claims follow every delete.
            raise_if_code_used(exc, consume)
            first = len(consume) + len([old for old, _ in swaps if old]) + moved
            failed = failed_indexes(exc)
            lost = [i - first for i in failed if first <= i < first + len(new_claims)]
            if lost:
                raise ClaimTakenError(new_claims[lost[0]]) from exc
            if moving and (failed or is_conflict(exc)):
                raise StaleRecordError() from exc
            raise

    def change_phone(
        self, record: UserRecord, new: str, now: float, verified: bool, consume: Sequence[CodeUse] = ()
    ) -> None:
        """Move the phone claim and the phone account to ``new`` in one transaction, which also uses the
        codes of ``consume``.

        Raises:
            ClaimTakenError: the new phone belongs to someone else.
            StaleRecordError: the user item changed since it was read.
            CodeUsedError: a code of ``consume`` was used meanwhile (nothing was written).
        """
        user_id, old = record.user.user_id, record.user.phone
        new_claim = keys.phone_claim(new)
        accounts = [account_json(a) for a in record.accounts if not (a.provider == "phone" and a.open_id == old)]
        accounts.append(account_json(Account(provider="phone", open_id=new, created_at=now)))
        try:
            with self.table.transaction() as tx:
                delete_codes(tx, consume)
                if old:
                    tx.delete(
                        ClaimItem(pk=keys.phone_claim(old), sk=keys.CLAIM), condition=ClaimItem.user_id == user_id
                    )
                tx.save(
                    ClaimItem(pk=new_claim, sk=keys.CLAIM, user_id=user_id), condition=ClaimItem.pk.does_not_exist()
                )
                tx.update(
                    UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                    actions=[
                        UserItem.phone.set(new),
                        UserItem.phone_verified.set(verified),
                        UserItem.accounts.set(accounts),
                        UserItem.ver.set(record.ver + 1),
                        UserItem.updated_at.set(int(now)),
                    ],
                    condition=UserItem.pk.exists() & is_version(UserItem.ver, record.ver),
                )
        except TransactWriteError as exc:
            raise_if_code_used(exc, consume)
            failed = failed_indexes(exc)
            first_put = len(consume) + (1 if old else 0)  # PynamoDB sends deletes first
            if first_put in failed:
                raise ClaimTakenError(new_claim) from exc
            if failed or is_conflict(exc):
                raise StaleRecordError() from exc
            raise

    def delete_user(self, record: UserRecord) -> None:
        """Delete the user item, its role links (and any item left in its partition) and its identifier
        claims in one transaction; its sessions die with the user item (the caller frees them)."""
        user = record.user
        claims: list[str] = []
        if user.username:
            claims.append(keys.username_claim(username_key(user.username)))
        if user.email:
            claims.append(keys.email_claim(user.email))
        if user.phone:
            claims.append(keys.phone_claim(user.phone))
        if user.union_id:
            claims.append(keys.union_claim(user.union_id))
        claims += [
            keys.account_claim(a.provider, a.app_id or "-", a.open_id)
            for a in record.accounts
            if a.provider == "wechat"
        ]
        partition = [(i.pk, i.sk) for i in BaseItem.query(keys.user_pk(user.user_id))]
        claims += [keys.passkey_claim(sk.removeprefix("PASSKEY#")) for _, sk in partition if sk.startswith("PASSKEY#")]
        entry_sk = keys.directory_gsi2sk(user.created_at, user.user_id)
        partition += [(pk, entry_sk) for pk in sorted(filter_entries(user))]
        with self.table.transaction() as tx:
            for pk, sk in partition:
                tx.delete(BaseItem(pk=pk, sk=sk))
            for claim in dict.fromkeys(claims):
                # only the user's own claims: another user's claim with the same key stays
                tx.delete(ClaimItem(pk=claim, sk=keys.CLAIM), condition=ClaimItem.user_id == user.user_id)

    def invitees(self, user_id: str, limit: int = 100) -> list[User]:
        """Users who signed up with ``user_id`` as their inviter (``FILTER#inviter#<id>``), oldest first."""
        entries = FilterEntryItem.query(keys.filter_pk("inviter", user_id), limit=limit)
        order = [str(e.user_id) for e in entries if isinstance(e, FilterEntryItem)]
        profiles = {u.user_id: u for u in self.profiles(order)}
        return [profiles[uid] for uid in order if uid in profiles]

    def directory(
        self,
        limit: int,
        before: str | None = None,
        status: str | None = None,
        department_id: str | None = None,
        real_name_prefix: str | None = None,
    ) -> tuple[list[User], str | None]:
        """A page of the user directory, newest first: one DynamoDB page (``Limit`` = ``limit``) of each
        of the ``SHARDS`` partitions below ``before`` (a ``GSI2SK``), filtered and merged
        (``shared.db.pages``). Returns the page and the cursor of the next one (None: the last). A
        filter that matches few users may answer an empty page with a cursor: the work is bounded. A
        department, or ``status=disabled``, is read from its ``FILTER#`` partition instead (a sparse
        index: only the users it lists), the other filters applied to that page."""
        if department_id or status == "disabled":
            name, value = ("department", department_id) if department_id else ("status", "disabled")
            entries = keys.filter_pk(name, str(value))
            return self._filtered_page(entries, limit, before, status, department_id, real_name_prefix)
        condition = None
        for part in (
            UserItem.status == status if status else None,
            UserItem.department_id == department_id if department_id else None,
            UserItem.real_name.startswith(real_name_prefix) if real_name_prefix else None,
        ):
            if part is not None:
                condition = part if condition is None else condition & part
        parts: list[Part[UserItem]] = []
        for shard in range(keys.SHARDS):
            results = UserItem.directory.query(
                keys.directory_gsi2pk(shard),
                UserItem.gsi2sk < before if before else None,
                scan_index_forward=False,
                filter_condition=condition,
                page_size=limit,
            )
            items, last = one_page(results, UserItem)
            matches = [(str(i.gsi2sk), i) for i in items if isinstance(i, UserItem)]
            parts.append(Part(matches, key_value(last, "GSI2SK")))
        page, cursor = merge(parts, limit, descending=True)
        return [to_user(item) for item in page], cursor

    def every_user(self, limit: int, cursor: str | None) -> tuple[list[UserItem], str | None]:
        """Up to ``limit`` whole user items, one directory shard after the other (not in one order across
        shards: an export's walk, which needs no merge), and the cursor of the next page (``<shard>:`` and
        the ``GSI2SK`` below which that shard goes on; None: every shard is read)."""
        shard, _, before = (cursor or "0:").partition(":")
        index = int(shard) if shard.isdigit() else 0
        found: list[str] = []
        while index < keys.SHARDS and len(found) < limit:
            results = UserItem.directory.query(
                keys.directory_gsi2pk(index),
                UserItem.gsi2sk < before if before else None,
                scan_index_forward=False,
                page_size=limit - len(found),
            )
            items, last = one_page(results, UserItem)
            found += [str(i.user_id) for i in items if isinstance(i, UserItem)]
            before = key_value(last, "GSI2SK") or ""
            if not before:
                index += 1
        wanted = [(keys.user_pk(u), keys.PROFILE) for u in found]
        by_id = {i.user_id: i for i in UserItem.batch_get(wanted, consistent_read=True)} if wanted else {}
        page = [by_id[u] for u in found if u in by_id]
        return page, (f"{index}:{before}" if index < keys.SHARDS else None)

    def _filtered_page(
        self,
        entries: str,
        limit: int,
        before: str | None,
        status: str | None,
        department_id: str | None,
        real_name_prefix: str | None,
    ) -> tuple[list[User], str | None]:
        """One DynamoDB page of a ``FILTER#`` partition below ``before``, with the listed profiles."""
        results = FilterEntryItem.query(
            entries, FilterEntryItem.sk < before if before else None, scan_index_forward=False, page_size=limit
        )
        listed, last = one_page(results, FilterEntryItem)
        order = {str(e.user_id): str(e.sk) for e in listed if isinstance(e, FilterEntryItem)}
        profiles = {u.user_id: u for u in self.profiles(list(order))}
        matches = [
            (sk, profiles[uid])
            for uid, sk in order.items()
            if uid in profiles
            and (not status or profiles[uid].status == status)
            and (not department_id or profiles[uid].department_id == department_id)
            and (not real_name_prefix or (profiles[uid].real_name or "").startswith(real_name_prefix))
        ]
        return merge([Part(matches, key_value(last, "SK"))], limit, descending=True)

    def _user_item(self, user: User) -> UserItem:
        values = {name: getattr(user, name) for name in USER_FIELDS}
        flags = {name: getattr(user, name) for name in FLAGS}
        item = UserItem(pk=keys.user_pk(user.user_id), sk=keys.PROFILE, user_id=user.user_id, **values, **flags)
        # GSI2: the user directory the admin lists, newest first, spread over SHARDS partitions.
        shard = keys.shard_of(user.user_id)
        item.gsi2pk, item.gsi2sk = keys.directory_gsi2pk(shard), keys.directory_gsi2sk(user.created_at, user.user_id)
        return item

    def _audit_item(self, user_id: str, audit: dict[str, Any]) -> AuditItem:
        return audit_item(user_id, audit)


def audit_item(user_id: str, audit: dict[str, Any]) -> AuditItem:
    """An audit event in the user's partition (``audit``: action, at, id, ip, detail, ttl)."""
    at = float(audit["at"])
    return AuditItem(
        pk=keys.audit_pk(user_id),
        sk=keys.audit_sk(at, str(audit["id"])),
        user_id=user_id,
        action=str(audit["action"]),
        at=int(at),
        ip=audit.get("ip"),
        detail=audit.get("detail"),
        ttl=audit.get("ttl"),
    )


def claim_and_update(tx: Any, claims: list[str], user_id: str, actions: list[Action], ver: int) -> None:
    """Claim keys for a user and change its item in one transaction, only if the item is still at
    ``ver`` (claims first: a lost one cancels at its position, ``claims[i]``)."""
    claim_all(tx, claims, user_id)
    tx.update(
        UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
        actions=actions,
        condition=UserItem.pk.exists() & is_version(UserItem.ver, ver),
    )


def claim_all(tx: Any, claims: list[str], user_id: str) -> None:
    """Claim each key for the user inside a transaction, only where nobody holds it (a lost one cancels
    the transaction at its position: put them first to map the reasons back)."""
    for claim in claims:
        tx.save(ClaimItem(pk=claim, sk=keys.CLAIM, user_id=user_id), condition=ClaimItem.pk.does_not_exist())


def grant_item(user_id: str, grant: RoleGrant, created_at: float) -> UserRoleItem:
    """A membership link: ``grant``'s role incarnation, in the user's shard of its member index."""
    return UserRoleItem(
        pk=keys.user_pk(user_id),
        sk=keys.user_role_sk(grant.app_name, grant.role_code),
        gsi1pk=keys.role_members_gsi1pk(grant.app_name, grant.role_code, grant.epoch, keys.shard_of(user_id)),
        gsi1sk=keys.user_pk(user_id),
        user_id=user_id,
        app_name=grant.app_name,
        role_code=grant.role_code,
        role_id=grant.role_id,
        epoch=grant.epoch,
        created_at=int(created_at),
    )
