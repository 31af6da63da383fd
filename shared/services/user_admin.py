"""Admin operations on one user (API.md section 4, group ``admin``): read it with its roles and accounts,
and change it, including the account-center flow where an admin gives a WeChat-created user a phone and a
password so that person can also sign in with phone + password."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from shared.clock import Clock, system_clock
from shared.db.apps import AppRepository
from shared.db.users import ClaimTakenError, StaleRecordError, UserRepository
from shared.domain import Page, User, UserRecord
from shared.errors import PhoneTakenError, ServiceUnavailableError, ValidationError
from shared.identifiers import normalize_email, normalize_phone
from shared.services.accounts import PROFILE_FIELDS, AccountService
from shared.services.sessions import SessionService

if TYPE_CHECKING:
    from shared.schemas import AdminUserCreateBody, AdminUserUpdateBody


ADMIN_FIELDS = (*PROFILE_FIELDS, "department_id")
# Fields of the person, not of one app: changing them is an organisation action (API.md section 4).
ORG_FIELDS = ("username", "email", "phone", "password", "status", "department_id")
T = TypeVar("T")
MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 50  # ``page`` walks the pages before it: deeper pages take the cursor


def encode_cursor(before: str | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps({"before": before}).encode()).decode("ascii") if before else None


def decode_cursor(value: str | None) -> str | None:
    """Raises: ValidationError: not a cursor this API gave out."""
    if not value:
        return None
    try:
        before = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))["before"]
        if not isinstance(before, str) or not before or len(before) > 100:
            raise ValueError("unexpected cursor")
        return before
    except (ValueError, UnicodeError, KeyError, TypeError) as exc:
        raise ValidationError({"cursor": ["not a cursor from this API"]}) from exc


def _positive(value: str | None, name: str) -> int:
    try:
        number = int(value or 1)
    except ValueError as exc:
        raise ValidationError({name: ["a whole number"]}) from exc
    if number < 1:
        raise ValidationError({name: ["1 or more"]})
    return number


def page_number(query: dict[str, str]) -> int:
    """``page`` (1 when absent), at most ``MAX_PAGE_NUMBER``.

    Raises:
        ValidationError: not a whole number, below 1, or too deep (deeper pages follow the cursor).
    """
    page = _positive(query.get("page"), "page")
    if page > MAX_PAGE_NUMBER:
        raise ValidationError({"page": [f"at most {MAX_PAGE_NUMBER}; follow next_cursor for deeper pages"]})
    return page


OnePage = tuple[list[T], str | None]  # the items and the cursor of the next page


def paged(query: dict[str, str], fetch: Callable[[str | None], OnePage[T]]) -> tuple[int | None, OnePage[T]]:
    """The page a list request asks for: after its ``cursor``, or its ``page`` number (walking the pages
    before it; ``page_number`` caps it). Returns the page number (None with a cursor) and the page."""
    cursor = decode_cursor(query.get("cursor"))
    if cursor is not None:
        return None, fetch(cursor)
    page = page_number(query)
    items, last = fetch(None)
    for _ in range(page - 1):
        if last is None:
            return page, ([], None)
        items, last = fetch(last)
    return page, (items, last)


class UserAdmin:
    def __init__(
        self,
        accounts: AccountService,
        sessions: SessionService,
        users: UserRepository,
        apps: AppRepository,
        clock: Clock = system_clock,
    ) -> None:
        self.accounts = accounts
        self.sessions = sessions
        self.users = users
        self.apps = apps
        self.clock = clock

    def view(self, user_id: str) -> UserRecord:
        """The user with every role they hold, in every app."""
        return self.accounts.get(user_id)

    def list_users(
        self, app_name: str, query: dict[str, str], page_size: int, members_of: str | None = None
    ) -> Page[User]:
        """The user directory, newest first, ``page_size`` ≤ 100, with ``cursor`` (or ``page``) paging.

        ``username``/``email``/``phone`` are exact (case-insensitive) through their claims; ``role_code``
        lists the role's holders in ``app_name``; ``real_name`` (prefix), ``department_id`` and ``status``
        filter. ``members_of`` limits the list to users holding a role in that app (what an admin of an
        app other than ``app0`` sees).

        Raises:
            ValidationError: a bad page size, page or cursor.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationError({"page_size": [f"1 to {MAX_PAGE_SIZE}"]})
        exact = self._exact_claims(query)
        if exact is None and not query.get("role_code") and members_of is None:
            return self._directory_page(query, page_size)
        if exact is not None:  # one identifier: at most one user
            user_id = self.users.find_user_id(exact) if exact else None
            ids = [user_id] if user_id else []
            if members_of is not None:
                ids = [i for i in ids if (r := self.users.load(i, apps=[members_of])) and r.grants_in(members_of)]
            people = [u for u in self.users.profiles(ids) if self._matches(u, query)]
            return Page(people, page_size, None, total=len(people))
        return self._members_page(app_name, query, page_size, members_of)

    def _members_page(self, app_name: str, query: dict[str, str], page_size: int, members_of: str | None) -> Page[User]:
        """Holders of ``role_code`` in ``app_name``, or of any role of ``members_of``, by user id: bounded
        pages of the member index (``AppRepository.members_page``), the other filters applied to each."""
        if query.get("role_code"):
            owner, role = app_name, self.apps.get_role(app_name, query["role_code"])
            roles = [role] if role else []
        else:
            owner = str(members_of)
            roles = self.apps.list_roles(owner)
        page, (ids, last) = paged(query, lambda after: self.apps.members_page(owner, roles, page_size, after))
        people = [u for u in self.users.profiles(ids) if self._matches(u, query)]
        return Page(people, page_size, encode_cursor(last), page=page)

    def _directory_page(self, query: dict[str, str], page_size: int) -> Page[User]:
        """A page of the whole organisation's directory (sharded), by cursor or by page number (at most
        ``MAX_PAGE_NUMBER``: each page before it is read)."""
        filters = (query.get("status"), query.get("department_id"), query.get("real_name"))
        page, (users, last) = paged(query, lambda before: self.users.directory(page_size, before, *filters))
        return Page(users, page_size, encode_cursor(last), page=page)

    def create(self, app_name: str, command: AdminUserCreateBody) -> UserRecord:
        """An admin creates a user (with the app's default role; a password is optional)."""
        fields = command.changes()
        from shared.services.accounts import RegisterCommand

        password = fields.get("password") or None
        new_user = RegisterCommand(
            username=str(fields.get("username") or ""),
            password=password or "",
            email=fields.get("email"),
            phone=fields.get("phone"),
            nickname=fields.get("nickname"),
            real_name=fields.get("real_name"),
            app_name=app_name,
        )
        created = self.accounts.create_user(new_user, with_password=bool(password), vouched=True)
        extra = {k: fields[k] for k in ("department_id", "gender", "birthday", "avatar") if fields.get(k)}
        if extra:
            self.accounts.update_profile(created.user_id, app_name, extra, allowed=ADMIN_FIELDS)
        return self.view(created.user_id)

    def delete(self, user_id: str) -> None:
        """Remove the user, its role links and identifier claims (one transaction), after its sessions.

        Sessions go first, so a failure in between leaves a signed-out user that a retry deletes, never
        sessions of a user that is gone (a sign-in racing the deletion opens one that dies with the user
        item: the authorizer finds no user, and TTL removes it)."""
        record = self.accounts.get(user_id)
        self.sessions.delete_ids(list(record.sessions))
        self.users.delete_user(record)

    def _exact_claims(self, query: dict[str, str]) -> list[str] | None:
        from shared.db import keys
        from shared.identifiers import normalize_email, username_key

        if query.get("username"):
            return [keys.username_claim(username_key(query["username"]))]
        if query.get("email"):
            email = normalize_email(query["email"])
            return [keys.email_claim(email)] if email else []
        if query.get("phone"):
            phone = normalize_phone(query["phone"])
            return [keys.phone_claim(phone)] if phone else []
        return None

    @staticmethod
    def _matches(user: User, query: dict[str, str]) -> bool:
        return (
            (not query.get("status") or user.status == query["status"])
            and (not query.get("department_id") or user.department_id == query["department_id"])
            and (not query.get("real_name") or (user.real_name or "").startswith(query["real_name"]))
        )

    def update(self, user_id: str, app_name: str, change: AdminUserUpdateBody) -> UserRecord:
        """Profile fields, ``email`` and ``phone`` (claims moved; the admin vouches for them),
        ``password`` (set by the admin: every session of the user ends) and ``status``.

        Everything is checked before the first write, so a refused request changes nothing.

        Raises:
            NotFoundError: no such user.
            EmailTakenError, PhoneTakenError: the identifier belongs to someone else.
            ValidationError: a bad phone, email, password or status (all listed at once).
        """
        fields = change.changes()
        record = self.accounts.get(user_id)
        errors: dict[str, list[str]] = {}
        phone = None
        if fields.get("phone"):
            phone = normalize_phone(str(fields["phone"]))
            if phone is None:
                errors["phone"] = ["a mainland 11-digit or E.164 phone number"]
        if fields.get("email") and normalize_email(str(fields["email"])) is None:
            errors["email"] = ["invalid email"]
        if fields.get("status") is not None and fields["status"] not in ("active", "disabled"):
            errors["status"] = ["active or disabled"]
        if fields.get("password"):
            try:
                self.accounts.check_new_password(str(fields["password"]), None, "password")
            except ValidationError as exc:
                errors.update(exc.errors or {})
        if errors:
            raise ValidationError(errors)
        if phone is not None and phone != record.user.phone:
            self._change_phone(user_id, phone)
        profile = {k: v for k, v in fields.items() if k in ADMIN_FIELDS}
        if profile:
            self.accounts.update_profile(user_id, app_name, profile, allowed=ADMIN_FIELDS, vouched=True)
        if fields.get("status"):
            self.accounts.set_status(user_id, str(fields["status"]))
        if fields.get("password"):
            self.accounts.set_password(user_id, str(fields["password"]))
        return self.view(user_id)

    def _change_phone(self, user_id: str, phone: str) -> None:
        for _ in range(3):
            record = self.accounts.item(user_id)
            try:
                self.users.change_phone(record, phone, self.clock(), verified=True)
                return
            except ClaimTakenError as exc:
                raise PhoneTakenError() from exc
            except StaleRecordError:
                continue
        raise ServiceUnavailableError()
