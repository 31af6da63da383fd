"""A software passkey authenticator for the API tests: what a phone or a security key does, in WebAuthn's
JSON forms (``PublicKeyCredential.toJSON()``): an ES256 key per credential, ``none`` attestation, user
presence and verification, a sign count it increments (or keeps at 0, as synced passkeys do).

It can be cloned (a copy with the same key and counter), which is what a server's counter check is for.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import Aaguid, AttestationObject, AttestedCredentialData, AuthenticatorData

FLAG = AuthenticatorData.FLAG


class SoftAuthenticator:
    def __init__(self, origin: str, *, counts: bool = True, synced: bool = False, verifies: bool = True) -> None:
        self.origin = origin
        self.counts = counts
        self.synced = synced
        self.verifies = verifies
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.counter = 0
        self.user_handle = b""
        self.rp_id = ""

    @property
    def passkey_id(self) -> str:
        return websafe_encode(self.credential_id)

    def clone(self) -> SoftAuthenticator:
        return copy.deepcopy(self)

    def _flags(self, attested: bool = False) -> AuthenticatorData.FLAG:
        flags = FLAG.UP | (FLAG.UV if self.verifies else 0)
        if self.synced:
            flags |= FLAG.BE | FLAG.BS
        return FLAG(flags | (FLAG.AT if attested else 0))

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(data, separators=(",", ":")).encode()

    def create(self, public_key: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.create({publicKey})`` answered, as JSON."""
        self.rp_id = public_key["rp"]["id"]
        self.user_handle = websafe_decode(public_key["user"]["id"])
        cose = ES256.from_cryptography_key(self.key.public_key())
        attested = AttestedCredentialData.create(Aaguid(b"\x00" * 16), self.credential_id, cose)
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        auth_data = AuthenticatorData.create(rp_hash, self._flags(attested=True), self.counter, bytes(attested))
        attestation = AttestationObject.create("none", auth_data, {})
        client_data = self._client_data("webauthn.create", public_key["challenge"], origin)
        return self._credential(
            client_data, attestationObject=websafe_encode(bytes(attestation)), transports=["internal", "hybrid"]
        )

    def get(self, public_key: dict[str, Any], origin: str | None = None, rp_id: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.get({publicKey})`` answered with this passkey, as JSON."""
        if self.counts:
            self.counter += 1
        rp_hash = hashlib.sha256((rp_id or public_key.get("rpId") or self.rp_id).encode()).digest()
        auth_data = AuthenticatorData.create(rp_hash, self._flags(), self.counter)
        client_data = self._client_data("webauthn.get", public_key["challenge"], origin)
        signed = bytes(auth_data) + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._credential(
            client_data,
            authenticatorData=websafe_encode(bytes(auth_data)),
            signature=websafe_encode(signature),
            userHandle=websafe_encode(self.user_handle),
        )

    def _credential(self, client_data: bytes, **response: Any) -> dict[str, Any]:
        """``PublicKeyCredential.toJSON()`` of this passkey with ``response``'s fields."""
        return {
            "id": self.passkey_id,
            "rawId": self.passkey_id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {"clientDataJSON": websafe_encode(client_data), **response},
            "clientExtensionResults": {},
        }
