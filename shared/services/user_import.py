"""Importing the replaced systems' users (issue 12, API.md section 13): up to 1,000 rows a request, each
answered on its own, never paying bcrypt (hashes are kept as they are and replaced at the first sign-in:
``shared.services.legacy_hashes``).

A row is one person of one system, named by ``external_id`` (``<system>:<id>``, claimed as
``EXT#<external_id>``, so re-sending a row changes nothing). Rows that name the same person by phone,
email, WeChat UnionID or a WeChat identity are joined into one user (``merged``: what the user lacks is
added) or, with ``on_match=conflict``, reported; a row that would join two users, or take a username
someone else holds, is a ``conflict``. A row's writes (the user, its claims, role links and an audit
event) are never split across transactions: new users go several to a transaction, and one that fails is
retried row by row (``UserRepository.create_many``); a merge is a transaction of its own. So a failure
leaves nothing half written, and 1,000 rows take a few dozen writes, not a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db import keys
from shared.db.users import ClaimTakenError, NewUser, StaleRecordError, UserRepository
from shared.domain import Account, RoleGrant, User, UserRecord
from shared.errors import NotFoundError, ValidationError
from shared.identifiers import username_key
from shared.schemas import ImportRow
from shared.services import legacy_hashes
from shared.services.accounts import normalized_identifiers
from shared.services.apps import AppDirectory

MERGEABLE = ("email", "phone", "nickname", "real_name", "avatar", "gender", "birthday", "department_id", "union_id")


@dataclass
class RowResult:
    external_id: str
    status: str  # created | merged | unchanged | conflict | invalid
    user_id: str | None = None
    reason: str | None = None
    fields: dict[str, list[str]] | None = None

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"external_id": self.external_id, "status": self.status}
        data.update(
            {k: v for k, v in (("user_id", self.user_id), ("reason", self.reason), ("fields", self.fields)) if v}
        )
        return data


@dataclass
class Plan:
    """A valid row, normalised: the user it would create, its claims and login identities, its grants."""

    row: ImportRow
    user: User
    username: str | None
    person_claims: list[str]  # the claims that say who the person is (phone, email, UnionID, WeChat ids)
    accounts: list[Account]
    grants: list[RoleGrant] = field(default_factory=list)

    @property
    def external_ids(self) -> list[str]:
        return list(dict.fromkeys([self.row.external_id, *self.row.external_ids]))

    @property
    def ext_claim(self) -> str:
        return keys.external_claim(self.row.external_id)

    @property
    def ext_claims(self) -> list[str]:
        return [keys.external_claim(e) for e in self.external_ids]

    @property
    def username_claim(self) -> str | None:
        return keys.username_claim(username_key(self.username)) if self.username else None

    @property
    def claims(self) -> list[str]:
        named = [self.username_claim] if self.username_claim else []
        return [*self.ext_claims, *named, *self.person_claims]


class Batch:
    """The new users of one request, written several to a transaction when flushed
    (``UserRepository.create_many``), and the users this request made or changed (a later row naming
    one of them reads it again, after a flush)."""

    def __init__(self, users: UserRepository, dry_run: bool) -> None:
        self.users = users
        self.dry_run = dry_run
        self.waiting: list[tuple[int, Plan, dict[str, Any]]] = []
        self.touched: set[str] = set()
        self.results: dict[int, RowResult] = {}

    def add(self, index: int, plan: Plan, audit: dict[str, Any]) -> None:
        self.touched.add(plan.user.user_id)
        if self.dry_run:
            self.results[index] = RowResult(plan.row.external_id, "created", plan.user.user_id)
        else:
            self.waiting.append((index, plan, audit))

    def flush(self) -> None:
        """Write the waiting users; each row's result goes to ``results``."""
        if not self.waiting:
            return
        news = [NewUser(p.user, p.claims, p.accounts, p.grants, audit, p.external_ids) for _, p, audit in self.waiting]
        for (index, plan, _), error in zip(self.waiting, self.users.create_many(news), strict=True):
            external_id, user_id = plan.row.external_id, plan.user.user_id
            if error is None:
                self.results[index] = RowResult(external_id, "created", user_id)
            elif isinstance(error, ClaimTakenError):
                self.results[index] = RowResult(external_id, "conflict", reason="an identifier was taken meanwhile")
            else:
                self.results[index] = RowResult(external_id, "conflict", reason="user_id taken")
        self.waiting = []


