"""Move users in and out of a user center (issue 12): an operator's tool over the API.

    python scripts/users.py import users.jsonl --api https://id.example.com          # token: UC_TOKEN
    python scripts/users.py import dump.json --api URL --system hertz                 # Django dumpdata
    python scripts/users.py import hertz.json --api URL --system hertz --app app0     # with roles, depts
    python scripts/users.py import users.csv --api URL --system rest --dry-run
    python scripts/users.py export all.jsonl --api URL --token <super admin's access token>

Formats (by content): JSON lines of import rows (what ``export`` writes; docs/migration.md), a Django
``dumpdata`` fixture of ``auth.User`` or a custom user model (``[{"model": "auth.user", "pk": ..., "fields":
{...}}]``) with, when the fixture holds them, the Hertz console's profile, role, user-role and department
tables (roles granted in ``--app`` by their ``role_code``; departments matched by name), or CSV
with a header (``external_id`` or ``id``, ``username``, ``email``, ``phone``, ``password_hash``,
``nickname``, ``real_name``, ``status``, ``created_at``, ``roles`` as ``app:code|app:code``,
``wechat_app_id``, ``wechat_open_id``, ``wechat_union_id``, ``wechat_type``).

The file is sent in batches (``--batch``, at most 1,000) with a progress bar on stderr (rows/s, ETA).
Every row's result is checked; rows not ``created`` (merged, unchanged, conflict, invalid) go to
``<file>.report.jsonl``. ``<file>.progress`` remembers the rows done: run the same command again after
an interruption and it goes on from there (re-sent rows are answered ``unchanged`` anyway: the import is
idempotent). ``--dry-run`` checks and matches every row and writes nothing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

MAX_BATCH = 1000


def rows_of(
    path: Path, system: str, app: str = "app0", departments: Callable[[], dict[str, str]] = dict
) -> Iterator[dict[str, Any]]:
    """The file's people as import rows, whatever its format (``departments``: the target's dept_id by
    name, asked for when a Django fixture holds a department table)."""
    text = path.read_text(encoding="utf-8-sig")
    head = text.lstrip()[:1]
    if head == "[":
        yield from django_rows(json.loads(text), system, app, departments)
    elif head == "{":
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)
    else:
        yield from csv_rows(text, system)


def model_of(entry: dict[str, Any]) -> str:
    """``hertz_studio_django_auth.hertzuserrole`` → ``hertzuserrole``."""
    return str(entry.get("model", "")).lower().rpartition(".")[2]


def is_user(entry: dict[str, Any]) -> bool:
    """``auth.User`` or a custom user model (``AUTH_USER_MODEL``): a password and a name to sign in with."""
    fields = entry.get("fields") or {}
    return "password" in fields and any(k in fields for k in ("username", "email", "phone", "mobile"))


class DjangoTables:
    """What a Django fixture holds besides users: role codes by pk (a model named ``*role`` with
    ``role_code`` or ``code``), users' role pks (a ``*userrole`` link, or a ``roles`` list on the user),
    profiles (a model with a ``user`` key and no ``role``: its fields join the user's), departments'
    names by pk (a model named ``*department`` or ``*dept``)."""

    def __init__(self, fixture: list[dict[str, Any]]) -> None:
        self.roles: dict[str, str] = {}
        self.user_roles: dict[str, list[str]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.departments: dict[str, str] = {}
        for entry in fixture:
            model, pk, fields = model_of(entry), str(entry.get("pk")), entry.get("fields") or {}
            if is_user(entry):
                continue
            if model.endswith("role") and "user" in fields and "role" in fields:
                self.user_roles.setdefault(str(fields["user"]), []).append(str(fields["role"]))
            elif model.endswith("role") and (fields.get("role_code") or fields.get("code")):
                self.roles[pk] = str(fields.get("role_code") or fields.get("code"))
            elif model.endswith(("department", "dept")):
                self.departments[pk] = str(fields.get("dept_name") or fields.get("name") or "")
            elif "user" in fields:
                self.profiles[str(fields["user"])] = fields


def django_rows(
    fixture: list[dict[str, Any]], system: str, app: str = "app0", departments: Callable[[], dict[str, str]] = dict
) -> Iterator[dict[str, Any]]:
    """The users of a Django ``dumpdata`` fixture: ``auth.User`` or a custom user model (the Hertz
    console's), with its profile, roles (in ``app``) and department (``departments``: the target's
    dept_id by name) when the fixture holds those tables too."""
    tables = DjangoTables(fixture)
    targets = departments() if tables.departments else {}
    for entry in fixture:
        if not is_user(entry):
            continue
        pk = str(entry.get("pk"))
        fields = {**(entry.get("fields") or {}), **tables.profiles.get(pk, {})}
        password = fields.get("password") or ""
        names = [fields.get("first_name") or "", fields.get("last_name") or ""]
        row: dict[str, Any] = {
            "external_id": f"{system}:{pk}",
            "username": fields.get("username") or None,
            "email": fields.get("email") or None,
            "phone": fields.get("phone") or fields.get("mobile") or None,
            "real_name": fields.get("real_name") or " ".join(n for n in names if n) or None,
            "nickname": fields.get("nickname") or None,
            "avatar": fields.get("avatar") or None,
            "gender": str(fields["gender"]) if fields.get("gender") not in (None, "") else None,
            "birthday": str(fields["birthday"]) if fields.get("birthday") else None,
            "status": "active" if active(fields) else "disabled",
            # "!..." is Django's unusable password: the person signs in another way (or resets it)
            "password_hash": None if not password or password.startswith("!") else password,
        }
        joined = fields.get("date_joined") or fields.get("created_at")
        if joined:
            row["created_at"] = datetime.fromisoformat(str(joined).replace("Z", "+00:00")).timestamp()
        held = tables.user_roles.get(pk, []) + [str(r) for r in fields.get("roles") or []]
        codes = sorted({tables.roles[r] for r in held if r in tables.roles})
        if codes:
            row["roles"] = {app: codes}
        dept = fields.get("department") or fields.get("department_id") or fields.get("dept")
        name = tables.departments.get(str(dept)) if dept is not None else None
        if name and name in targets:
            row["department_id"] = targets[name]
        yield {k: v for k, v in row.items() if v is not None}


def active(fields: dict[str, Any]) -> bool:
    """Django's ``is_active``, or a console's ``status`` (1 / 0, ``active`` / ``disabled``)."""
    if "is_active" in fields:
        return bool(fields["is_active"])
    return str(fields.get("status", 1)).lower() not in ("0", "false", "disabled", "inactive", "locked")


def csv_rows(text: str, system: str) -> Iterator[dict[str, Any]]:
    for record in csv.DictReader(io.StringIO(text)):
        values = {k.strip(): (v or "").strip() for k, v in record.items() if k}
        row: dict[str, Any] = {
            "external_id": values.get("external_id") or f"{system}:{values.get('id', '')}",
            **{
                name: values[name]
                for name in ("username", "email", "phone", "password_hash", "nickname", "real_name", "status")
                if values.get(name)
            },
        }
        if values.get("created_at"):
            raw = values["created_at"]
            row["created_at"] = (
                float(raw) if raw.replace(".", "", 1).isdigit() else datetime.fromisoformat(raw).timestamp()
            )
        roles: dict[str, list[str]] = {}
        for pair in filter(None, values.get("roles", "").split("|")):
            app, _, code = pair.partition(":")
            roles.setdefault(app, []).append(code)
        if roles:
            row["roles"] = roles
        if values.get("wechat_open_id"):
            wechat = {"app_id": values.get("wechat_app_id", ""), "open_id": values["wechat_open_id"]}
            wechat["type"] = values.get("wechat_type") or "miniapp"
            if values.get("wechat_union_id"):
                wechat["union_id"] = values["wechat_union_id"]
            row["wechat"] = [wechat]
        yield row


class Progress:
    """One line on stderr: rows done of all, rows per second, time left."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.done, self.start, self.first = total, done, time.monotonic(), done

    def add(self, count: int) -> None:
        self.done += count
        rate = (self.done - self.first) / max(time.monotonic() - self.start, 1e-6)
        left = (self.total - self.done) / rate if rate else 0
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} rows  {rate:,.0f} rows/s  ETA {left:,.0f} s ")
        sys.stderr.flush()


