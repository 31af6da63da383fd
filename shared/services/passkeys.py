"""Passkeys (WebAuthn Level 3, with ``fido2``): registration by a signed-in user, discoverable sign-in
without a username, listing and removal (API.md section 12).

Only the passkeys function imports this module (``fido2`` lives in its own layer), so no other
function's cold start pays for it. Options and responses are the WebAuthn JSON forms. Every ceremony
asks for user verification (a PIN or a biometric on the authenticator), so a passkey sign-in counts as
two factors (``amr`` ``hwk``, ``user``, ``mfa``) and skips the TOTP step. Challenges are single use and
live 5 minutes; the sign count is kept and must grow (unless the authenticator keeps none), so a cloned
authenticator replaying an old count is refused; the backed-up flag is kept (a synced passkey).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestedCredentialData,
    AuthenticationResponse,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from shared.clock import Clock, system_clock
from shared.config import Settings
from shared.db.passkeys import CredentialTakenError, Passkey, PasskeyRepository
from shared.db.users import record_of
from shared.domain import ClientInfo, UserRecord
from shared.errors import (
    NotFoundError,
    PasskeyChallengeError,
    PasskeyInvalidError,
    PasskeyRegisteredError,
    UserDisabledError,
)
from shared.observability import logger
from shared.services.accounts import AccountService, SignedIn
from shared.services.mfa_gate import account_label

CHALLENGE_SECONDS = 300
AMR = ["hwk", "user", "mfa"]  # RFC 8176: a key, the user's presence and verification: two factors
REQUIRED = UserVerificationRequirement.REQUIRED


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the domain they are bound to, and the pages allowed to use them."""

    id: str
    name: str
    origins: tuple[str, ...]


def relying_party(settings: Settings, public_url: str) -> RelyingParty:
    """From settings (the custom domain in AWS), else the request's own host and origin (``localhost``
    under ``make run``: WebAuthn refuses IP addresses, so passkeys need http://localhost:3000)."""
    parts = urlsplit(public_url)
    rp_id = settings.webauthn_rp_id or parts.hostname or "localhost"
    origins = settings.webauthn_origins or (f"{parts.scheme}://{parts.netloc}",)
    return RelyingParty(rp_id, settings.mfa_issuer, tuple(origins))


