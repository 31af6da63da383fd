"""The public keys (JWKS, RFC 7517) and the image captcha: public, cacheable reads."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared import http
from shared.container import get_services
from shared.observability import tracer
from shared.views import Captcha

router = http.router()


@router.get("/.well-known/jwks.json", **http.raw_route("json"))
def jwks() -> Response[str]:
    """The signing keys' public halves (the current key and, during a rotation, the previous one)."""
    response = http.raw(get_services().tokens.keys.ring().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@router.get("/api/auth/captcha", **http.answers(Captcha))
@tracer.capture_method
def captcha() -> Response[str]:
    """A new image captcha (single use, 5 minutes)."""
    return http.ok(router, Captcha(**get_services().captchas.new()), no_store=True)