class UserImport:
    def __init__(
        self, users: UserRepository, apps: AppDirectory, clock: Clock = system_clock, ids: IdFactory = new_id
    ) -> None:
        self.users = users
        self.apps = apps
        self.clock = clock
        self.ids = ids

    def run(self, rows: list[dict[str, Any]], on_match: str, dry_run: bool, admin_id: str) -> list[RowResult]:
        """Each row's result, in order (``dry_run``: checked and matched, nothing written).

        A request reads what it needs at once (the owners of every row's claims, the users they name)
        and writes new users several to a transaction (``UserRepository.create_many``), so that 1,000
        rows fit in a function's time. Rows are decided in order against what the earlier rows of the
        request did: a row naming a person an earlier row created or changed sees that."""
        answers: list[RowResult | None] = [None] * len(rows)
        plans: list[tuple[int, Plan]] = []
        for index, raw in enumerate(rows):
            planned = self._parsed(raw)
            if isinstance(planned, RowResult):
                answers[index] = planned
            else:
                plans.append((index, planned))
        owners = self.users.claim_owners([c for _, plan in plans for c in plan.claims])
        apps = sorted({app for _, plan in plans for app in plan.row.roles})
        records = self.users.load_many(sorted(set(owners.values())), apps)
        batch = Batch(self.users, dry_run)
        for index, plan in plans:
            answers[index] = self._row(index, plan, owners, records, batch, on_match, admin_id, apps)
        batch.flush()
        for index, result in batch.results.items():
            answers[index] = result
        return [answer for answer in answers if answer is not None]

    def _parsed(self, raw: dict[str, Any]) -> Plan | RowResult:
        external_id = str(raw.get("external_id") or "")[:160]
        try:
            return self._plan(ImportRow.model_validate(raw))
        except PydanticValidationError as exc:
            fields: dict[str, list[str]] = {}
            for error in exc.errors():
                fields.setdefault(".".join(str(p) for p in error["loc"]) or "row", []).append(str(error["msg"]))
            return RowResult(external_id, "invalid", fields=fields)
        except ValidationError as exc:
            return RowResult(external_id, "invalid", fields=exc.errors or {})

    def _row(
        self,
        index: int,
        plan: Plan,
        owners: dict[str, str],
        records: dict[str, UserRecord],
        batch: Batch,
        on_match: str,
        admin_id: str,
        apps: list[str],
    ) -> RowResult | None:
        """The row's result, or None for a new user queued in ``batch`` (answered at its flush)."""
        external_id = plan.row.external_id
        matched = sorted({owners[c] for c in plan.person_claims if c in owners})
        target = owners.get(plan.ext_claim)
        if target is None and len(matched) > 1:
            return RowResult(external_id, "conflict", reason=f"names {len(matched)} different users")
        if target is None and matched and on_match == "conflict":
            return RowResult(external_id, "conflict", matched[0], reason="matches an existing user")
        target = target or (matched[0] if matched else None)
        if any(user_id != target for user_id in matched):
            return RowResult(external_id, "conflict", target, reason="its identifiers belong to another user")
        name_owner = owners.get(plan.username_claim or "")
        if name_owner is not None and name_owner != target:
            return RowResult(external_id, "conflict", target, reason="username taken by another user")
        audit = {
            "action": "imported",
            "at": self.clock(),
            "id": self.ids(),
            "detail": {"by": admin_id, "row": external_id},
        }
        if target is None:
            owners.update(dict.fromkeys(plan.claims, plan.user.user_id))
            batch.add(index, plan, audit)
            return None
        if batch.dry_run and target in batch.touched:  # a person an earlier row of this dry run made or changed
            return RowResult(external_id, "merged", target)
        record = records.get(target)
        if record is None or target in batch.touched:  # written by this request: read it as it is now
            batch.flush()
            record = self.users.load(target, apps=apps)
        result = self._merge(plan, record, owners, audit, batch.dry_run)
        if result.status == "merged":
            batch.touched.add(target)
        return result

    def _merge(
        self,
        plan: Plan,
        record: UserRecord | None,
        owners: dict[str, str],
        audit: dict[str, Any],
        dry_run: bool,
    ) -> RowResult:
        external_id = plan.row.external_id
        if record is None:
            return RowResult(external_id, "conflict", reason="the user it names is gone (deleted, or its row failed)")
        user_id = record.user.user_id
        fields = self._missing_fields(record, plan)
        known = {(a.provider, a.app_id, a.open_id) for a in record.accounts}
        accounts = [
            a for a in plan.accounts if a.provider == "wechat" and (a.provider, a.app_id, a.open_id) not in known
        ]
        if "password_hash" in fields and not any(a.provider == "password" for a in record.accounts):
            accounts.append(Account(provider="password", open_id=user_id, created_at=plan.user.created_at))
        # Claims for what the user takes from the row only (its own email, phone, name... stay)
        taken = list(plan.ext_claims)
        taken += [keys.username_claim(username_key(fields["username"]))] if "username" in fields else []
        taken += [keys.email_claim(fields["email"])] if "email" in fields else []
        taken += [keys.phone_claim(fields["phone"])] if "phone" in fields else []
        taken += [keys.union_claim(fields["union_id"])] if "union_id" in fields else []
        taken += [keys.account_claim("wechat", a.app_id or "-", a.open_id) for a in accounts if a.provider == "wechat"]
        claims = [c for c in dict.fromkeys(taken) if owners.get(c) != user_id]
        held = record.roles
        grants = [g for g in plan.grants if held.get(g.app_name, {}).get(g.role_code) != g.epoch]
        if not (claims or accounts or grants or fields):
            return RowResult(external_id, "unchanged", user_id)
        if not dry_run:
            try:
                new_ids = [e for e in plan.external_ids if keys.external_claim(e) in claims]
                self.users.absorb(record, claims, accounts, grants, fields, new_ids, audit)
            except ClaimTakenError:
                return RowResult(external_id, "conflict", user_id, reason="an identifier was taken meanwhile")
            except StaleRecordError:
                return RowResult(external_id, "conflict", user_id, reason="the user changed meanwhile: send it again")
        owners.update(dict.fromkeys(claims, user_id))  # what the next rows of the request see
        return RowResult(external_id, "merged", user_id)

    @staticmethod
    def _missing_fields(record: UserRecord, plan: Plan) -> dict[str, Any]:
        """What the row knows and the user lacks (a user's own values are never overwritten)."""
        user, new = record.user, plan.user
        fields = {name: getattr(new, name) for name in MERGEABLE if getattr(new, name) and not getattr(user, name)}
        if new.username and not user.username:
            fields["username"] = new.username
        if new.password_hash and not user.password_hash:
            fields["password_hash"] = new.password_hash
        for flag in ("email_verified", "phone_verified"):
            if getattr(new, flag) and not getattr(user, flag) and (fields.get(flag[:5]) or getattr(user, flag[:5])):
                fields[flag] = True
        return fields

    def _plan(self, row: ImportRow) -> Plan:
        """Raises: ValidationError naming each bad field."""
        errors: dict[str, list[str]] = {}
        username, email, phone = normalized_identifiers(row.username or None, row.email, row.phone, errors)
        hashed = row.password_hash or None
        if hashed and legacy_hashes.scheme_of(hashed) is None:
            errors["password_hash"] = ["not a Django pbkdf2_sha256 / bcrypt_sha256 or a bcrypt hash"]
        unions = {w.union_id for w in row.wechat if w.union_id}
        if len(unions) > 1:
            errors["wechat"] = ["several UnionIDs for one person"]
        grants: list[RoleGrant] = []
        for app, codes in row.roles.items():
            try:
                defs = self.apps.defs_of(self.apps.resolve(app))
            except (ValidationError, NotFoundError):
                errors[f"roles.{app}"] = ["unknown app"]
                continue
            if any(c not in defs.defs for c in codes):  # the app's default role is made on first use
                _, default = self.apps.default_grant(defs.app_name)
                defs = self.apps.defs_of(defs.app_name) if default.role_code in codes else defs
            missing = [c for c in codes if c not in defs.defs]
            if missing:
                errors[f"roles.{app}"] = [f"unknown roles: {missing}"]
                continue
            grants += defs.grants({code: defs.defs[code].epoch for code in codes})
        if not (row.username or row.email or row.phone or row.wechat):
            errors["row"] = ["a username, email, phone or WeChat identity is needed to sign in"]
        if errors:
            raise ValidationError(errors)
        now = self.clock()
        union_id = next(iter(unions), None)
        if hashed and not row.password_native:
            hashed = legacy_hashes.imported(hashed)
        user = User(
            user_id=row.user_id or self.ids(),
            username=username,
            nickname=(row.nickname or username or (f"微信用户{row.wechat[0].open_id[-4:]}" if row.wechat else None)),
            real_name=row.real_name,
            email=email,
            phone=phone,
            avatar=row.avatar,
            gender=row.gender,
            birthday=row.birthday,
            status=row.status,
            union_id=union_id,
            department_id=row.department_id,
            password_hash=hashed,
            created_at=row.created_at or now,
            email_verified=bool(email and row.email_verified),
            phone_verified=bool(phone and row.phone_verified),
        )
        methods = row.methods or (["password"] if hashed else [])
        accounts = (
            [Account(provider="password", open_id=user.user_id, created_at=user.created_at)]
            if "password" in methods
            else []
        )
        accounts += (
            [Account(provider="phone", open_id=phone, created_at=user.created_at)]
            if phone and "phone" in methods
            else []
        )
        accounts += [
            Account("wechat", w.open_id, w.type, w.app_id, w.nickname, None, user.created_at) for w in row.wechat
        ]
        person = [keys.email_claim(email)] if email else []
        person += [keys.phone_claim(phone)] if phone else []
        person += [keys.union_claim(union_id)] if union_id else []
        person += [keys.account_claim("wechat", w.app_id, w.open_id) for w in row.wechat]
        return Plan(row, user, username, person, accounts, grants)
