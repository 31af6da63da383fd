"""scripts/users.py against the local server (issue 12): JSON lines, a Django dumpdata fixture and CSV in,
resumed after an interruption without duplicates, --dry-run, the report file, and export out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from localdev.template import ROOT
from tests.unit.test_legacy_passwords import bcrypt_hash, django_hash


def users(*args: str, token: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "users.py"), *args],
        env={**os.environ, "UC_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows/s" in done.stderr or "exported" in done.stderr  # the progress line
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def signs_in(api, name: str, password: str) -> bool:
    return api("POST", "/api/auth/login/", json={"username": name, "password": password}).status_code == 200


def test_json_lines_resume_after_an_interruption_and_resending_changes_nothing(
    base_url: str, api, admin_token: str, unique, tmp_path: Path
) -> None:
    names = [unique("mig") for _ in range(5)]
    rows = [{"external_id": f"rest:{n}", "username": n, "password_hash": bcrypt_hash(f"pw-{n}", b"2a")} for n in names]
    source = tmp_path / "users.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    first = users("import", str(source), "--api", base_url, "--batch", "2", "--max-batches", "1", token=admin_token)
    assert first["rows"] == 2 and first["created"] == 2
    assert Path(f"{source}.progress").read_text() == "2"  # interrupted after one batch
    rest = users("import", str(source), "--api", base_url, "--batch", "2", token=admin_token)
    assert rest["rows"] == 3 and rest["created"] == 3 and not Path(f"{source}.progress").exists()
    assert all(signs_in(api, n, f"pw-{n}") for n in names)
    again = users("import", str(source), "--api", base_url, token=admin_token)
    assert again == {"rows": 5, "dry_run": False, "unchanged": 5, "report": f"{source}.report.jsonl"}
    report = [json.loads(line) for line in Path(again["report"]).read_text().splitlines()]
    assert [r["status"] for r in report] == ["unchanged"] * 5 and "password_hash" not in json.dumps(report)


def test_a_batch_of_a_thousand_rows_is_one_request(
    base_url: str, api, admin_token: str, unique, tmp_path: Path
) -> None:
    # 1,000 rows with their hashes are about 150 KB: over the usual body limit, within the import's
    prefix = unique("k")
    hashed = bcrypt_hash("pw-thousand-1", b"2a")
    source = tmp_path / "thousand.jsonl"
    source.write_text(
        "".join(
            json.dumps({"external_id": f"{prefix}:{i}", "username": f"{prefix}{i}", "password_hash": hashed}) + "\n"
            for i in range(1000)
        )
    )
    assert source.stat().st_size > 64 * 1024
    done = users("import", str(source), "--api", base_url, "--batch", "1000", token=admin_token)
    assert (done["rows"], done["created"]) == (1000, 1000)
    assert signs_in(api, f"{prefix}999", "pw-thousand-1")


def test_a_django_fixture_and_a_csv_with_a_dry_run_first(
    base_url: str, api, admin_token: str, unique, tmp_path: Path
) -> None:
    alice, bob = unique("dj"), unique("csv")
    fixture = [
        {"model": "auth.user", "pk": 11, "fields": {"username": alice, "password": django_hash("pw-alice-1"),
                                                  "email": f"{alice}@example.com", "is_active": True,
                                                  "date_joined": "2021-03-04T05:06:07Z", "first_name": "Alice"}},
        {"model": "hertz.profile", "pk": 11, "fields": {"user": 11}},
    ]  # fmt: skip
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(fixture))
    dry = users("import", str(dump), "--api", base_url, "--system", unique("hertz"), "--dry-run", token=admin_token)
    assert dry["created"] == 1 and dry["dry_run"] is True and not signs_in(api, alice, "pw-alice-1")
    done = users("import", str(dump), "--api", base_url, "--system", unique("hertz"), token=admin_token)
    assert done["created"] == 1 and signs_in(api, alice, "pw-alice-1")
    table = tmp_path / "users.csv"
    table.write_text(
        "id,username,phone,password_hash,roles,wechat_app_id,wechat_open_id,wechat_union_id\n"
        f"7,{bob},13912345678,{bcrypt_hash('pw-bob-1', b'2y')},app0:l0,wxmini,o-{bob},u-{bob}\n"
    )
    csv_done = users("import", str(table), "--api", base_url, "--system", unique("rest"), token=admin_token)
    assert csv_done["created"] == 1 and signs_in(api, bob, "pw-bob-1")
    exported = tmp_path / "all.jsonl"
    out = users("export", str(exported), "--api", base_url, "--batch", "50", token=admin_token)
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert out["rows"] == len(rows) and len(rows) >= 2
    mine = {r["username"]: r for r in rows if r.get("username") in (alice, bob)}
    assert mine[alice]["created_at"] == 1614834367.0 and mine[alice]["password_hash"].startswith("$2b$")  # rehashed
    assert mine[bob]["wechat"][0]["union_id"] == f"u-{bob}" and mine[bob]["roles"] == {"app0": ["l0"]}


def test_a_hertz_console_fixture_brings_profile_roles_and_department(
    base_url: str, api, admin_token: str, unique, tmp_path: Path
) -> None:
    # Given the target app holds the console's role (by role_code) and department (by name)
    code, dept_name = unique("ops").lower(), unique("技术部")
    made = api("POST", "/api/roles/create/", token=admin_token, json={"role_code": code, "role_name": "运维"})
    assert made.status_code == 201, made.text
    dept = api("POST", "/api/departments/create/", token=admin_token, json={"dept_name": dept_name})
    assert dept.status_code in (200, 201), dept.text
    carol, dave = unique("hz"), unique("hz")
    phone = "139" + str(uuid.uuid4().int)[:8]
    # And a dumpdata of the Hertz console: its custom user model, roles, user-role links, departments
    fixture = [
        {"model": "hertz_studio_django_auth.hertzdepartment", "pk": 2, "fields": {"dept_name": dept_name}},
        {"model": "hertz_studio_django_auth.hertzdepartment", "pk": 3, "fields": {"dept_name": unique("无")}},
        {"model": "hertz_studio_django_auth.hertzrole", "pk": 1, "fields": {"role_name": "运维", "role_code": code}},
        {"model": "hertz_studio_django_auth.hertzrole", "pk": 4, "fields": {"role_code": "held_by_nobody"}},
        {"model": "hertz_studio_django_auth.hertzuser", "pk": 5, "fields": {
            "username": carol, "password": django_hash("pw-carol-1"), "email": f"{carol}@example.com",
            "phone": phone, "real_name": "张三", "gender": 1, "status": 1, "department": 2,
            "date_joined": "2022-01-02T03:04:05Z"}},
        {"model": "hertz_studio_django_auth.hertzuser", "pk": 6, "fields": {
            "username": dave, "password": django_hash("pw-dave-1"), "status": 0, "department": 3}},
        {"model": "hertz_studio_django_auth.hertzuserrole", "pk": 1, "fields": {"user": 5, "role": 1}},
    ]  # fmt: skip
    dump = tmp_path / "hertz.json"
    dump.write_text(json.dumps(fixture, ensure_ascii=False))

    # When it is imported
    done = users("import", str(dump), "--api", base_url, "--system", unique("hertz"), token=admin_token)

    # Then both are created; Carol signs in with her Django password and has her profile, role and department
    assert done["created"] == 2, done
    login = api("POST", "/api/auth/login/", json={"username": carol, "password": "pw-carol-1"})
    assert login.status_code == 200, login.text
    info = api("GET", "/api/auth/user/info/", token=login.json()["data"]["access_token"]).json()["data"]
    assert (info["phone"], info["real_name"], info["department_id"]) == (
        "+86" + phone,
        "张三",
        dept.json()["data"]["dept_id"],
    )
    assert code in [r["role_code"] for r in info["roles"]]
    # Dave was disabled in the console (status 0): still so, and his department had no match here
    assert not signs_in(api, dave, "pw-dave-1")
