"""User partition access: profile, identifier claims, accounts and role grants.

Access patterns (docs/data-model.md): find a user by username/email/phone (GetItem on a claim), load a
user with accounts and grants (one Query on ``USER#<id>``), create a user with its claims and first
session (one transaction), swap an identifier claim (one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action

from shared.clock import Clock, system_clock
from shared.db import keys
from shared.db.apps import to_app, to_role
from shared.db.codes import CodeRecord, CodeUse, CodeUsedError, to_record
from shared.db.models import (
    AccountItem,
    AppItem,
    AuditItem,
    BaseItem,
    ClaimItem,
    CodeItem,
    LoginFailuresItem,
    RoleItem,
    SessionItem,
    UserItem,
    UserRoleItem,
)
from shared.db.sessions import session_item
from shared.db.table import Table, failed_indexes, is_conflict
from shared.domain import Account, AppConfig, Role, RoleGrant, Session, User, UserRecord
from shared.identifiers import username_key

USER_FIELDS = (
    "username",
    "nickname",
    "real_name",
    "email",
    "phone",
    "avatar",
    "gender",
    "birthday",
    "status",
    "union_id",
    "referer_id",
    "department_id",
    "password_hash",
    "created_at",
    "last_login_at",
)


class ClaimTakenError(Exception):
    """An identifier claim already exists; ``claim`` is the claim key that lost."""

    def __init__(self, claim: str) -> None:
        super().__init__(claim)
        self.claim = claim


def to_user(item: UserItem) -> User:
    return User(user_id=item.user_id, **{name: getattr(item, name) for name in USER_FIELDS})


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


def to_grant(item: UserRoleItem) -> RoleGrant:
    return RoleGrant(
        app_name=item.app_name,
        role_code=item.role_code,
        role_id=item.role_id,
        role_name=item.role_name,
        permissions=list(item.permissions or []),
    )


@dataclass(frozen=True)
class LoginLookup:
    """What a sign-in reads first, in one BatchGetItem."""

    user_id: str | None
    failures: int
    failures_since: float | None
    app: AppConfig | None


@dataclass(frozen=True)
class PhoneLookup:
    user_id: str | None
    code: CodeRecord | None
    app: AppConfig | None
    role: Role | None


class UserRepository:
    def __init__(self, table: Table, clock: Clock = system_clock, retries: int = 3) -> None:
        self.table = table
        self.clock = clock
        self.retries = retries

    def find_user_id(self, claim_keys: list[str]) -> str | None:
        """The user owning the first of ``claim_keys`` that exists (one GetItem or BatchGetItem)."""
        if len(claim_keys) == 1:
            try:
                return ClaimItem.get(claim_keys[0], keys.CLAIM).user_id
            except DoesNotExist:
                return None
        found = {c.pk: c.user_id for c in ClaimItem.batch_get([(k, keys.CLAIM) for k in claim_keys])}
        return next((found[k] for k in claim_keys if k in found), None)

    def phone_lookup(self, phone: str, code_type: str, app_name: str, role_code: str) -> PhoneLookup:
        """A phone sign-in's first read, in one BatchGetItem: the phone's owner, the code sent to it, the
        app's settings and its usual default role."""
        wanted = [
            (keys.phone_claim(phone), keys.CLAIM),
            (keys.code_pk(code_type, phone), keys.CODE),
            (keys.app_pk(app_name), keys.META),
            (keys.app_pk(app_name), keys.role_sk(role_code)),
        ]
        found = PhoneLookup(None, None, None, None)
        for item in BaseItem.batch_get(wanted):
            if isinstance(item, ClaimItem):
                found = replace(found, user_id=item.user_id)
            elif isinstance(item, CodeItem):
                found = replace(found, code=to_record(item))
            elif isinstance(item, AppItem):
                found = replace(found, app=to_app(item))
            elif isinstance(item, RoleItem):
                found = replace(found, role=to_role(item))
        return found

    def identity_owners(self, account_claim: str, union_claim: str | None) -> tuple[str | None, str | None]:
        """Who owns a login identity, and who owns its UnionID (one BatchGetItem)."""
        wanted = [(account_claim, keys.CLAIM)] + ([(union_claim, keys.CLAIM)] if union_claim else [])
        owners = {item.pk: item.user_id for item in ClaimItem.batch_get(wanted)}
        return owners.get(account_claim), owners.get(union_claim) if union_claim else None

    def link_account(self, user_id: str, account: Account, union_id: str | None, now: float) -> None:
        """Add a login identity to a user (its claim keeps it unique); also claim the UnionID when the
        user has none yet.

        Raises:
            ClaimTakenError: the identity (or the UnionID) belongs to someone else now.
        """
        claim = keys.account_claim(account.provider, account.app_id or "-", account.open_id)
        claims = [claim] + ([keys.union_claim(union_id)] if union_id else [])
        try:
            with self.table.transaction() as tx:
                for key in claims:
                    tx.save(ClaimItem(pk=key, sk=keys.CLAIM, user_id=user_id), condition=ClaimItem.pk.does_not_exist())
                tx.save(self._account_item(user_id, account))
                actions: list[Action] = [UserItem.updated_at.set(int(now))]
                if union_id:
                    actions.append(UserItem.union_id.set(union_id))
                tx.update(
                    UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE), actions=actions, condition=UserItem.pk.exists()
                )
        except TransactWriteError as exc:
            lost = [i for i in failed_indexes(exc) if i < len(claims)]
            if lost:
                raise ClaimTakenError(claims[lost[0]]) from exc
            raise

    def login_lookup(self, claim_keys: list[str], failures_key: str, app_name: str) -> LoginLookup:
        """The identifier's owner, its recent sign-in failures and the app's settings (one round trip)."""
        wanted = [(k, keys.CLAIM) for k in claim_keys]
        wanted += [(keys.login_failures_pk(failures_key), keys.LOCK), (keys.app_pk(app_name), keys.META)]
        claims: dict[str, str] = {}
        failures, since, app = 0, None, None
        for item in BaseItem.batch_get(wanted):
            if isinstance(item, ClaimItem):
                claims[item.pk] = item.user_id
            elif isinstance(item, LoginFailuresItem):
                failures, since = int(item.failures or 0), float(item.window_start)
            elif isinstance(item, AppItem):
                app = to_app(item)
        user_id = next((claims[k] for k in claim_keys if k in claims), None)
        return LoginLookup(user_id, failures, since, app)

    def load(self, user_id: str) -> UserRecord | None:
        """Profile, accounts and grants in one Query of the user's partition."""
        record: UserRecord | None = None
        accounts: list[Account] = []
        grants: list[RoleGrant] = []
        for item in BaseItem.query(keys.user_pk(user_id)):
            if isinstance(item, UserItem):
                record = UserRecord(user=to_user(item))
            elif isinstance(item, AccountItem):
                accounts.append(to_account(item))
            elif isinstance(item, UserRoleItem):
                grants.append(to_grant(item))
        if record is None:
            return None
        record.accounts = accounts
        record.grants = grants
        return record

    def create(
        self,
        user: User,
        claims: list[str],
        accounts: list[Account],
        grants: list[RoleGrant],
        session: Session | None,
        audit: dict[str, Any] | None = None,
        consume: CodeUse | None = None,
    ) -> None:
        """Write a new user, its claims, accounts, grants and first session atomically (and consume the
        verification code that proved an identifier, when given).

        Raises:
            ClaimTakenError: one of ``claims`` exists already (nothing was written).
            CodeUsedError: the code was used meanwhile (nothing was written).
        """
        for attempt in range(self.retries):
            try:
                with self.table.transaction() as tx:
                    if consume is not None:  # a delete: PynamoDB sends it first (position 0)
                        tx.delete(consume.item(), condition=consume.delete_condition())
                    # Claims first: their positions map cancellation reasons back to identifiers.
                    for claim in claims:
                        tx.save(
                            ClaimItem(pk=claim, sk=keys.CLAIM, user_id=user.user_id),
                            condition=ClaimItem.pk.does_not_exist(),
                        )
                    tx.save(self._user_item(user), condition=UserItem.pk.does_not_exist())
                    for account in accounts:
                        tx.save(self._account_item(user.user_id, account))
                    for grant in grants:
                        tx.save(grant_item(user.user_id, grant, user.created_at))
                    if session is not None:
                        tx.save(session_item(session))
                    if audit is not None:
                        tx.save(self._audit_item(user.user_id, audit))
                return
            except TransactWriteError as exc:
                offset = 1 if consume is not None else 0
                failed = failed_indexes(exc)
                if consume is not None and 0 in failed:
                    raise CodeUsedError() from exc
                lost = [i - offset for i in failed if offset <= i < offset + len(claims)]
                if lost:
                    raise ClaimTakenError(claims[lost[0]]) from exc
                if not is_conflict(exc) or attempt == self.retries - 1:
                    raise

    def open_session(
        self,
        session: Session,
        audit: dict[str, Any] | None = None,
        clear_failures: str | None = None,
        consume: CodeUse | None = None,
    ) -> None:
        """Write a new session and stamp ``last_login_at`` in one transaction; it also forgets sign-in
        failures and consumes the verification code of a code sign-in, when given.

        Raises:
            CodeUsedError: the code was used meanwhile (nothing was written).
        """
        try:
            self._open_session(session, audit, clear_failures, consume)
        except TransactWriteError as exc:
            if consume is not None and 0 in failed_indexes(exc):
                raise CodeUsedError() from exc
            raise

    def _open_session(
        self, session: Session, audit: dict[str, Any] | None, clear_failures: str | None, consume: CodeUse | None
    ) -> None:
        with self.table.transaction() as tx:
            if consume is not None:  # the first delete, so position 0
                tx.delete(consume.item(), condition=consume.delete_condition())
            if clear_failures:
                tx.delete(LoginFailuresItem(pk=keys.login_failures_pk(clear_failures), sk=keys.LOCK))
            tx.save(session_item(session))
            tx.update(
                UserItem(pk=keys.user_pk(session.user_id), sk=keys.PROFILE),
                actions=[UserItem.last_login_at.set(int(session.created_at))],
                condition=UserItem.pk.exists(),
            )
            if audit is not None:
                tx.save(self._audit_item(session.user_id, audit))

    def update_profile(
        self,
        user_id: str,
        changes: dict[str, Any],
        claim_swaps: list[tuple[str | None, str | None]] | None = None,
    ) -> None:
        """Set profile fields; each ``(old_claim, new_claim)`` moves (or drops, when ``new_claim`` is
        None) an identifier claim in the same transaction.

        Raises:
            ClaimTakenError: a new claim belongs to someone else.
        """
        swaps = claim_swaps or []
        new_claims = [new for _, new in swaps if new]
        actions = []
        for name, value in changes.items():
            attr = getattr(UserItem, name)
            actions.append(attr.remove() if value is None else attr.set(value))
        actions.append(UserItem.updated_at.set(int(self.clock())))
        try:
            with self.table.transaction() as tx:
                for new_claim in new_claims:
                    tx.save(
                        ClaimItem(pk=new_claim, sk=keys.CLAIM, user_id=user_id),
                        condition=ClaimItem.pk.does_not_exist(),
                    )
                for old_claim, _ in swaps:
                    if old_claim:
                        tx.delete(ClaimItem(pk=old_claim, sk=keys.CLAIM), condition=ClaimItem.user_id == user_id)
                tx.update(
                    UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                    actions=actions,
                    condition=UserItem.pk.exists(),
                )
        except TransactWriteError as exc:
            # PynamoDB sends deletes before puts, so the new claims follow the old-claim deletes.
            first = len([old for old, _ in swaps if old])
            lost = [i - first for i in failed_indexes(exc) if first <= i < first + len(new_claims)]
            if lost:
                raise ClaimTakenError(new_claims[lost[0]]) from exc
            raise

    def add_grant(self, user_id: str, grant: RoleGrant, now: float) -> None:
        """Give a user a role (idempotent: the link item is keyed by app and role code)."""
        grant_item(user_id, grant, now).save()

    def set_password(self, user_id: str, password_hash: str, revoke_session_ids: list[str]) -> None:
        """Store a new password hash and delete the given sessions atomically (≤ 99 sessions per call)."""
        with self.table.transaction() as tx:
            tx.update(
                UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                actions=[
                    UserItem.password_hash.set(password_hash),
                    UserItem.updated_at.set(int(self.clock())),
                ],
                condition=UserItem.pk.exists(),
            )
            for sid in revoke_session_ids[:99]:
                tx.delete(SessionItem(pk=keys.session_pk(sid), sk=keys.SESSION))

    def set_status(self, user_id: str, status: str, revoke_session_ids: list[str]) -> None:
        """Set the user's status and delete the given sessions atomically (≤ 99 sessions per call)."""
        with self.table.transaction() as tx:
            tx.update(
                UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                actions=[UserItem.status.set(status), UserItem.updated_at.set(int(self.clock()))],
                condition=UserItem.pk.exists(),
            )
            for sid in revoke_session_ids[:99]:
                tx.delete(SessionItem(pk=keys.session_pk(sid), sk=keys.SESSION))

    def _user_item(self, user: User) -> UserItem:
        values = {name: getattr(user, name) for name in USER_FIELDS}
        item = UserItem(pk=keys.user_pk(user.user_id), sk=keys.PROFILE, user_id=user.user_id, **values)
        # GSI2: the user directory the admin lists, newest first.
        item.gsi2pk, item.gsi2sk = keys.USERS, keys.directory_gsi2sk(user.created_at, user.user_id)
        if user.referer_id:
            # GSI1: the inviter's invitees, oldest first.
            item.gsi1pk = keys.invitees_gsi1pk(user.referer_id)
            item.gsi1sk = keys.invitee_gsi1sk(user.created_at, user.user_id)
        return item

    def directory(
        self,
        limit: int,
        cursor: dict[str, Any] | None = None,
        status: str | None = None,
        department_id: str | None = None,
        real_name_prefix: str | None = None,
    ) -> tuple[list[User], dict[str, Any] | None]:
        """A page of the user directory (GSI2 ``USERS``, newest first), filtered in the Query."""
        condition = None
        for part in (
            UserItem.status == status if status else None,
            UserItem.department_id == department_id if department_id else None,
            UserItem.real_name.startswith(real_name_prefix) if real_name_prefix else None,
        ):
            if part is not None:
                condition = part if condition is None else condition & part
        results = UserItem.gsi2.query(
            keys.USERS,
            scan_index_forward=False,
            filter_condition=condition,
            limit=limit,
            last_evaluated_key=cursor,
        )
        users = [to_user(item) for item in results if isinstance(item, UserItem)]
        return users, results.last_evaluated_key

    def profiles(self, user_ids: list[str]) -> list[User]:
        """Profiles of several users (BatchGetItem)."""
        wanted = [(keys.user_pk(uid), keys.PROFILE) for uid in dict.fromkeys(user_ids)]
        return [to_user(item) for item in UserItem.batch_get(wanted) if isinstance(item, UserItem)]

    def delete_user(self, record: UserRecord) -> None:
        """Delete the profile, accounts, role links and identifier claims of a user in one transaction
        (sessions are deleted by the caller first)."""
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
        accounts = [a for a in record.accounts]
        claims += [
            keys.account_claim(a.provider, a.app_id or "-", a.open_id) for a in accounts if a.provider == "wechat"
        ]
        with self.table.transaction() as tx:
            tx.delete(UserItem(pk=keys.user_pk(user.user_id), sk=keys.PROFILE))
            for account in accounts:
                sk = keys.account_sk(account.provider, account.app_id or "-", account.open_id)
                tx.delete(AccountItem(pk=keys.user_pk(user.user_id), sk=sk))
            for grant in record.grants:
                tx.delete(
                    UserRoleItem(pk=keys.user_pk(user.user_id), sk=keys.user_role_sk(grant.app_name, grant.role_code))
                )
            for claim in claims:
                # only the user's own claims: another user's claim with the same key stays
                tx.delete(ClaimItem(pk=claim, sk=keys.CLAIM), condition=ClaimItem.user_id == user.user_id)

    def invitees(self, user_id: str, limit: int = 100) -> list[User]:
        """Users who signed up with ``user_id`` as their inviter (GSI1 ``INVITER#<id>``), oldest first."""
        return [
            to_user(item)
            for item in UserItem.gsi1.query(keys.invitees_gsi1pk(user_id), limit=limit)
            if isinstance(item, UserItem)
        ]

    def change_phone(self, user_id: str, old: str | None, new: str, now: float) -> None:
        """Move the phone claim and the phone account to ``new`` in one transaction.

        Raises:
            ClaimTakenError: the new phone belongs to someone else.
        """
        new_claim = keys.phone_claim(new)
        try:
            with self.table.transaction() as tx:
                if old:
                    tx.delete(
                        ClaimItem(pk=keys.phone_claim(old), sk=keys.CLAIM), condition=ClaimItem.user_id == user_id
                    )
                    tx.delete(AccountItem(pk=keys.user_pk(user_id), sk=keys.account_sk("phone", "-", old)))
                tx.save(
                    ClaimItem(pk=new_claim, sk=keys.CLAIM, user_id=user_id), condition=ClaimItem.pk.does_not_exist()
                )
                tx.save(self._account_item(user_id, Account(provider="phone", open_id=new, created_at=now)))
                tx.update(
                    UserItem(pk=keys.user_pk(user_id), sk=keys.PROFILE),
                    actions=[UserItem.phone.set(new), UserItem.updated_at.set(int(now))],
                    condition=UserItem.pk.exists(),
                )
        except TransactWriteError as exc:
            first_put = 2 if old else 0  # PynamoDB sends deletes first
            if first_put in failed_indexes(exc):
                raise ClaimTakenError(new_claim) from exc
            raise

    def _account_item(self, user_id: str, account: Account) -> AccountItem:
        return AccountItem(
            pk=keys.user_pk(user_id),
            sk=keys.account_sk(account.provider, account.app_id or "-", account.open_id),
            user_id=user_id,
            provider=account.provider,
            account_type=account.account_type,
            app_id=account.app_id,
            open_id=account.open_id,
            nickname=account.nickname,
            avatar_url=account.avatar_url,
            created_at=account.created_at,
        )

    def _audit_item(self, user_id: str, audit: dict[str, Any]) -> AuditItem:
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


def grant_item(user_id: str, grant: RoleGrant, created_at: float) -> UserRoleItem:
    return UserRoleItem(
        pk=keys.user_pk(user_id),
        sk=keys.user_role_sk(grant.app_name, grant.role_code),
        gsi1pk=keys.role_members_gsi1pk(grant.app_name, grant.role_code),
        gsi1sk=keys.user_pk(user_id),
        user_id=user_id,
        app_name=grant.app_name,
        role_code=grant.role_code,
        role_id=grant.role_id,
        role_name=grant.role_name,
        permissions=list(grant.permissions),
        created_at=int(created_at),
    )
