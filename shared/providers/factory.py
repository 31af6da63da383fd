"""Pick the SMS and email providers from settings (``SMS_PROVIDER``, ``EMAIL_PROVIDER``)."""

from __future__ import annotations

import json
from typing import Any

from shared.config import Settings
from shared.errors import ConfigurationError
from shared.providers.base import CodeSender, GuardedSender


def _aliyun_credentials(settings: Settings) -> tuple[str, str]:
    """The AccessKey pair: an SSM SecureString ``{"access_key_id", "access_key_secret"}`` in AWS, or
    ``ALIYUN_ACCESS_KEY_ID``/``ALIYUN_ACCESS_KEY_SECRET`` (local tests)."""
    if settings.aliyun_credentials_parameter:
        from aws_lambda_powertools.utilities import parameters

        data: Any = json.loads(
            str(parameters.get_parameter(settings.aliyun_credentials_parameter, decrypt=True, max_age=300))
        )
        return str(data["access_key_id"]), str(data["access_key_secret"])
    key_id, secret = settings.aliyun_access_key_id, settings.aliyun_access_key_secret
    if not key_id or not secret:
        raise ConfigurationError("Aliyun SMS credentials are not configured")
    return key_id, secret


def build_senders(settings: Settings) -> dict[str, CodeSender]:
    """The configured senders; the console provider is refused in stage prod.

    Raises:
        ConfigurationError: an unknown provider, or console in prod.
    """
    senders: dict[str, CodeSender] = {}
    for channel, choice in (("sms", settings.sms_provider), ("email", settings.email_provider)):
        if choice == "console":
            if settings.is_prod:
                raise ConfigurationError(f"{channel.upper()}_PROVIDER=console is for local mode, not prod")
            from shared.providers.console import ConsoleSender

            senders[channel] = ConsoleSender(channel, settings.local_outbox)
        elif channel == "sms" and choice == "sns":
            from shared.providers.aws import SnsSender

            senders[channel] = SnsSender(settings.region, settings.sms_sender_id)
        elif channel == "sms" and choice == "aliyun":
            from shared.providers.aliyun import AliyunSmsSender

            senders[channel] = AliyunSmsSender(
                lambda: _aliyun_credentials(settings),
                settings.aliyun_sign_name,
                settings.aliyun_template_code,
                settings.aliyun_endpoint,
            )
        elif channel == "email" and choice == "ses":
            from shared.providers.aws import SesSender

            if not settings.email_from:
                raise ConfigurationError("EMAIL_FROM is required with EMAIL_PROVIDER=ses")
            senders[channel] = SesSender(settings.email_from, settings.region)
        else:
            raise ConfigurationError(f"unknown {channel} provider {choice!r}")
        if choice != "console":
            senders[channel] = GuardedSender(senders[channel])
    return senders


class LazySenders(dict[str, CodeSender]):
    """The configured senders, built when a code is first sent (configuration errors surface then)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    def __missing__(self, channel: str) -> CodeSender:
        self.update(build_senders(self._settings))
        return self[channel]
