"""One typed error hierarchy: each error carries its stable API code, HTTP status and messages.

The envelope (``shared.envelope``) is the only place that turns these into responses; nothing picks a
status by reading message text. Messages are Chinese by default and English on ``Accept-Language: en``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every error the API answers with its own envelope."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500
    message_zh: ClassVar[str] = "服务器内部错误"
    message_en: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        data: dict[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.message_en)
        self.detail = detail
        self.data = data
        self.errors = errors
        self.headers = headers or {}

    def message(self, lang: str) -> str:
        """The message for people, in ``lang`` (``zh`` or ``en``)."""
        return self.message_en if lang == "en" else self.message_zh


class BadRequestError(AppError):
    code, status = "BAD_REQUEST", 400
    message_zh, message_en = "请求格式错误", "Malformed request"


class PayloadTooLargeError(AppError):
    code, status = "PAYLOAD_TOO_LARGE", 413
    message_zh, message_en = "请求体过大", "Request body too large"


class ValidationError(AppError):
    """A field is missing or invalid; ``errors`` maps each bad field to its messages."""

    code, status = "VALIDATION_ERROR", 422
    message_zh, message_en = "参数校验失败", "Validation failed"

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail, errors=errors)


class PasswordMismatchError(AppError):
    code, status = "PASSWORD_MISMATCH", 400
    message_zh, message_en = "两次输入的密码不一致", "Passwords do not match"


class UsernameTakenError(AppError):
    code, status = "USERNAME_TAKEN", 409
    message_zh, message_en = "用户名已注册", "Username already registered"


class EmailTakenError(AppError):
    code, status = "EMAIL_TAKEN", 409
    message_zh, message_en = "邮箱已注册", "Email already registered"


class PhoneTakenError(AppError):
    code, status = "PHONE_TAKEN", 409
    message_zh, message_en = "手机号已注册", "Phone number already registered"


class InvalidCredentialsError(AppError):
    code, status = "INVALID_CREDENTIALS", 401
    message_zh, message_en = "用户名或密码错误", "Invalid username or password"


class UserDisabledError(AppError):
    code, status = "USER_DISABLED", 403
    message_zh, message_en = "用户已被禁用", "User is disabled"


class UnauthorizedError(AppError):
    code, status = "UNAUTHORIZED", 401
    message_zh, message_en = "未登录或登录已失效", "Authentication required"


class TokenInvalidError(AppError):
    code, status = "TOKEN_INVALID", 401
    message_zh, message_en = "令牌无效", "Invalid token"


class TokenExpiredError(AppError):
    code, status = "TOKEN_EXPIRED", 401
    message_zh, message_en = "令牌已过期", "Token expired"


class TokenRevokedError(AppError):
    code, status = "TOKEN_REVOKED", 401
    message_zh, message_en = "令牌已被撤销", "Token revoked"


class RefreshTokenReusedError(AppError):
    code, status = "REFRESH_TOKEN_REUSED", 401
    message_zh, message_en = "刷新令牌被重复使用，会话已注销", "Refresh token reused; the session was revoked"


class PermissionDeniedError(AppError):
    code, status = "PERMISSION_DENIED", 403
    message_zh, message_en = "没有权限", "Permission denied"


class NotFoundError(AppError):
    code, status = "NOT_FOUND", 404
    message_zh, message_en = "资源不存在", "Not found"


class RateLimitedError(AppError):
    code, status = "RATE_LIMITED", 429
    message_zh, message_en = "请求过于频繁，请稍后再试", "Too many requests, try again later"

    def __init__(self, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(data={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})


class CaptchaRequiredError(RateLimitedError):
    """A client IP past its hourly share of codes (often many people behind one carrier NAT or proxy):
    the same 429, and ``captcha_required`` tells the page to ask for a captcha and send it along."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.data = {**(self.data or {}), "captcha_required": True}


