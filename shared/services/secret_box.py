"""Sealing small secrets at rest (TOTP secrets): KMS in AWS, AES-256-GCM with a local key otherwise.

A sealed value names its kind (``kms:`` or ``aes:``) and is bound to a context (the user id), so a
sealed secret copied onto another user's item does not open there. KMS is only called when a secret is
sealed or opened (TOTP set-up and second-factor checks), never at import.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any, Protocol

from shared.config import Settings
from shared.errors import ConfigurationError
from shared.private_files import read_or_create

NONCE_BYTES = 12


class SecretBox(Protocol):
    def seal(self, plaintext: bytes, context: str) -> str: ...

    def open(self, sealed: str, context: str) -> bytes: ...


class SealedValueError(Exception):
    """A sealed value that does not open: another key, another context, or altered."""


class LocalBox:
    """AES-256-GCM with ``key``; the context is the associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigurationError("the MFA key must be 32 bytes")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, context.encode())
        return "aes:" + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, sealed: str, context: str) -> bytes:
        from cryptography.exceptions import InvalidTag

        kind, _, body = sealed.partition(":")
        if kind != "aes":
            raise SealedValueError(kind)
        try:
            raw = base64.urlsafe_b64decode(body)
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealedValueError("does not open") from exc


class KmsBox:
    """KMS ``Encrypt`` / ``Decrypt`` with the context as the encryption context (CloudTrail shows it)."""

    def __init__(self, key_id: str, region: str, client: Any = None) -> None:
        self.key_id = key_id
        self.region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms", region_name=self.region)
        return self._client

    def seal(self, plaintext: bytes, context: str) -> str:
        answer = self.client.encrypt(KeyId=self.key_id, Plaintext=plaintext, EncryptionContext={"user": context})
        return "kms:" + base64.urlsafe_b64encode(answer["CiphertextBlob"]).decode("ascii")

    def open(self, sealed: str, context: str) -> bytes:
        kind, _, body = sealed.partition(":")
        if kind != "kms":
            raise SealedValueError(kind)
        from botocore.exceptions import ClientError

        try:
            answer = self.client.decrypt(
                CiphertextBlob=base64.urlsafe_b64decode(body), KeyId=self.key_id, EncryptionContext={"user": context}
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                raise SealedValueError("does not open") from exc
            raise
        plaintext: bytes = answer["Plaintext"]
        return plaintext


def load_or_create_key(path: str) -> bytes:
    """Local mode: the key file's 32 bytes, creating it (mode 0600) when missing."""
    return base64.b64decode(read_or_create(path, lambda: base64.b64encode(secrets.token_bytes(32)).decode()).strip())


def box_from_settings(settings: Settings) -> SecretBox:
    """KMS when a key id is set, else the inline key, else the key file.

    Raises:
        ConfigurationError: none is configured (second factors cannot be set up).
    """
    if settings.mfa_kms_key_id:
        return KmsBox(settings.mfa_kms_key_id, settings.region)
    if settings.mfa_key:
        return LocalBox(base64.b64decode(settings.mfa_key))
    if settings.mfa_key_file:
        return LocalBox(load_or_create_key(settings.mfa_key_file))
    raise ConfigurationError("no MFA key: set MFA_KMS_KEY_ID, MFA_KEY or MFA_KEY_FILE")