def challenge_key(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


class PasskeyService:
    def __init__(self, accounts: AccountService, repo: PasskeyRepository, clock: Clock = system_clock) -> None:
        self.accounts = accounts
        self.repo = repo
        self.clock = clock

    @staticmethod
    def _server(rp: RelyingParty) -> Fido2Server:
        return Fido2Server(PublicKeyCredentialRpEntity(name=rp.name, id=rp.id), verify_origin=rp.origins.__contains__)

    # -- registration -------------------------------------------------------------------------------------
    def registration_options(self, user_id: str, rp: RelyingParty) -> dict[str, Any]:
        """``{publicKey}`` for ``navigator.credentials.create``: a discoverable credential with user
        verification, none of the user's passkeys again (``excludeCredentials``)."""
        record = self.accounts.item(user_id)
        label = account_label(record)
        user = PublicKeyCredentialUserEntity(
            id=user_id.encode(), name=label, display_name=record.user.nickname or label
        )
        existing = [
            PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=websafe_decode(p.credential_id))
            for p in self.repo.of_user(user_id)
        ]
        options, state = self._server(rp).register_begin(
            user, existing, resident_key_requirement=ResidentKeyRequirement.REQUIRED, user_verification=REQUIRED
        )
        data = {"kind": "register", "user_id": user_id, "rp_id": rp.id}
        self.repo.put_challenge(challenge_key(state["challenge"]), data, self.clock() + CHALLENGE_SECONDS)
        return dict(options)

    def register(
        self, user_id: str, credential: Mapping[str, Any], name: str | None, rp: RelyingParty, client: ClientInfo
    ) -> Passkey:
        """Verify ``navigator.credentials.create``'s answer for a challenge this user was given, and keep
        the passkey.

        Raises:
            PasskeyChallengeError, PasskeyInvalidError, PasskeyRegisteredError.
        """
        response = _parse(RegistrationResponse, credential)
        challenge = websafe_encode(response.response.client_data.challenge)
        data = self.repo.take_challenge(challenge_key(challenge), self.clock())
        if (
            data is None
            or data.get("kind") != "register"
            or data.get("user_id") != user_id
            or data.get("rp_id") != rp.id
        ):
            raise PasskeyChallengeError()
        try:
            auth_data = self._server(rp).register_complete(
                {"challenge": challenge, "user_verification": REQUIRED}, response
            )
        except ValueError as exc:
            logger.info("passkey refused", extra={"reason": str(exc)})
            raise PasskeyInvalidError() from exc
        attested = auth_data.credential_data
        if attested is None:
            raise PasskeyInvalidError()
        now = self.clock()
        passkey = Passkey(
            user_id=user_id,
            credential_id=websafe_encode(attested.credential_id),
            credential_data=websafe_encode(bytes(attested)),
            sign_count=int(auth_data.counter),
            backup_eligible=auth_data.is_backup_eligible(),
            backed_up=auth_data.is_backed_up(),
            transports=_transports(credential),
            name=(name or "").strip()[:64] or None,
            created_at=now,
            last_used_at=None,
        )
        try:
            self.repo.add(passkey, self.accounts.audit_event("passkey_added", now, client))
        except CredentialTakenError as exc:
            raise PasskeyRegisteredError() from exc
        return passkey

    def list(self, user_id: str) -> list[Passkey]:
        return self.repo.of_user(user_id)

    def remove(self, user_id: str, passkey_id: str, client: ClientInfo) -> None:
        """Raises: NotFoundError: the user has no such passkey."""
        if not self.repo.remove(
            user_id, passkey_id, self.accounts.audit_event("passkey_removed", self.clock(), client)
        ):
            raise NotFoundError()

    # -- sign-in ------------------------------------------------------------------------------------------
    def login_options(self, rp: RelyingParty) -> dict[str, Any]:
        """``{challenge_id, publicKey}`` for ``navigator.credentials.get`` (no ``allowCredentials``: the
        browser offers the passkeys it holds for this relying party, and autofill can use them)."""
        options, state = self._server(rp).authenticate_begin(None, user_verification=REQUIRED)
        challenge_id = str(state["challenge"])
        data = {"kind": "login", "rp_id": rp.id}
        self.repo.put_challenge(challenge_key(challenge_id), data, self.clock() + CHALLENGE_SECONDS)
        return {"challenge_id": challenge_id, **dict(options)}

    def authenticate(self, challenge_id: str, credential: Mapping[str, Any], rp: RelyingParty) -> UserRecord:
        """The user a ``navigator.credentials.get`` answer proves (grants unresolved), with the passkey's
        use recorded.

        Raises:
            PasskeyChallengeError, PasskeyInvalidError, UserDisabledError.
        """
        data = self.repo.take_challenge(challenge_key(challenge_id), self.clock())
        if data is None or data.get("kind") != "login" or data.get("rp_id") != rp.id:
            raise PasskeyChallengeError()
        response = _parse(AuthenticationResponse, credential)
        handle = response.response.user_handle
        if not handle:  # not a discoverable credential of ours
            raise PasskeyInvalidError()
        user_id = handle.decode("utf-8", errors="replace")
        passkey, user_item = self.repo.with_user(user_id, websafe_encode(response.raw_id))
        if passkey is None or user_item is None:
            raise PasskeyInvalidError()
        stored = AttestedCredentialData(websafe_decode(passkey.credential_data))
        try:
            self._server(rp).authenticate_complete(
                {"challenge": challenge_id, "user_verification": REQUIRED}, [stored], response
            )
        except ValueError as exc:
            logger.info("passkey refused", extra={"reason": str(exc)})
            raise PasskeyInvalidError() from exc
        auth_data = response.response.authenticator_data
        count = int(auth_data.counter)
        if (count or passkey.sign_count) and count <= passkey.sign_count:
            logger.warning("passkey sign count went back: a cloned authenticator?", extra={"user_id": user_id})
            raise PasskeyInvalidError()
        if not self.repo.used(passkey, count, auth_data.is_backed_up(), self.clock()):
            raise PasskeyInvalidError()  # the same signature (or a clone) counted first
        record = record_of(user_item)
        if record.user.status != "active":
            raise UserDisabledError()
        return record

    def sign_in(
        self,
        challenge_id: str,
        credential: Mapping[str, Any],
        app_name: str | None,
        rp: RelyingParty,
        client: ClientInfo,
    ) -> SignedIn:
        """A passkey sign-in to ``app_name``: the usual login data; no TOTP step (it is two factors).

        Raises:
            as :meth:`authenticate`.
        """
        found = self.authenticate(challenge_id, credential, rp)
        app = self.accounts.apps.resolve(app_name)
        record = self.accounts.users.load(found.user.user_id, apps=[app])  # with the app's role definitions
        if record is None:
            raise PasskeyInvalidError()

        def active(current: UserRecord) -> None:
            if current.user.status != "active":
                raise UserDisabledError()

        return self.accounts.sign_in(record, app, client, "passkey_login", active, mfa_due=False)


TRANSPORTS = ("usb", "nfc", "ble", "smart-card", "hybrid", "internal")


def _transports(credential: Mapping[str, Any]) -> list[str]:
    """The transports the browser reported (``response.transports``), the known ones only."""
    response = credential.get("response")
    listed = response.get("transports") if isinstance(response, Mapping) else None
    return [t for t in TRANSPORTS if isinstance(listed, list) and t in listed]


def _parse(kind: Any, credential: Mapping[str, Any]) -> Any:
    """A WebAuthn JSON response; anything malformed is the client's error (a 400, never a 500)."""
    try:
        return kind.from_dict(credential)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise PasskeyInvalidError() from exc
