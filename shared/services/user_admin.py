"""Admin operations on one user (API.md section 4, group ``admin``): read it with its roles and accounts,
and change it, including the account-center flow where an admin gives a WeChat-created user a phone and a
password so that person can also sign in with phone + password."""

from __future__ import annotations

from typing import Any

from shared.clock import Clock, system_clock
from shared.db.users import ClaimTakenError, UserRepository
from shared.errors import PhoneTakenError, ValidationError
from shared.identifiers import normalize_phone
from shared.services.accounts import PROFILE_FIELDS, AccountService, user_info

ADMIN_FIELDS = (*PROFILE_FIELDS, "department_id")


class UserAdmin:
    def __init__(self, accounts: AccountService, users: UserRepository, clock: Clock = system_clock) -> None:
        self.accounts = accounts
        self.users = users
        self.clock = clock

    def view(self, user_id: str, app_name: str) -> dict[str, Any]:
        """``user_info`` of the app, plus every role the user holds in any app."""
        record = self.accounts.get(user_id)
        info = user_info(record, app_name)
        info["all_roles"] = [
            {"role_id": g.role_id, "role_code": g.role_code, "role_name": g.role_name, "app_name": g.app_name}
            for g in sorted(record.grants, key=lambda g: (g.app_name, g.role_code))
        ]
        info["has_password"] = bool(record.user.password_hash)
        return info

    def update(self, user_id: str, app_name: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Profile fields, ``phone`` (claim moved), ``password`` (set by the admin) and ``status``.

        Raises:
            NotFoundError: no such user.
            EmailTakenError, PhoneTakenError: the identifier belongs to someone else.
            ValidationError: a bad phone, password or status.
        """
        self.accounts.get(user_id)
        if fields.get("phone"):
            phone = normalize_phone(str(fields["phone"]))
            if phone is None:
                raise ValidationError({"phone": ["a mainland 11-digit or E.164 phone number"]})
            current = self.accounts.get(user_id).user.phone
            if phone != current:
                try:
                    self.users.change_phone(user_id, current, phone, self.clock())
                except ClaimTakenError as exc:
                    raise PhoneTakenError() from exc
        if fields.get("password"):
            password = str(fields["password"])
            self.accounts.policy.check(password, "password")
            self.users.set_password(user_id, self.accounts.hasher.hash(password), [])
        profile = {k: v for k, v in fields.items() if k in ADMIN_FIELDS}
        if profile:
            self.accounts.update_profile(user_id, app_name, profile, allowed=ADMIN_FIELDS)
        if fields.get("status"):
            self.accounts.set_status(user_id, str(fields["status"]))
        return self.view(user_id, app_name)
