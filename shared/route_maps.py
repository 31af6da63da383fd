"""Which route map applies to a request: the authorizer serves its own API and other teams' APIs.

* Its own API's map is built from template.yaml into ``routes.json`` (or given as ``ROUTE_REQUIREMENTS``).
* Another stack that attaches the exported authorizer registers its map as the SSM parameter
  ``<prefix>/<apiId>`` (``ROUTE_MAPS_PARAMETER_PREFIX``, ``/user-center/<stage>/routes``), which its own
  template creates (examples/consumer-api/template.yaml). The API id comes from the method ARN.
* ``ROUTE_MAPS`` (JSON ``{apiId: map}``) gives maps inline: local mode and tests.

Lookups are cached per API id for ``max_age`` seconds, including "no parameter" answers. Only a missing
parameter falls back to the own map; any other SSM failure fails the request (closed), since applying
the wrong map could open routes of another API.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from shared.authorizer import RouteRequirement, parse_requirements
from shared.clock import Clock, system_clock
from shared.errors import ConfigurationError

Routes = list[RouteRequirement]


def api_id_of(method_arn: str) -> str:
    """``abc123`` of ``arn:aws:execute-api:region:account:abc123/stage/GET/path``."""
    return method_arn.split("/", 1)[0].rsplit(":", 1)[-1]


def _default_ssm_client() -> Any:
    import boto3

    return boto3.client("ssm")


class RouteMaps:
    def __init__(
        self,
        own: Callable[[], Routes],
        *,
        inline: str | None = None,
        parameter_prefix: str | None = None,
        max_age: int = 300,
        clock: Clock = system_clock,
        ssm_client: Callable[[], Any] = _default_ssm_client,
    ) -> None:
        self._own = own
        self._inline = self._parse_inline(inline)
        self._prefix = (parameter_prefix or "").rstrip("/") or None
        self._max_age = max_age
        self._clock = clock
        self._client_factory = ssm_client
        self._client: Any = None
        self._cache: dict[str, tuple[float, Routes | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _parse_inline(inline: str | None) -> dict[str, Routes]:
        if not inline:
            return {}
        try:
            maps = json.loads(inline)
            return {str(api): parse_requirements(routes) for api, routes in maps.items()}
        except (ValueError, AttributeError) as exc:
            raise ConfigurationError("ROUTE_MAPS must be a JSON object of route maps") from exc

    def for_api(self, api_id: str) -> Routes:
        """The route map of ``api_id``.

        Raises:
            ConfigurationError: a registered map is invalid, or SSM failed other than "not found".
        """
        if api_id in self._inline:
            return self._inline[api_id]
        if self._prefix is None:
            return self._own()
        now = self._clock()
        with self._lock:
            hit = self._cache.get(api_id)
        if hit is None or hit[0] <= now:
            registered = self._fetch(api_id)
            with self._lock:
                self._cache[api_id] = (now + self._max_age, registered)
        else:
            registered = hit[1]
        return registered if registered is not None else self._own()

    def _fetch(self, api_id: str) -> Routes | None:
        if self._client is None:
            self._client = self._client_factory()
        name = f"{self._prefix}/{api_id}"
        try:
            value = self._client.get_parameter(Name=name)["Parameter"]["Value"]
        except self._client.exceptions.ParameterNotFound:
            return None
        except Exception as exc:  # any other failure must not fall back to another API's map
            raise ConfigurationError(f"cannot read the route map {name}: {type(exc).__name__}") from exc
        return parse_requirements(value)
