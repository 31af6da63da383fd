"""Sign-in abuse protection (API.md section 7): lockout after failures, captcha when the app asks."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import pytest

from shared.container import Services
from shared.domain import ClientInfo
from shared.errors import CaptchaInvalidError, InvalidCredentialsError, RateLimitedError
from shared.schemas import AppBody
from shared.services.accounts import SignedIn
from shared.services.captcha import answer_hash
from tests.fakes.clock import FakeClock
from tests.unit.helpers import PASSWORD, user_info_of

SignUp = Callable[..., SignedIn]


def login(services: Services, who: str, password: str = PASSWORD, **kwargs: str) -> SignedIn:
    return services.accounts.login(who, password, kwargs.pop("app_name", None), ClientInfo(), **kwargs)


def test_five_failures_lock_the_identifier_even_for_the_right_password(
    services: Services, sign_up: SignUp, clock: FakeClock
) -> None:
    sign_up("alice")
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    with pytest.raises(RateLimitedError) as locked:
        login(services, "ALICE")  # same identifier, case-insensitive, right password
    assert 890 <= locked.value.data["retry_after"] <= 900
    assert locked.value.headers["Retry-After"] == str(locked.value.data["retry_after"])
    # When the window passes, the right password works and the count starts again
    clock.advance(901)
    assert user_info_of(login(services, "alice"))["username"] == "alice"
    for _ in range(4):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    assert user_info_of(login(services, "alice"))["username"] == "alice"  # 4 failures: still allowed


def test_unknown_identifiers_are_counted_and_answered_the_same(services: Services) -> None:
    errors = []
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError) as caught:
            login(services, "nobody", "whatever1")
        errors.append(caught.value.code)
    assert errors == ["INVALID_CREDENTIALS"] * 5
    with pytest.raises(RateLimitedError):
        login(services, "nobody", "whatever1")


def test_a_success_clears_earlier_failures(services: Services, sign_up: SignUp) -> None:
    sign_up("alice")
    for _ in range(4):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    login(services, "alice")
    for _ in range(4):
        with pytest.raises(InvalidCredentialsError):
            login(services, "alice", "wrong-password")
    assert user_info_of(login(services, "alice"))["username"] == "alice"


def test_captcha_is_required_single_use_and_expires(services: Services, sign_up: SignUp, clock: FakeClock) -> None:
    sign_up("alice")
    services.apps.update("app0", AppBody(**{"require_captcha": True}))
    repo = services.captchas.repository

    def known(key: str, answer: str = "AB3K") -> None:
        repo.put(key, answer_hash(key, answer), clock() + 300)

    with pytest.raises(CaptchaInvalidError):
        login(services, "alice")
    known("k1")
    with pytest.raises(CaptchaInvalidError):
        login(services, "alice", captcha_key="k1", captcha_code="ZZZZ")
    with pytest.raises(CaptchaInvalidError):  # a wrong answer used it up
        login(services, "alice", captcha_key="k1", captcha_code="AB3K")
    known("k2")
    assert user_info_of(login(services, "alice", captcha_key="k2", captcha_code="ab3k"))["username"] == "alice"
    with pytest.raises(CaptchaInvalidError):  # single use
        login(services, "alice", captcha_key="k2", captcha_code="AB3K")
    known("k3")
    clock.advance(301)
    with pytest.raises(CaptchaInvalidError):
        login(services, "alice", captcha_key="k3", captcha_code="AB3K")


def test_new_captcha_is_a_png_data_url_with_a_stored_answer(services: Services, scan_table) -> None:
    from PIL import Image

    made = services.captchas.new()
    prefix = "data:image/png;base64,"
    assert made["image"].startswith(prefix)
    png = base64.b64decode(made["image"][len(prefix) :])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (160, 60)
    stored = [i for i in scan_table() if i["PK"] == f"CAPTCHA#{made['captcha_key']}"]
    assert len(stored) == 1 and "answer" not in stored[0] and len(stored[0]["answer_hash"]) == 64


def test_captcha_pictures_are_whole_pngs_with_ink_in_every_character_cell() -> None:
    from PIL import Image

    from shared.services.captcha import ALPHABET
    from shared.services.captcha_image import FONT, WIDTH, picture

    assert set(ALPHABET) == set(FONT)  # every answer character can be drawn
    first, second = picture("7KQ3"), picture("7KQ3")
    assert first != second  # drawn afresh each time
    image = Image.open(io.BytesIO(first))
    image.load()  # the whole stream decodes (CRCs, deflate)
    assert (image.mode, image.size) == ("RGB", (160, 60))
    pixels = image.load()
    for cell in range(4):  # each quarter holds dark strokes of its character
        xs = range(int(WIDTH / 4.6 * (cell + 0.3)), int(WIDTH / 4.6 * (cell + 1.3)))
        dark = sum(1 for x in xs for y in range(10, 50) if sum(pixels[x, y]) < 330)
        assert dark > 300, (cell, dark)  # noise alone darkens about 150 there; a character 400 to 750