class CaptchaInvalidError(AppError):
    code, status = "CAPTCHA_INVALID", 400
    message_zh, message_en = "图形验证码错误或已失效", "Captcha is wrong, used or expired"


class CodeInvalidError(AppError):
    code, status = "CODE_INVALID", 400
    message_zh, message_en = "验证码错误", "Verification code is wrong"


class CodeExpiredError(AppError):
    code, status = "CODE_EXPIRED", 400
    message_zh, message_en = "验证码已过期", "Verification code expired"


class ServiceUnavailableError(AppError):
    code, status = "SERVICE_UNAVAILABLE", 503
    message_zh, message_en = "服务暂时不可用，请稍后再试", "Service temporarily unavailable"


class UpstreamUnavailableError(AppError):
    code, status = "UPSTREAM_UNAVAILABLE", 503
    message_zh, message_en = "上游服务暂时不可用", "Upstream service unavailable"


class InternalError(AppError):
    """Anything unexpected; ``data`` carries the request id so operators can find the log line."""


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured (missing keys, bad settings): fails loudly, never a 4xx."""


class ResourceInUseError(AppError):
    """A menu with children, a department with sub-departments or users."""

    code, status = "RESOURCE_IN_USE", 409
    message_zh, message_en = "资源仍在使用中", "Resource is still in use"


class MfaCodeInvalidError(AppError):
    """A TOTP or recovery code that is wrong, already used (a replayed step, a spent recovery code) or
    not one of the user's: every try counts toward the account's lockout, like a wrong password."""

    code, status = "MFA_CODE_INVALID", 400
    message_zh, message_en = "动态验证码错误", "Authentication code is wrong"


class MfaTokenInvalidError(AppError):
    """The ``mfa_token`` of a sign-in is unknown, used or past its 5 minutes: sign in again."""

    code, status = "MFA_TOKEN_INVALID", 400
    message_zh, message_en = "登录已失效，请重新登录", "The sign-in expired, sign in again"


class MfaAlreadyEnabledError(AppError):
    code, status = "MFA_ALREADY_ENABLED", 409
    message_zh, message_en = "已开启两步验证", "Two-step verification is already on"


class MfaNotEnabledError(AppError):
    code, status = "MFA_NOT_ENABLED", 400
    message_zh, message_en = "未开启两步验证", "Two-step verification is not on"


class MfaSetupRequiredError(AppError):
    """Confirming (or enrolling at sign-in) before a secret was set up, or after it expired."""

    code, status = "MFA_SETUP_REQUIRED", 400
    message_zh, message_en = "请先设置验证器", "Set up the authenticator first"


class MfaRequired(Exception):
    """Not a failure: a sign-in whose second factor is due answers 200 with ``data`` and no tokens
    (API.md section 12); raised by ``shared.services.mfa_gate`` from wherever the sign-in began."""

    def __init__(self, mfa_token: str, methods: list[str]) -> None:
        super().__init__("second factor required")
        self.mfa_token = mfa_token
        self.methods = methods

    @property
    def data(self) -> dict[str, object]:
        return {"mfa_required": True, "mfa_token": self.mfa_token, "methods": self.methods}


class PasskeyInvalidError(AppError):
    """A WebAuthn response that does not verify: malformed, another origin or relying party, no user
    verification, a bad signature, an unknown credential, or a sign count that went back (a cloned
    authenticator)."""

    code, status = "PASSKEY_INVALID", 400
    message_zh, message_en = "通行密钥验证失败", "The passkey could not be verified"


class PasskeyChallengeError(AppError):
    """The challenge is unknown, used already, past its 5 minutes, or was handed out for something else."""

    code, status = "PASSKEY_CHALLENGE_INVALID", 400
    message_zh, message_en = "验证已过期，请重试", "The passkey request expired: try again"


class PasskeyRegisteredError(AppError):
    code, status = "PASSKEY_REGISTERED", 409
    message_zh, message_en = "该通行密钥已注册", "This passkey is registered already"
