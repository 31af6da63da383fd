"""URL inputs from clients and admins: origins (``allowed_callback_origins``), callback URLs and the
redirect URIs of OAuth clients.

Small pure functions, so every place that takes a URL refuses the same things: control characters (a
``callbackUrl`` with CR LF would split the ``Location`` header), userinfo (``https://good@evil``),
backslashes (browsers read ``\\`` as ``/``, urllib does not, so the two would see different hosts),
ports out of range and malformed IPv6 literals (urllib raises ``ValueError`` on those, which must
become a 4xx, never a 500).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from shared.errors import ValidationError

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# A DNS name after IDNA: dot-separated labels of letters, digits, "-" and "_" (some internal hosts use it).
_LABEL_RE = re.compile(r"[a-z0-9_-]{1,63}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds a C0 control character (CR, LF, TAB, NUL, ...) or DEL."""
    return _CONTROL_RE.search(text) is not None


def _host(parts: SplitResult) -> str | None:
    """The normalised host of ``parts`` (lower-cased, IDNA, IPv6 in brackets), or None when invalid."""
    hostname = parts.hostname
    if not hostname:
        return None
    if "[" in parts.netloc or ":" in hostname:  # a bracketed literal must be IPv6 (not IPvFuture)
        try:
            address = ipaddress.IPv6Address(hostname)
        except ValueError:
            return None
        # Zone ids ("%eth0") name an interface of one machine; browsers refuse them in URLs.
        return None if address.scope_id is not None else f"[{address.compressed}]"
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    ascii_host = ascii_host.lower()
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    return ascii_host


def _origin_of(parts: SplitResult) -> str | None:
    """``scheme://host[:port]`` of split URL parts, or None when they do not name an http(s) origin."""
    if parts.scheme not in _DEFAULT_PORTS or "@" in parts.netloc:
        return None
    host = _host(parts)
    if host is None:
        return None
    try:
        port = parts.port  # ValueError when out of range or not a number
    except ValueError:
        return None
    if port == 0:
        return None
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def _split(text: str) -> SplitResult | None:
    if has_control_chars(text) or "\\" in text:
        return None
    try:
        return urlsplit(text)
    except ValueError:  # e.g. "https://[::1" (an unclosed IPv6 bracket)
        return None


def parse_origin(text: str, field: str = "allowed_callback_origins") -> str:
    """The normalised origin ``scheme://host[:port]`` of ``text`` (lower-cased host, default port dropped).

    Only an origin is accepted: a path other than ``/``, a query, a fragment or userinfo is refused,
    so an allow-list entry never means more than it says.

    Raises:
        ValidationError: ``text`` is not an http(s) origin; ``errors`` names ``field``.
    """
    message = f"not an origin (scheme://host[:port]): {text[:100]!r}"
    stripped = text.strip(" ")
    if "?" in stripped or "#" in stripped:
        raise ValidationError({field: [message]})
    parts = _split(stripped)
    if parts is None or parts.path not in ("", "/"):
        raise ValidationError({field: [message]})
    origin = _origin_of(parts)
    if origin is None:
        raise ValidationError({field: [message]})
    return origin


def url_origin(url: str) -> str | None:
    """The origin of a full http(s) URL, to compare with an allow-list; None when it is not one (or holds
    control characters, a backslash or userinfo)."""
    parts = _split(url)
    return None if parts is None else _origin_of(parts)


_LOOPBACK = ("127.0.0.1", "[::1]", "localhost")
_NATIVE_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+")  # reverse domain: com.example.app (RFC 8252)


def parse_redirect_uri(text: str, field: str = "redirect_uris") -> str:
    """A client's redirect URI as registered: matched exactly later, so it is kept as given once checked.

    Accepted (OAuth 2.0 Security BCP, RFC 8252): ``https://`` URLs, ``http://`` on a loopback host only,
    and a native app's private-use scheme in reverse-domain form (``com.example.app:/callback``). Refused:
    fragments, userinfo, control characters, backslashes, wildcards, anything above 512 characters.

    Raises:
        ValidationError: naming ``field``.
    """
    message = f"not a redirect URI (https, http on loopback, or com.example.app:/path): {text[:100]!r}"
    if len(text) > 512 or "#" in text or "*" in text:
        raise ValidationError({field: [message]})
    parts = _split(text)
    if parts is None:
        raise ValidationError({field: [message]})
    if parts.scheme in ("http", "https"):
        origin = _origin_of(parts)
        if origin is None or (parts.scheme == "http" and _host(parts) not in _LOOPBACK):
            raise ValidationError({field: [message]})
        return text
    if _NATIVE_SCHEME_RE.fullmatch(parts.scheme) and not parts.netloc and "@" not in text:
        return text
    raise ValidationError({field: [message]})