def post(api: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(api.rstrip("/") + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    if answer.status_code != 200:
        raise SystemExit(f"{path}: HTTP {answer.status_code}: {answer.text[:500]}")
    data: dict[str, Any] = answer.json()["data"]
    return data


def department_ids(api: str, token: str) -> dict[str, str]:
    """The target's departments, dept_id by name (a Django fixture's departments are matched by name:
    create them first; a user whose department has no match is imported without one)."""
    answer = requests.get(
        api.rstrip("/") + "/api/departments/", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    if answer.status_code != 200:
        raise SystemExit(f"/api/departments/: HTTP {answer.status_code}: {answer.text[:500]}")
    return {d["dept_name"]: d["dept_id"] for d in answer.json()["data"]["items"]}


def import_file(args: argparse.Namespace, token: str) -> int:
    path = Path(args.file)
    rows = list(rows_of(path, args.system, args.app, lambda: department_ids(args.api, token)))
    progress_file = Path(f"{path}.progress")
    done = int(progress_file.read_text() or 0) if progress_file.exists() and not args.dry_run else 0
    report = Path(args.report or f"{path}.report.jsonl")
    counts: Counter[str] = Counter()
    bar = Progress(len(rows), done)
    with report.open("a" if done else "w", encoding="utf-8") as out:
        for start in range(done, len(rows), args.batch):
            batch = rows[start : start + args.batch]
            body = {"rows": batch, "on_match": args.on_match, "dry_run": args.dry_run}
            results = post(args.api, token, "/api/users/import/", body)["results"]
            for row, result in zip(batch, results, strict=True):
                counts[result["status"]] += 1
                if result["status"] != "created":
                    out.write(
                        json.dumps({**result, "row": {k: v for k, v in row.items() if k != "password_hash"}}) + "\n"
                    )
            out.flush()
            if not args.dry_run:
                progress_file.write_text(str(start + len(batch)))
            bar.add(len(batch))
            if args.max_batches and (start - done) // args.batch + 1 >= args.max_batches:
                break
    sys.stderr.write("\n")
    print(json.dumps({"rows": bar.done - done, "dry_run": args.dry_run, **counts, "report": str(report)}))
    if bar.done >= len(rows) and progress_file.exists():
        progress_file.unlink()
    return 0


def export_file(args: argparse.Namespace, token: str) -> int:
    path = Path(args.file)
    cursor: str | None = None
    written = pages = 0
    with path.open("w", encoding="utf-8") as out:
        while not args.max_batches or pages < args.max_batches:
            pages += 1
            params = {"page_size": str(args.batch if args.batch <= 500 else 500)}
            if cursor:
                params["cursor"] = cursor
            answer = requests.get(
                args.api.rstrip("/") + "/api/users/export/",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=300,
            )
            if answer.status_code != 200:
                raise SystemExit(f"export: HTTP {answer.status_code}: {answer.text[:500]}")
            data = answer.json()["data"]
            for row in data["items"]:
                out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            written += len(data["items"])
            sys.stderr.write(f"\r{written} users exported ")
            cursor = data.get("next_cursor")
            if not cursor:
                break
    sys.stderr.write("\n")
    print(json.dumps({"rows": written, "file": str(path)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("import", "export"))
    parser.add_argument("file")
    parser.add_argument("--api", required=True, help="the user center's URL (http://127.0.0.1:3000 locally)")
    parser.add_argument("--token", help="the super admin's access token (default: UC_TOKEN)")
    parser.add_argument("--system", default="legacy", help="the replaced system's name: external_id = <system>:<id>")
    parser.add_argument("--app", default="app0", help="the app a Django fixture's roles are granted in")
    parser.add_argument("--batch", type=int, default=500, help=f"rows per request (at most {MAX_BATCH})")
    parser.add_argument("--on-match", default="merge", choices=("merge", "conflict"))
    parser.add_argument("--dry-run", action="store_true", help="check and match every row, write nothing")
    parser.add_argument("--report", help="default <file>.report.jsonl")
    parser.add_argument("--max-batches", type=int, default=0, help=argparse.SUPPRESS)  # tests, bench: stop early
    args = parser.parse_args(argv)
    token = args.token or os.environ.get("UC_TOKEN")
    if not token:
        parser.error("give the super admin's access token with --token or UC_TOKEN")
    args.batch = max(1, min(args.batch, MAX_BATCH))
    return import_file(args, token) if args.action == "import" else export_file(args, token)


if __name__ == "__main__":
    raise SystemExit(main())
