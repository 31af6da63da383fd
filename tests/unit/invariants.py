"""What "nothing half written" means for the single table, checked over a raw scan of it.

Every write path keeps these true at every moment (each of its writes is a transaction or a single item
whose meaning does not depend on a later write), so a fault between two writes can never break them:

* an identifier claim (``UNAME#``, ``EMAIL#``, ``PHONE#``, ``UNION#``, ``ACCT#``) names a user that exists
  and holds that identifier; a user's username, email, phone, UnionID and WeChat identities each have
  their claim, naming that user;
* a user's role grants (``roles`` on the user item) and the user-role links are the same set, with the
  same epochs;
* a session names a user that exists; a session still valid (its ``rev`` is the user's) is in the user's
  ``sessions`` map;
* a user's ``FILTER#`` entries (department, disabled) are exactly ``shared.db.users.filter_entries`` of them;
* an app's role definitions (``APP#<app>/ROLES``) and its role items agree (code, epoch, permissions),
  and every copy of the definitions (``ROLES#<app>#<n>``) is the primary item's.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from shared.identifiers import normalize_email, normalize_phone, username_key

CLAIM_PREFIXES = ("UNAME#", "EMAIL#", "PHONE#", "UNION#", "ACCT#")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def identifiers_of(user: dict[str, Any]) -> set[str]:
    """The claim keys a user item needs."""
    needed = set()
    if user.get("username"):
        needed.add(f"UNAME#{username_key(user['username'])}")
    if user.get("email"):
        needed.add(f"EMAIL#{normalize_email(user['email'])}")
    if user.get("phone"):
        needed.add(f"PHONE#{normalize_phone(user['phone'])}")
    if user.get("union_id"):
        needed.add(f"UNION#{user['union_id']}")
    for account in _json(user.get("accounts")) or []:
        if account.get("provider") == "wechat":
            needed.add(f"ACCT#wechat#{account['app_id']}#{account['open_id']}")
    return needed


def broken(items: list[dict[str, Any]]) -> list[str]:
    """Every invariant of the module docstring that ``items`` (a table scan) breaks, described."""
    problems: list[str] = []
    users = {i["PK"][5:]: i for i in items if str(i["PK"]).startswith("USER#") and i["SK"] == "PROFILE"}
    claims = {i["PK"]: i["user_id"] for i in items if str(i["PK"]).startswith(CLAIM_PREFIXES) and i["SK"] == "CLAIM"}
    for key, user_id in claims.items():
        if user_id not in users:
            problems.append(f"{key} names {user_id}, who does not exist")
        elif key not in identifiers_of(users[user_id]):
            problems.append(f"{key} names {user_id}, who does not hold it")
    for user_id, user in users.items():
        for key in sorted(identifiers_of(user)):
            if claims.get(key) != user_id:
                problems.append(f"{user_id} holds {key}, claimed by {claims.get(key)}")
    links = {
        (i["PK"][5:], i["SK"][5:]): str(i.get("epoch"))
        for i in items
        if str(i["PK"]).startswith("USER#") and str(i["SK"]).startswith("ROLE#")
    }
    grants = {
        (user_id, f"{app}#{code}"): str(epoch)
        for user_id, user in users.items()
        for app, held in (_json(user.get("roles")) or {}).items()
        for code, epoch in held.items()
    }
    if links != grants:
        problems.append(f"role links {sorted(set(links.items()) ^ set(grants.items()))} differ from grants")
    for session in (i for i in items if str(i["PK"]).startswith("SESSION#")):
        user = users.get(session["user_id"])
        if user is None:
            problems.append(f"{session['PK']} names {session['user_id']}, who does not exist")
        elif int(session.get("rev") or 0) == int(user.get("rev") or 0) and session["PK"][8:] not in (
            user.get("sessions") or {}
        ):
            problems.append(f"{session['PK']} is valid but not in {session['user_id']}'s sessions")
    entries = {(i["PK"], i["user_id"]) for i in items if str(i["PK"]).startswith("FILTER#")}
    expected = {
        (pk, user_id)
        for user_id, user in users.items()
        for pk in (
            ([f"FILTER#inviter#{user['referer_id']}"] if user.get("referer_id") else [])
            + ([f"FILTER#department#{user['department_id']}"] if user.get("department_id") else [])
            + (["FILTER#status#disabled"] if user.get("status") == "disabled" else [])
        )
    }
    if entries != expected:
        problems.append(f"filter entries {sorted(entries ^ expected)} differ from the users")
    problems.extend(_role_definitions(items))
    return problems


def _role_definitions(items: list[dict[str, Any]]) -> list[str]:
    problems = []
    roles = {
        (i["PK"][4:], i["SK"][5:]): i
        for i in items
        if str(i["PK"]).startswith("APP#") and str(i["SK"]).startswith("ROLE#")
    }
    defs = {
        (i["PK"][4:], code): d
        for i in items
        if str(i["PK"]).startswith("APP#") and i["SK"] == "ROLES"
        for code, d in (_json(i.get("defs")) or {}).items()
    }
    primaries = {i["PK"][4:]: i for i in items if str(i["PK"]).startswith("APP#") and i["SK"] == "ROLES"}
    for copy in (i for i in items if str(i["PK"]).startswith("ROLES#")):
        primary = primaries.get(copy["app_name"])
        if primary is None or (copy["version"], _json(copy["defs"])) != (primary["version"], _json(primary["defs"])):
            problems.append(f"{copy['PK']} differs from the primary role definitions")
    if set(roles) != set(defs):
        problems.append(f"role items {sorted(roles)} and definitions {sorted(defs)} differ")
    for key in set(roles) & set(defs):
        role, d = roles[key], defs[key]
        if str(role.get("epoch")) != str(d.get("e")) or sorted(role.get("permissions") or []) != sorted(
            d.get("p") or []
        ):
            problems.append(f"role {key} differs from its definition")
    return problems


def duplicates(items: list[dict[str, Any]], field: str) -> list[str]:
    """Values of ``field`` held by more than one user item (a retried create that wrote twice)."""
    counted = Counter(
        i.get(field) for i in items if str(i["PK"]).startswith("USER#") and i["SK"] == "PROFILE" and i.get(field)
    )
    return [value for value, n in counted.items() if n > 1]
