"""Key formats of the single table, one small function each (docs/data-model.md has the table).

Every item has ``PK`` and ``SK``; secondary access patterns use the overloaded index ``GSI1``
(``GSI1PK``/``GSI1SK``). Identifier values are normalised by the caller before they reach a key.
"""

from __future__ import annotations

import hashlib
import secrets

PROFILE = "PROFILE"
CLAIM = "CLAIM"
SESSION = "SESSION"
META = "META"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def username_claim(username_lower: str) -> str:
    return f"UNAME#{username_lower}"


def email_claim(email_lower: str) -> str:
    return f"EMAIL#{email_lower}"


def phone_claim(phone_e164: str) -> str:
    return f"PHONE#{phone_e164}"


def account_sk(provider: str, app_id: str, open_id: str) -> str:
    return f"ACCOUNT#{provider}#{app_id}#{open_id}"


def external_claim(external_id: str) -> str:
    """A person imported from a replaced system (``<system>:<id>``): imported once, to one user."""
    return f"EXT#{external_id}"


def passkey_sk(credential_id: str) -> str:
    """A passkey in its user's partition, by its credential id (base64url)."""
    return f"PASSKEY#{credential_id}"


def passkey_claim(credential_id: str) -> str:
    """A credential id is registered once, to one user."""
    return f"PASSKEY#{credential_id}"


def webauthn_challenge_pk(challenge_hash: str) -> str:
    """A WebAuthn challenge handed out, by the SHA-256 of its base64url form: single use, 5 minutes."""
    return f"WEBAUTHN#{challenge_hash}"


def account_claim(provider: str, app_id: str, open_id: str) -> str:
    return f"ACCT#{provider}#{app_id}#{open_id}"


def session_pk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def app_pk(app_name: str) -> str:
    return f"APP#{app_name}"


def role_sk(role_code: str) -> str:
    return f"ROLE#{role_code}"


def user_role_sk(app_name: str, role_code: str) -> str:
    return f"ROLE#{app_name}#{role_code}"


ROLES = "ROLES"  # SK of an app's role definitions item (``PK=APP#<app>``) and of its copies
SHARDS = 16  # index partitions per hot index key (role members, the user directory)
ROLE_DEF_COPIES = 8  # copies of each app's role definitions, written together, read one per user


def shard_of(user_id: str) -> int:
    """A stable shard of a user, spreading index writes over ``SHARDS`` partitions."""
    return int(hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:4], 16) % SHARDS


def role_defs_copy(app_name: str, reader: str | None = None) -> tuple[str, str]:
    """The copy of an app's role definitions that ``reader`` (a user id, or an identifier) reads: every
    request reads them, so their reads are spread over ``ROLE_DEF_COPIES`` partitions; a request with no
    reader yet (a sign-up) takes any copy. Every copy is written in the role change's transaction, so
    each is as fresh as the primary (``APP#<app>/ROLES``), which only writers read."""
    copy = shard_of(reader) % ROLE_DEF_COPIES if reader else secrets.randbelow(ROLE_DEF_COPIES)
    return role_defs_copy_pk(app_name, copy), ROLES


def role_defs_copy_pk(app_name: str, copy: int) -> str:
    return f"ROLES#{app_name}#{copy}"


def role_members_gsi1pk(app_name: str, role_code: str, epoch: str, shard: int) -> str:
    """Holders of one incarnation of a role, in one of ``SHARDS`` partitions (GSI1)."""
    return f"MEMBERS#{app_name}#{role_code}#{epoch}#{shard:02d}"


def audit_pk(user_id: str) -> str:
    return f"AUDIT#{user_id}"


def audit_sk(ts: float, event_id: str) -> str:
    return f"EVENT#{int(ts):012d}#{event_id}"


LOCK = "LOCK"
CAPTCHA = "CAPTCHA"
CODE = "CODE"
RATE = "RATE"


def login_failures_pk(identifier_key: str) -> str:
    return f"LOGINFAIL#{identifier_key}"


def captcha_pk(captcha_key: str) -> str:
    return f"CAPTCHA#{captcha_key}"


COOLDOWN = "COOLDOWN"


def cooldown_pk(channel: str, target: str) -> str:
    """The resend cooldown of one phone or email, whatever the code type."""
    return f"COOLDOWN#{channel}#{target}"


def code_pk(code_type: str, target: str) -> str:
    return f"CODE#{code_type}#{target}"


def rate_pk(name: str, subject: str, window_start: int) -> str:
    return f"RATE#{name}#{subject}#{window_start}"


STATE = "STATE"


def union_claim(union_id: str) -> str:
    return f"UNION#{union_id}"


OCODE = "OCODE"
CSESSION = "CSESSION"


def center_session_pk(cookie_hash: str) -> str:
    return f"CSESSION#{cookie_hash}"


def auth_code_pk(code_hash: str) -> str:
    return f"OCODE#{code_hash}"


def state_pk(state: str) -> str:
    return f"STATE#{state}"


def mfa_ticket_pk(token_hash: str) -> str:
    """A sign-in waiting for its second factor, by the SHA-256 of its ``mfa_token``."""
    return f"MFA#{token_hash}"


def menu_sk(menu_id: str) -> str:
    return f"MENU#{menu_id}"


SCHEMA = "SCHEMA"  # PK and SK of the item recording which data migrations ran (shared/migrations.py)
ORG = "ORG"
USERS = "USERS"


def directory_gsi2pk(shard: int) -> str:
    """One of the ``SHARDS`` partitions of the user directory (GSI2): no key is written by every sign-up."""
    return f"{USERS}#{shard:02d}"


def filter_pk(name: str, value: str) -> str:
    """The partition listing the users of one short list (``inviter``, ``department``, ``status``)."""
    return f"FILTER#{name}#{value}"


def dept_sk(dept_id: str) -> str:
    return f"DEPT#{dept_id}"


def directory_gsi2sk(created_at: float, user_id: str) -> str:
    return f"{int(created_at * 1000):015d}#{user_id}"  # milliseconds: newest first, even within a second
