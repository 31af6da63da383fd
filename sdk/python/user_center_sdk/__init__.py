"""Helpers for services that use the user center.

* Behind API Gateway with the user center's authorizer: :func:`current_user` reads the request context,
  and :func:`require_role`, :func:`require_roles`, :func:`require_permission` guard a Lambda handler.
* Elsewhere: :class:`JwksVerifier` checks access tokens offline against the published JWKS.

Copy this package into your function (or install it from this repository's ``sdk/python``).
"""

from user_center_sdk.context import (
    CurrentUser,
    Forbidden,
    NotAuthenticated,
    current_user,
    require_permission,
    require_role,
    require_roles,
)
from user_center_sdk.jwks import InvalidToken, JwksVerifier

__all__ = [
    "CurrentUser",
    "Forbidden",
    "InvalidToken",
    "JwksVerifier",
    "NotAuthenticated",
    "current_user",
    "require_permission",
    "require_role",
    "require_roles",
]
