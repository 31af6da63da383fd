"""URL inputs (shared/urls.py): origins for allow-lists and the origin of a callback URL (issue 16)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared.errors import ValidationError
from shared.urls import has_control_chars, parse_origin, url_origin


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://a.example", "https://a.example"),
        ("HTTPS://A.Example:443/", "https://a.example"),
        ("http://a.example:80", "http://a.example"),
        ("https://a.example:8443", "https://a.example:8443"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://[0:0::1]", "http://[::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        (" https://a.example ", "https://a.example"),
    ],
)
def test_origins_are_normalised(text: str, origin: str) -> None:
    # Given an origin as an admin may type it / When it is parsed / Then it has one canonical form
    assert parse_origin(text) == origin


@pytest.mark.parametrize(
    "text",
    [
        "https://a.example:99999",  # urllib raises ValueError when .port is read
        "https://[::1",  # urlsplit raises ValueError
        "https://a.example:0",
        "https://a.example:http",
        "https://a.example\r\nSet-Cookie: x=1",
        "https://a.example\t",
        "https://user@a.example",
        "https://user:pw@a.example",
        "https://@a.example",
        "https://a.example/path",
        "https://a.example?",
        "https://a.example?x=1",
        "https://a.example#top",
        "https://a.example\\@evil.example",
        "https://a b.example",
        "https://%65vil.example",
        "https://a..example",
        "http://[v1.fe]",
        "http://[fe80::1%25eth0]",
        "ftp://a.example",
        "javascript:alert(1)",
        "//a.example",
        "a.example",
        "",
    ],
)
def test_anything_but_an_http_origin_is_a_validation_error(text: str) -> None:
    # Given text that is not an http(s) origin / When it is parsed / Then the error names the field
    with pytest.raises(ValidationError) as refused:
        parse_origin(text, field="origins")
    assert list((refused.value.errors or {}).keys()) == ["origins"]


def test_the_default_field_is_allowed_callback_origins() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_origin("https://a.example:99999")
    assert "allowed_callback_origins" in (refused.value.errors or {})


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://a.example/cb?x=1#y", "https://a.example"),
        ("https://A.example:443/cb", "https://a.example"),
        ("http://localhost:5173/after-login", "http://localhost:5173"),
        ("https://a.example:99999/cb", None),
        ("https://[::1/cb", None),
        ("https://a.example/cb\r\nSet-Cookie: x=1", None),
        ("https://a.example/cb\nx", None),
        ("https://good.example\\@evil.example/", None),  # browsers see good.example, urllib evil.example
        ("https://good.example@evil.example/", None),
        ("javascript://a.example/%0Aalert(1)", None),
        ("/relative/path", None),
    ],
)
def test_url_origin(url: str, origin: str | None) -> None:
    assert url_origin(url) == origin


@pytest.mark.parametrize("char", [chr(c) for c in range(0x20)] + ["\x7f"])
def test_every_c0_control_and_del_counts(char: str) -> None:
    assert has_control_chars(f"https://a.example/{char}") is True


def test_printable_and_non_ascii_text_has_no_control_chars() -> None:
    assert has_control_chars("https://bücher.example/页面?q=a b~") is False


@given(st.text(max_size=200))
@example("https://a.example:99999")
@example("https://[::1")
@example("http://[::ffff:1.2.3.4%x]")
@example("https://\udcff.example")
@example("https://" + "a" * 64 + ".example")
def test_parse_origin_never_raises_anything_but_validation_error(text: str) -> None:
    # Given arbitrary text / When it is parsed as an origin
    try:
        origin = parse_origin(text)
    except ValidationError:
        return
    # Then it either failed cleanly or is a fixed point of normalisation, with no control characters
    assert parse_origin(origin) == origin and not has_control_chars(origin)


@given(st.text(max_size=200))
@example("https://a.example:99999/x")
@example("https://[::1/x")
def test_url_origin_never_raises(text: str) -> None:
    origin = url_origin(text)
    assert origin is None or parse_origin(origin) == origin


_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)


@given(
    host=_hosts,
    path=st.text(max_size=30),
    breaker=st.sampled_from(["\r", "\n", "\r\n", "\t", "\x00", "\x7f"]),
    where=st.integers(min_value=0, max_value=3),
)
def test_a_url_with_cr_or_lf_never_yields_an_origin(host: str, path: str, breaker: str, where: int) -> None:
    # Given a valid callback URL with a control character put anywhere in it
    url = f"https://{host}/{path}"
    position = [len("https://"), len(url), len(f"https://{host}"), len(f"https://{host}/")][where]
    hostile = url[:position] + breaker + url[position:]
    # When its origin is asked for / Then there is none, so no allow-list can match it
    assert url_origin(hostile) is None
    with pytest.raises(ValidationError):
        parse_origin(f"https://{host}{breaker}")
