"""Image captchas (API.md section 4): a key and a PNG data URL; single use, 5 minutes.

The picture is drawn by ``shared.services.captcha_image`` (no imaging library: a PNG written with zlib).
Answers are compared case-insensitively and stored as a hash bound to their key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from shared.clock import Clock, IdFactory, new_id, system_clock
from shared.db.captchas import CaptchaRepository
from shared.errors import CaptchaInvalidError

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: people read these pictures
LENGTH = 4


def answer_hash(captcha_key: str, answer: str) -> str:
    return hashlib.sha256(f"{captcha_key}:{answer.strip().upper()}".encode()).hexdigest()


class CaptchaService:
    def __init__(
        self, repository: CaptchaRepository, ttl: int = 300, clock: Clock = system_clock, ids: IdFactory = new_id
    ) -> None:
        self.repository = repository
        self.ttl = ttl
        self.clock = clock
        self.ids = ids

    def new(self) -> dict[str, str]:
        """``{captcha_key, image}`` with the image as ``data:image/png;base64,...``."""
        from shared.services.captcha_image import picture

        answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        key = self.ids()
        png = picture(answer)
        self.repository.put(key, answer_hash(key, answer), self.clock() + self.ttl)
        return {"captcha_key": key, "image": "data:image/png;base64," + base64.b64encode(png).decode("ascii")}

    def check(self, captcha_key: str | None, answer: str | None) -> None:
        """Consume the captcha.

        Raises:
            CaptchaInvalidError: missing, wrong, used or expired.
        """
        if not captcha_key or not answer or len(captcha_key) > 64:
            raise CaptchaInvalidError()
        if not self.repository.consume(captcha_key, answer_hash(captcha_key, answer), self.clock()):
            raise CaptchaInvalidError()
