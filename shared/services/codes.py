"""Verification codes by SMS and email (API.md section 6).

Six digits, valid ``CODE_TTL`` (300 s), single use, stored as a salted hash and never returned. Five
wrong tries burn a code. A new code to the same target waits ``CODE_RESEND_SECONDS`` (60 s) whatever its
``code_type`` (API.md section 7: five types must not mean five messages a minute); a target gets at most
``CODE_TARGET_DAILY_LIMIT`` a day and a client IP ``CODE_IP_HOURLY_LIMIT`` an hour; past that, a request
that solved a captcha still passes, up to ``CAPTCHA_IP_FACTOR`` times as many (people behind one carrier
NAT or proxy share an IP; an SMS pump cannot solve captchas at that rate). SMS goes only to
numbers whose country calling code is in ``SMS_ALLOWED_COUNTRY_CODES`` (``*`` allows any). A code is
bound to its ``code_type`` and target. When the provider fails, the code is withdrawn and the counters
are given back, so the sender can retry at once (503 ``UPSTREAM_UNAVAILABLE``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import PynamoDBException

from shared.clock import Clock, system_clock
from shared.db.codes import CodeRecord, CodeRepository, CodeUse
from shared.db.throttle import ThrottleRepository
from shared.errors import (
    CaptchaInvalidError,
    CaptchaRequiredError,
    CodeExpiredError,
    CodeInvalidError,
    RateLimitedError,
    UpstreamUnavailableError,
    ValidationError,
)
from shared.identifiers import country_calling_code, normalize_email, normalize_phone
from shared.providers.base import CodeSender, ProviderError

CAPTCHA_IP_FACTOR = 10  # an IP's hourly codes with a captcha, as a multiple of those without

SMS_CODE_TYPES = ("login", "register", "reset_password", "change_phone", "bind")
EMAIL_CODE_TYPES = ("login", "register", "reset_password", "bind")  # login: the sign-in center's page


@dataclass(frozen=True)
class CodeLimits:
    ttl: int = 300
    resend_seconds: int = 60
    max_tries: int = 5
    target_daily: int = 10
    ip_hourly: int = 20
    sms_country_codes: tuple[str, ...] = ("86",)


def code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def target_of(channel: str, raw: str) -> str:
    """The normalised target (E.164 phone, lower-cased email).

    Raises:
        ValidationError: not a phone number / email.
    """
    if channel == "sms":
        phone = normalize_phone(raw)
        if phone is None:
            raise ValidationError({"phone": ["a mainland 11-digit or E.164 phone number"]})
        return phone
    email = normalize_email(raw)
    if email is None:
        raise ValidationError({"email": ["invalid email"]})
    return email


def check_sms_country(phone_e164: str, allowed: tuple[str, ...]) -> None:
    """Refuse a number outside the allowed countries before anything is written or sent (SMS to other
    countries costs more and is a favourite of SMS-pumping fraud).

    Raises:
        ValidationError: naming ``phone``.
    """
    if "*" in allowed:
        return
    code = country_calling_code(phone_e164)
    if code is None or code not in allowed:
        raise ValidationError({"phone": [f"SMS is only sent to country calling codes {', '.join(allowed)}"]})


class CodeService:
    def __init__(
        self,
        codes: CodeRepository,
        throttle: ThrottleRepository,
        senders: dict[str, CodeSender],
        limits: CodeLimits | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.codes = codes
        self.throttle = throttle
        self.senders = senders
        self.limits = limits or CodeLimits()
        self.clock = clock

    def send(
        self,
        channel: str,
        raw_target: str,
        code_type: str,
        client_ip: str | None,
        captcha: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Create and deliver a code. ``captcha`` checks (and uses) the captcha the request carries, if
        any; it is asked for only when the client IP is past its hourly share.

        Raises:
            ValidationError: bad target, code type, or a phone outside ``SMS_ALLOWED_COUNTRY_CODES``.
            RateLimitedError: cooldown, daily or hourly limit (``retry_after`` in seconds);
                CaptchaRequiredError when a captcha would let the IP go on.
            CaptchaInvalidError: the IP needed the captcha and it was wrong.
            UpstreamUnavailableError: the provider failed; nothing was kept.
        """
        limits, now = self.limits, self.clock()
        errors: dict[str, list[str]] = {}  # every bad field at once (API.md section 1)
        allowed = SMS_CODE_TYPES if channel == "sms" else EMAIL_CODE_TYPES
        if code_type not in allowed:
            errors["code_type"] = [f"one of {', '.join(allowed)}"]
        try:
            target = target_of(channel, raw_target)
            if channel == "sms":
                check_sms_country(target, limits.sms_country_codes)
        except ValidationError as exc:
            errors.update(exc.errors or {})
        if errors:
            raise ValidationError(errors)
        code = f"{secrets.randbelow(1_000_000):06d}"
        salt = secrets.token_hex(8)
        record = CodeRecord(code_hash(salt, code), salt, 0, now, now + limits.ttl)
        last_sent = self.codes.cooldown_started(channel, target)  # the common refusal, before counting
        if last_sent is not None and last_sent > now - limits.resend_seconds:
            raise RateLimitedError(max(1, int(last_sent + limits.resend_seconds - now)))
        counted: list[tuple[str, str, int]] = []
        stored = False
        try:
            checks = [("target", f"{channel}:{target}", limits.target_daily, 86400)]
            if client_ip:
                checks.append(("ip", client_ip, limits.ip_hourly, 3600))
            for name, subject, limit, window in checks:
                retry_after = self.throttle.hit(name, subject, limit, window, now)
                if retry_after is not None and name == "ip":
                    name, limit = "ip-captcha", limit * CAPTCHA_IP_FACTOR
                    if captcha is None:
                        raise CaptchaRequiredError(retry_after)
                    captcha()
                    retry_after = self.throttle.hit(name, subject, limit, window, now)
                if retry_after is not None:
                    raise RateLimitedError(retry_after)
                counted.append((name, subject, window))
            last_sent = self.codes.put_after_cooldown(channel, code_type, target, record, limits.resend_seconds)
            if last_sent is not None:  # another sender won the cooldown a moment ago
                raise RateLimitedError(max(1, int(last_sent + limits.resend_seconds - now)))
            stored = True
            try:
                self.senders[channel].send_code(target, code, code_type)
            except ProviderError as exc:
                raise UpstreamUnavailableError() from exc
        except (RateLimitedError, UpstreamUnavailableError, CaptchaInvalidError, PynamoDBException):
            # Not sent: withdraw the code (which frees the cooldown) and give back what was counted, as far
            # as the table lets us (the original error is the one to report).
            with contextlib.suppress(PynamoDBException):
                if stored:
                    self.codes.withdraw(channel, code_type, target, record.code_hash)
                for name, subject, window in counted:
                    self.throttle.release(name, subject, window, now)
            raise
        key = "phone" if channel == "sms" else "email"
        return {key: target, "code_type": code_type, "expires_in": limits.ttl, "resend_after": limits.resend_seconds}

    def verify(self, channel: str, raw_target: str, code_type: str, code: str) -> str:
        """Check and consume a code; returns the normalised target.

        Raises:
            CodeInvalidError: no code, a wrong one (counted), a burnt one, or one used concurrently.
            CodeExpiredError: past its time.
        """
        use = self.checked(channel, raw_target, code_type, code)
        self.consume(use)
        return use.target

    def checked(self, channel: str, raw_target: str, code_type: str, code: str) -> CodeUse:
        """Read and check a code without consuming it: the caller deletes it in the transaction of the
        change it proves (``CodeUse``), so a failure of that change leaves the code usable for a retry.

        Raises:
            ValidationError: not a phone number / email.
            CodeInvalidError: no code, a wrong one (counted), a burnt one.
            CodeExpiredError: past its time.
        """
        target = target_of(channel, raw_target)
        return self.check(target, code_type, code, self.codes.get(code_type, target))

    def consume(self, use: CodeUse) -> None:
        """Use a checked code on its own.

        Raises:
            CodeInvalidError: another request used it (or burnt it) meanwhile.
        """
        if not self.codes.consume(use.code_type, use.target, use.code_hash, use.max_tries):
            raise CodeInvalidError()

    def check(self, target: str, code_type: str, code: str, record: CodeRecord | None) -> CodeUse:
        """Check a code already read (``record``) without consuming it: the caller deletes it in its
        own transaction (``CodeUse``), as phone sign-in does with the new session.

        Raises:
            CodeInvalidError: no code, a burnt one, or a wrong one (the try is counted).
            CodeExpiredError: past its time.
        """
        if record is None or record.tries >= self.limits.max_tries:
            raise CodeInvalidError()
        if record.expires_at <= self.clock():
            raise CodeExpiredError()
        presented = code_hash(record.salt, (code or "").strip())
        if not hmac.compare_digest(presented, record.code_hash):
            self.codes.add_try(code_type, target, record.code_hash)
            raise CodeInvalidError()
        return CodeUse(code_type, target, record.code_hash, self.limits.max_tries)
