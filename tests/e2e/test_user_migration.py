"""scripts/users.py against the local server (issue 12): JSON lines, a Django dumpdata fixture and CSV in,
resumed after an interruption without duplicates, --dry-run, the report file, and export out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
