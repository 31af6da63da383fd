"""Settings are declared once (shared.config): the README's configuration table and local mode follow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localdev.server import LocalServer, setting_variables
from shared.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_variables() -> set[str]:
    """The environment variables the README's configuration table names (``WECHAT_<TYPE>_APP_ID`` expanded)."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Configuration") : text.index("## Layout")]
    names: set[str] = set()
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) > 3:
            names.update(re.findall(r"`([A-Z][A-Z0-9_<>]+)`", cells[2]))
    for pattern in [n for n in names if "<TYPE>" in n]:
        names |= {pattern.replace("<TYPE>", t) for t in ("WEB", "MP", "MINIAPP", "APP")}
    return names


def test_the_readme_table_names_every_setting() -> None:
    missing = {env for _, env, _, _ in Settings.variables()} - readme_variables()
    assert not missing, f"add these settings to the README's configuration table: {sorted(missing)}"


def test_every_setting_has_a_variable_and_a_meaning() -> None:
    variables = [env for _, env, _, _ in Settings.variables()]
    assert len(variables) == len(set(variables))
    assert all(doc for _, _, _, doc in Settings.variables())


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"BCRYPT_ROUNDS": "3"}, "BCRYPT_ROUNDS"),
        ({"STAGE": "qa"}, "STAGE"),
        ({"ACCESS_TOKEN_TTL": "x"}, "ACCESS_TOKEN_TTL"),
    ],
)
def test_malformed_values_name_their_variable(env: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Settings.from_env(env)


def test_defaults_and_derived_values() -> None:
    settings = Settings.from_env({"STAGE": "prod", "AWS_DEFAULT_REGION": "ap-northeast-1", "WECHAT_MP_APP_ID": "wxmp"})
    assert (settings.table_name, settings.region, settings.bcrypt_rounds) == ("user-center-prod", "ap-northeast-1", 10)
    assert settings.wechat_app_id("mp") == "wxmp" and settings.wechat_app_id("web") is None
    secret = Settings.from_env({"WECHAT_SECRETS": '{"wx": "s3cr3t"}', "ALIYUN_ACCESS_KEY_SECRET": "k3y"})
    assert "s3cr3t" not in repr(secret) and "k3y" not in repr(secret)


def test_local_mode_passes_every_given_setting_to_the_functions(tmp_path: Path) -> None:
    given = {"PASSWORD_MIN_LENGTH": "9", "SMS_ALLOWED_COUNTRY_CODES": "86,852", "NOT_A_SETTING": "x"}
    env = LocalServer({**given, "LOCAL_DATA_DIR": str(tmp_path)}).function_environment()
    assert env["PASSWORD_MIN_LENGTH"] == "9" and env["SMS_ALLOWED_COUNTRY_CODES"] == "86,852"
    assert "NOT_A_SETTING" not in env and env["LOCAL_MODE"] == "1"
    assert set(setting_variables()) >= {"PASSWORD_MIN_LENGTH", "WECHAT_SECRETS", "MAX_SESSIONS_PER_USER"}
