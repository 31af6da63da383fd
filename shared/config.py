"""Typed settings, each declared once: its field, environment variable, default and meaning together.

Domain code never reads ``os.environ``: it receives a :class:`Settings` (tests build one directly).
:meth:`Settings.from_env` reads every field's variable; the local server passes the same variables
through (``localdev.server``), and a test checks that the README's configuration table names them all.
The only environment reads elsewhere are the Lambda runtime's own per-invocation variables (the X-Ray
trace header in ``shared.observability``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

STAGES = ("dev", "prod")


def setting(
    env: str, default: Any, doc: str, *, secret: bool = False, parse: Callable[[str], Any] | None = None
) -> Any:
    """A settings field read from ``env`` (``secret``: kept out of ``repr``, so out of logs)."""
    return field(default=default, repr=not secret, metadata={"env": env, "doc": doc, "parse": parse})


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < low or (high is not None and value > high):
            raise ValueError(f"{value} is outside {low}..{high if high is not None else ''}")
        return value

    return parse


def _stage(raw: str) -> str:
    if raw not in STAGES:
        raise ValueError(f"one of {STAGES}")
    return raw


def _flag(raw: str) -> bool:
    return raw.lower() in ("1", "true", "yes")


def _country_codes(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().lstrip("+") for part in raw.split(",") if part.strip())


def _json_object(raw: str) -> str:
    if not isinstance(json.loads(raw), dict):
        raise ValueError("a JSON object")
    return raw


PARSERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "bool": _flag,
    "str": str,
    "str | None": str,
    "tuple[str, ...]": lambda raw: tuple(part.strip() for part in raw.split(",") if part.strip()),
}


@dataclass(frozen=True)
class Settings:
    """Configuration of one deployment (one stage). The README's configuration table lists each
    variable; template.yaml sets them in AWS."""

    stage: str = setting("STAGE", "dev", "`dev` or `prod` (`prod` refuses the console providers)", parse=_stage)
    local_mode: bool = setting(
        "LOCAL_MODE",
        False,
        "`1` in local mode (`make run`, tests): WeChat mock mode and its admin code; ignored on AWS Lambda",
        parse=lambda raw: raw == "1",
    )
    table_name: str = setting("TABLE_NAME", "user-center-dev", "the table (default `user-center-<stage>`)")
    region: str = setting("AWS_REGION", "us-east-1", "AWS region (else `AWS_DEFAULT_REGION`)")
    dynamodb_endpoint: str | None = setting("DYNAMODB_ENDPOINT", None, "another DynamoDB (local mode)")
    # Tokens
    jwt_issuer: str = setting("JWT_ISSUER", "user-center", "`iss` of access tokens")
    jwt_audience: str = setting("JWT_AUDIENCE", "user-center", "`aud` of access tokens")
    access_token_ttl: int = setting("ACCESS_TOKEN_TTL", 3600, "access token lifetime, seconds", parse=_int_in(60))
    refresh_token_ttl: int = setting(
        "REFRESH_TOKEN_TTL",
        7 * 24 * 3600,
        "refresh token / session lifetime, renewed on each refresh",
        parse=_int_in(60),
    )
    session_max_lifetime: int = setting(
        "SESSION_MAX_LIFETIME", 30 * 24 * 3600, "absolute session lifetime; refreshing cannot go past it"
    )
    center_session_idle: int = setting(
        "CENTER_SESSION_IDLE", 24 * 3600, "sign-in center session: ends after this long unused", parse=_int_in(60)
    )
    center_session_max: int = setting(
        "CENTER_SESSION_MAX", 7 * 24 * 3600, "sign-in center session: absolute lifetime", parse=_int_in(60)
    )
    issuer_url: str | None = setting(
        "ISSUER_URL", None, "the sign-in center's public URL (the OpenID issuer); empty: from the request's host"
    )
    refresh_reuse_memory: int = setting(
        "REFRESH_REUSE_MEMORY", 20, "used refresh tokens per session recognised as reuse", parse=_int_in(1)
    )
    refresh_reuse_leeway: int = setting(
        "REFRESH_REUSE_LEEWAY", 10, "seconds a just-rotated refresh token answers the same successor", parse=_int_in(0)
    )
    max_sessions_per_user: int = setting(
        "MAX_SESSIONS_PER_USER", 100, "sessions per user; signing in past it ends the oldest", parse=_int_in(1)
    )
    # Signing keys: an SSM parameter name in AWS, a file locally, or inline JSON (tests).
    signing_keys_parameter: str | None = setting("SIGNING_KEYS_PARAMETER", None, "SSM SecureString with the key ring")
    signing_keys_file: str | None = setting("SIGNING_KEYS_FILE", None, "key ring file (local mode: generated)")
    signing_keys_json: str | None = setting("SIGNING_KEYS_JSON", None, "key ring as JSON (tests)", secret=True)
    signing_keys_cache_seconds: int = setting("SIGNING_KEYS_CACHE_SECONDS", 300, "key ring cache, seconds")
    app_settings_cache_seconds: float = setting(
        "APP_SETTINGS_CACHE_SECONDS", 5.0, "how long a container keeps an app's settings", parse=float
    )
    # Second factors: TOTP secrets are sealed with KMS in AWS, with a local AES key otherwise.
    mfa_kms_key_id: str | None = setting("MFA_KMS_KEY_ID", None, "KMS key that seals TOTP secrets (AWS)")
    mfa_key_file: str | None = setting("MFA_KEY_FILE", None, "AES key file sealing TOTP secrets (local: generated)")
    mfa_key: str | None = setting("MFA_KEY", None, "AES-256 key as base64 sealing TOTP secrets (tests)", secret=True)
    mfa_issuer: str = setting("MFA_ISSUER", "User Center", "the issuer name authenticator apps show")
    webauthn_rp_id: str | None = setting(
        "WEBAUTHN_RP_ID", None, "passkeys' relying-party id (your domain); empty: the host of the request"
    )
    webauthn_origins: tuple[str, ...] = setting(
        "WEBAUTHN_ORIGINS", (), "origins passkeys may be used from, comma-separated; empty: the request's own"
    )
    # Passwords
    bcrypt_rounds: int = setting("BCRYPT_ROUNDS", 10, "bcrypt cost", parse=_int_in(4, 16))
    legacy_pbkdf2_iterations: int = setting(
        "LEGACY_PBKDF2_ITERATIONS",
        1_000_000,
        "a wrong password takes as long as a Django pbkdf2_sha256 check at this many iterations (0: none imported)",
        parse=_int_in(0, 5_000_000),
    )
    password_min_length: int = setting("PASSWORD_MIN_LENGTH", 6, "minimum password length", parse=_int_in(1, 72))
    # Abuse protection (API.md sections 6 and 7)
    login_max_failures: int = setting("LOGIN_MAX_FAILURES", 5, "sign-in attempts per account per window")
    login_lock_seconds: int = setting("LOGIN_LOCK_SECONDS", 900, "the lockout window, seconds")
    captcha_ttl: int = setting("CAPTCHA_TTL", 300, "captcha lifetime, seconds")
    code_ttl: int = setting("CODE_TTL", 300, "verification code lifetime, seconds")
    code_resend_seconds: int = setting("CODE_RESEND_SECONDS", 60, "resend cooldown per phone or email")
    code_max_tries: int = setting("CODE_MAX_TRIES", 5, "wrong tries before a code burns")
    code_target_daily_limit: int = setting("CODE_TARGET_DAILY_LIMIT", 10, "codes per phone or email per day")
    code_ip_hourly_limit: int = setting("CODE_IP_HOURLY_LIMIT", 20, "codes per client IP per hour")
    sms_allowed_country_codes: tuple[str, ...] = setting(
        "SMS_ALLOWED_COUNTRY_CODES", ("86",), "country calling codes SMS goes to (`*`: any)", parse=_country_codes
    )
    # Providers
    sms_provider: str = setting("SMS_PROVIDER", "console", "`console`, `sns` or `aliyun`")
    email_provider: str = setting("EMAIL_PROVIDER", "console", "`console` or `ses`")
    local_outbox: str = setting("LOCAL_OUTBOX", ".local/outbox.jsonl", "where the console provider appends")
    email_from: str | None = setting("EMAIL_FROM", None, "verified sender of SES mail")
    sms_sender_id: str | None = setting("SMS_SENDER_ID", None, "SNS sender id")
    aliyun_sign_name: str = setting("ALIYUN_SMS_SIGN_NAME", "", "Aliyun Dysms sign name")
    aliyun_template_code: str = setting("ALIYUN_SMS_TEMPLATE_CODE", "", "Aliyun Dysms template")
    aliyun_endpoint: str = setting("ALIYUN_SMS_ENDPOINT", "https://dysmsapi.aliyuncs.com/", "Aliyun endpoint")
    aliyun_credentials_parameter: str | None = setting(
        "ALIYUN_CREDENTIALS_PARAMETER", None, "SSM SecureString with the Aliyun AccessKey pair"
    )
    aliyun_access_key_id: str | None = setting(
        "ALIYUN_ACCESS_KEY_ID", None, "Aliyun AccessKey id (local; SSM in AWS)", secret=True
    )
    aliyun_access_key_secret: str | None = setting(
        "ALIYUN_ACCESS_KEY_SECRET", None, "Aliyun AccessKey secret (local; SSM in AWS)", secret=True
    )
    # WeChat
    wechat_api_base: str = setting("WECHAT_API_BASE", "https://api.weixin.qq.com", "WeChat API endpoint")
    wechat_secrets_ssm: bool = setting("WECHAT_SECRETS_SSM", False, "read AppSecrets from SSM")
    wechat_secrets: str | None = setting(
        "WECHAT_SECRETS", None, "AppSecrets as JSON `{appid: secret}` (local)", secret=True, parse=_json_object
    )
    wechat_web_app_id: str | None = setting("WECHAT_WEB_APP_ID", None, "default web (QR) AppID")
    wechat_mp_app_id: str | None = setting("WECHAT_MP_APP_ID", None, "default official-account AppID")
    wechat_miniapp_app_id: str | None = setting("WECHAT_MINIAPP_APP_ID", None, "default mini-program AppID")
    wechat_app_app_id: str | None = setting("WECHAT_APP_APP_ID", None, "default mobile-app AppID")
    wechat_timeout: float = setting("WECHAT_TIMEOUT", 3.0, "WeChat timeout, seconds (far below the function timeout)")
    # Apps and roles
    default_app: str = setting("DEFAULT_APP", "app0", "app when none is given")
    default_role: str = setting("DEFAULT_ROLE", "l0", "role of new users")
    # Requests
    max_body_bytes: int = setting("MAX_BODY_BYTES", 64 * 1024, "larger request bodies get 413")
    route_requirements: str | None = setting("ROUTE_REQUIREMENTS", None, "the authorizer's route map as JSON")
    routes_file: str | None = setting("ROUTES_FILE", None, "the authorizer's route map file")
    route_maps: str | None = setting("ROUTE_MAPS", None, "other APIs' route maps as JSON (local)")
    route_maps_parameter_prefix: str | None = setting(
        "ROUTE_MAPS_PARAMETER_PREFIX", None, "where other APIs register their route maps (SSM)"
    )
    audit_retention_days: int = setting("AUDIT_RETENTION_DAYS", 180, "audit events expire after this many days")
    cors_allowed_origins: tuple[str, ...] = setting("CORS_ALLOWED_ORIGINS", (), "allowed origins, comma-separated")

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    def wechat_app_id(self, account_type: str) -> str | None:
        """The default AppID of a WeChat type (``web``, ``mp``, ``miniapp``, ``app``)."""
        value = getattr(self, f"wechat_{account_type}_app_id", None)
        return str(value) if value else None

    @classmethod
    def variables(cls) -> Iterator[tuple[str, str, Any, str]]:
        """``(field, environment variable, default, meaning)`` of every setting."""
        for item in fields(cls):
            yield item.name, item.metadata["env"], item.default, item.metadata["doc"]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (an empty one means its default).

        Raises:
            ValueError: a value is malformed (an unknown stage, a non-integer number, out of range).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for item in fields(cls):
            name = item.metadata["env"]
            raw = (env.get(name) or "").strip()
            if not raw:
                continue
            parse = item.metadata["parse"] or PARSERS[str(item.type)]
            try:
                values[item.name] = parse(raw)
            except ValueError as exc:
                raise ValueError(f"setting {name}: {exc} (got {raw!r})") from exc
        if "region" not in values and env.get("AWS_DEFAULT_REGION"):
            values["region"] = env["AWS_DEFAULT_REGION"]
        values.setdefault("table_name", f"user-center-{values.get('stage', 'dev')}")
        if env.get("AWS_LAMBDA_FUNCTION_NAME"):
            values["local_mode"] = False  # never on Lambda, whatever the variable says
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this container, parsed on first use (never at import)."""
    return Settings.from_env()
