"""Captcha answers: ``CAPTCHA#<key>`` items, written once and consumed with a conditional delete."""

from __future__ import annotations

from pynamodb.exceptions import DeleteError

from shared.db import keys
from shared.db.models import CaptchaItem
from shared.db.table import Table, is_condition_failure


class CaptchaRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, captcha_key: str, answer_hash: str, expires_at: float) -> None:
        CaptchaItem(
            pk=keys.captcha_pk(captcha_key),
            sk=keys.CAPTCHA,
            answer_hash=answer_hash,
            expires_at=int(expires_at),
            ttl=int(expires_at),
        ).save()

    def consume(self, captcha_key: str, answer_hash: str, now: float) -> bool:
        """True once for the right, unexpired answer; any attempt burns the captcha."""
        item = CaptchaItem(pk=keys.captcha_pk(captcha_key), sk=keys.CAPTCHA)
        try:
            item.delete(condition=(CaptchaItem.answer_hash == answer_hash) & (CaptchaItem.expires_at > int(now)))
            return True
        except DeleteError as exc:
            if not is_condition_failure(exc):
                raise
        item.delete()  # a wrong or late answer uses the captcha up too
        return False
