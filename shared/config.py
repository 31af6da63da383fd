"""Typed settings, parsed once from the environment.

Domain code never reads ``os.environ``: it receives a :class:`Settings` (tests build one directly).
Every knob here is listed in the README's configuration table and, for AWS, set by template.yaml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

STAGES = ("dev", "prod")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name} must be an integer, got {raw!r}") from exc


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Configuration of one deployment (one stage)."""

    stage: str = "dev"
    # Local mode (`make run`, tests): WeChat mock mode and its admin shortcut exist only here. Set by
    # LOCAL_MODE=1, and never on AWS Lambda whatever the variable says (API.md section 4).
    local_mode: bool = False
    table_name: str = "user-center-dev"
    region: str = "us-east-1"
    dynamodb_endpoint: str | None = None
    # Tokens
    jwt_issuer: str = "user-center"
    jwt_audience: str = "user-center"
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 7 * 24 * 3600
    session_max_lifetime: int = 30 * 24 * 3600
    refresh_reuse_memory: int = 20
    refresh_reuse_leeway: int = 10
    max_sessions_per_user: int = 100
    # Signing keys: an SSM parameter name in AWS, a file locally, or inline JSON (tests).
    signing_keys_parameter: str | None = None
    signing_keys_file: str | None = None
    signing_keys_json: str | None = None
    signing_keys_cache_seconds: int = 300
    # Passwords
    bcrypt_rounds: int = 10
    password_min_length: int = 6
    # Abuse protection (API.md sections 6 and 7)
    login_max_failures: int = 5
    login_lock_seconds: int = 900
    captcha_ttl: int = 300
    code_ttl: int = 300
    code_resend_seconds: int = 60
    code_max_tries: int = 5
    code_target_daily_limit: int = 10
    code_ip_hourly_limit: int = 20
    sms_allowed_country_codes: tuple[str, ...] = ("86",)  # "*" allows any country
    # Providers
    sms_provider: str = "console"
    email_provider: str = "console"
    local_outbox: str = ".local/outbox.jsonl"
    email_from: str | None = None
    sms_sender_id: str | None = None
    aliyun_sign_name: str = ""
    aliyun_template_code: str = ""
    aliyun_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    aliyun_credentials_parameter: str | None = None
    # WeChat
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_secrets_ssm: bool = False
    wechat_timeout: float = 10.0
    # Apps and roles
    default_app: str = "app0"
    default_role: str = "l0"
    # Requests
    max_body_bytes: int = 64 * 1024
    route_requirements: str | None = None
    routes_file: str | None = None
    route_maps: str | None = None
    route_maps_parameter_prefix: str | None = None
    audit_retention_days: int = 180
    cors_allowed_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (names in the README's configuration table).

        Raises:
            ValueError: a value is malformed (an unknown stage, a non-integer number).
        """
        env = os.environ if env is None else env
        stage = env.get("STAGE", "dev").strip() or "dev"
        if stage not in STAGES:
            raise ValueError(f"STAGE must be one of {STAGES}, got {stage!r}")
        rounds = _int(env, "BCRYPT_ROUNDS", 10)
        if not 4 <= rounds <= 16:
            raise ValueError("BCRYPT_ROUNDS must be between 4 and 16")
        return cls(
            stage=stage,
            local_mode=env.get("LOCAL_MODE", "").strip() == "1" and not env.get("AWS_LAMBDA_FUNCTION_NAME"),
            table_name=env.get("TABLE_NAME", f"user-center-{stage}"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
            jwt_issuer=env.get("JWT_ISSUER", "user-center"),
            jwt_audience=env.get("JWT_AUDIENCE", "user-center"),
            access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", 3600),
            refresh_token_ttl=_int(env, "REFRESH_TOKEN_TTL", 7 * 24 * 3600),
            session_max_lifetime=_int(env, "SESSION_MAX_LIFETIME", 30 * 24 * 3600),
            refresh_reuse_memory=max(1, _int(env, "REFRESH_REUSE_MEMORY", 20)),
            refresh_reuse_leeway=max(0, _int(env, "REFRESH_REUSE_LEEWAY", 10)),
            max_sessions_per_user=max(1, _int(env, "MAX_SESSIONS_PER_USER", 100)),
            signing_keys_parameter=env.get("SIGNING_KEYS_PARAMETER") or None,
            signing_keys_file=env.get("SIGNING_KEYS_FILE") or None,
            signing_keys_json=env.get("SIGNING_KEYS_JSON") or None,
            signing_keys_cache_seconds=_int(env, "SIGNING_KEYS_CACHE_SECONDS", 300),
            bcrypt_rounds=rounds,
            password_min_length=_int(env, "PASSWORD_MIN_LENGTH", 6),
            login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5),
            login_lock_seconds=_int(env, "LOGIN_LOCK_SECONDS", 900),
            captcha_ttl=_int(env, "CAPTCHA_TTL", 300),
            code_ttl=_int(env, "CODE_TTL", 300),
            code_resend_seconds=_int(env, "CODE_RESEND_SECONDS", 60),
            code_max_tries=_int(env, "CODE_MAX_TRIES", 5),
            code_target_daily_limit=_int(env, "CODE_TARGET_DAILY_LIMIT", 10),
            code_ip_hourly_limit=_int(env, "CODE_IP_HOURLY_LIMIT", 20),
            sms_allowed_country_codes=tuple(c.lstrip("+") for c in _list(env, "SMS_ALLOWED_COUNTRY_CODES")) or ("86",),
            sms_provider=env.get("SMS_PROVIDER") or "console",
            email_provider=env.get("EMAIL_PROVIDER") or "console",
            local_outbox=env.get("LOCAL_OUTBOX") or ".local/outbox.jsonl",
            email_from=env.get("EMAIL_FROM") or None,
            sms_sender_id=env.get("SMS_SENDER_ID") or None,
            aliyun_sign_name=env.get("ALIYUN_SMS_SIGN_NAME", ""),
            aliyun_template_code=env.get("ALIYUN_SMS_TEMPLATE_CODE", ""),
            aliyun_endpoint=env.get("ALIYUN_SMS_ENDPOINT") or "https://dysmsapi.aliyuncs.com/",
            aliyun_credentials_parameter=env.get("ALIYUN_CREDENTIALS_PARAMETER") or None,
            wechat_api_base=env.get("WECHAT_API_BASE") or "https://api.weixin.qq.com",
            wechat_secrets_ssm=(env.get("WECHAT_SECRETS_SSM", "").lower() in ("1", "true")),
            wechat_timeout=float(env.get("WECHAT_TIMEOUT") or 10),
            default_app=env.get("DEFAULT_APP", "app0"),
            default_role=env.get("DEFAULT_ROLE", "l0"),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 64 * 1024),
            route_requirements=env.get("ROUTE_REQUIREMENTS") or None,
            routes_file=env.get("ROUTES_FILE") or None,
            route_maps=env.get("ROUTE_MAPS") or None,
            route_maps_parameter_prefix=env.get("ROUTE_MAPS_PARAMETER_PREFIX") or None,
            audit_retention_days=_int(env, "AUDIT_RETENTION_DAYS", 180),
            cors_allowed_origins=_list(env, "CORS_ALLOWED_ORIGINS"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this container, parsed on first use (never at import)."""
    return Settings.from_env()
